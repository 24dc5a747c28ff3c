/**
 * `POST /hooks/github` through `app.fetch`, mounted in the API app as `dreamos serve` mounts it:
 * signed deliveries (GitHub's published test vector, forged and missing signatures), duplicate
 * delivery ids, the label rule, unknown repositories, hostile titles and bodies, the size cap,
 * ping; the comment back on a done task against a fake GitHub on 127.0.0.1; and the scout's polling
 * of the same repositories, which finds a delivery never made and makes no second task.
 */
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../../../src/api/app.js';
import { EventHub } from '../../../../src/api/event-hub.js';
import { Config } from '../../../../src/config.js';
import type { DreamEvent } from '../../../../src/events.js';
import { startCommentBack } from '../../../../src/github/comments.js';
import { GithubConfig } from '../../../../src/github/config.js';
import { githubHook } from '../../../../src/github/hook.js';
import { signatureValid } from '../../../../src/github/secret.js';
import { initWorkspace, type Workspace } from '../../../../src/index.js';
import { runScout, scoutSources } from '../../../../src/scout/run.js';
import { delivery, type FakeGithub, issuesPayload, startFakeGithub } from '../../../helpers/github-fake.js';
import { tempDir } from '../../../helpers/workspace.js';
import { MemoryTokens } from '../api/memory-tokens.js';

const SECRET = 'a webhook secret for tests';
const REPO = 'acme/widgets';

let fake: FakeGithub;
beforeAll(async () => {
  fake = await startFakeGithub();
});
afterAll(async () => {
  await fake.close();
});

const opened: { tmp: ReturnType<typeof tempDir>; ws: Workspace }[] = [];
afterEach(async () => {
  for (const { tmp, ws } of opened.splice(0)) {
    await ws.close();
    tmp.cleanup();
  }
  fake.comments.length = 0;
  fake.issues.clear();
});

/** A workspace whose config has this github section, and the API app with the hook mounted. */
async function setup(github: Record<string, unknown> = {}, options: { secret?: string | null } = {}) {
  const tmp = tempDir('dreamos-github-');
  const section = { repos: [REPO], ...github };
  const ws = await initWorkspace({
    dir: tmp.dir,
    config: { github: section, scout: { githubBaseUrl: fake.url } } as never,
  });
  opened.push({ tmp, ws });
  const lines: string[] = [];
  const hooks = githubHook({
    workspace: ws,
    config: GithubConfig.parse(section),
    ...(options.secret === null ? {} : { secret: options.secret ?? SECRET }),
    maxBodyBytes: 2 * 1024 * 1024,
    log: (line) => lines.push(line),
  });
  const app = createApp({ workspace: ws, tokens: new MemoryTokens(), hooks });
  const send = async (d: { body: string; headers: Record<string, string> }) => {
    const response = await app.fetch(
      new Request('http://127.0.0.1/hooks/github', { method: 'POST', headers: d.headers, body: d.body }),
    );
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const tasks = () => {
    ws.refresh();
    return ws.listTasks().filter((t) => t.dedupeKey?.startsWith('gh:'));
  };
  return { ws, app, send, tasks, lines, tmp };
}

const issue = (number: number, title = `issue ${number}`, labels: string[] = []) => ({
  number,
  title,
  labels,
});

describe('the github section', () => {
  const config = (github: unknown, scout: unknown = {}) =>
    Config.safeParse({ schemaVersion: 1, agents: [], github, scout });

  it('refuses no repository, a bad name, a role no agent has and a secret in the config', () => {
    expect(config({ repos: [] }).success).toBe(false);
    expect(config({ repos: ['acme/..'] }).success).toBe(false);
    expect(config({ repos: [REPO], role: 'ghost' }).error?.issues[0]?.message).toBe(
      'no agent has the role or id ghost',
    );
    expect(config({ repos: [REPO], secret: 'x' }).success).toBe(false);
  });

  it('adds a polling source for each repository the scout does not poll already', () => {
    const parsed = config(
      { repos: [REPO, 'acme/gadgets'], label: 'dreamos', pollInterval: '5m' },
      { sources: [{ id: 'mine', kind: 'github-issues', repo: 'ACME/gadgets' }] },
    );
    const sources = scoutSources(parsed.data!);
    expect(sources.map((s) => s.id)).toEqual(['mine', 'github-acme-widgets']);
    expect(sources[1]).toMatchObject({
      kind: 'github-issues',
      repo: REPO,
      labels: ['dreamos'],
      interval: 300,
      tokenEnv: 'DREAMOS_GITHUB_TOKEN',
    });
    expect(scoutSources(config({ repos: [REPO], poll: false }).data!)).toEqual([]);
  });
});

describe('the signature', () => {
  it("matches GitHub's published test vector, and nothing else", () => {
    const body = new TextEncoder().encode('Hello, World!');
    const vector = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
    expect(signatureValid("It's a Secret to Everybody", body, vector)).toBe(true);
    expect(
      signatureValid("It's a Secret to Everybody", new TextEncoder().encode('Hello, World?'), vector),
    ).toBe(false);
    expect(signatureValid('another secret', body, vector)).toBe(false);
    expect(signatureValid("It's a Secret to Everybody", body, vector.slice(0, -2))).toBe(false);
    expect(signatureValid("It's a Secret to Everybody", body, vector.replace('sha256=', 'sha1='))).toBe(
      false,
    );
    expect(signatureValid("It's a Secret to Everybody", body, undefined)).toBe(false);
  });
});

describe('POST /hooks/github', () => {
  it('turns an opened issue into one task waiting for approval, with no bearer token', async () => {
    const { send, tasks } = await setup();
    const answer = await send(
      delivery(SECRET, 'issues', issuesPayload(REPO, 'opened', issue(7, 'Fix the frobnicator'))),
    );
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ outcome: 'created' });
    const [task, ...more] = tasks();
    expect(more).toEqual([]);
    expect(task).toMatchObject({
      id: answer.body.task,
      title: 'Fix the frobnicator',
      source: 'webhook',
      dedupeKey: `gh:${REPO}#7`,
      status: 'backlog',
      approval: { status: 'pending' },
      tags: ['github'],
    });
    expect(task!.prompt).toContain(`Issue: https://github.com/${REPO}/issues/7`);
  });

  it('lets the policy approve deliveries at once', async () => {
    const tmp = tempDir('dreamos-github-auto-');
    const ws = await initWorkspace({
      dir: tmp.dir,
      config: { github: { repos: [REPO] }, policies: { approval: { webhook: 'auto' } } } as never,
    });
    opened.push({ tmp, ws });
    const app = createApp({
      workspace: ws,
      tokens: new MemoryTokens(),
      hooks: githubHook({ workspace: ws, config: ws.config.github!, secret: SECRET }),
    });
    const d = delivery(SECRET, 'issues', issuesPayload(REPO, 'opened', issue(1)));
    const response = await app.fetch(
      new Request('http://127.0.0.1/hooks/github', { method: 'POST', headers: d.headers, body: d.body }),
    );
    expect(response.status).toBe(202);
    const { task } = (await response.json()) as { task: string };
    expect(ws.getTask(task)).toMatchObject({
      status: 'ready',
      approval: { status: 'approved', by: 'policy' },
    });
  });

  it('refuses a forged or missing signature with 401 and makes nothing', async () => {
    const { send, tasks } = await setup();
    const good = delivery(SECRET, 'issues', issuesPayload(REPO, 'opened', issue(1)));
    const forged = delivery('not the secret', 'issues', issuesPayload(REPO, 'opened', issue(1)));
    expect((await send(forged)).status).toBe(401);
    const tampered = { ...good, body: good.body.replace('issue 1', 'issue 2') };
    expect((await send(tampered)).status).toBe(401);
    const { 'x-hub-signature-256': _, ...unsigned } = good.headers;
    const missing = await send({ body: good.body, headers: unsigned });
    expect(missing.status).toBe(401);
    expect(missing.body.detail).toMatch(/X-Hub-Signature-256/);
    // An unsigned request is refused before its body is read, however large it is.
    const unsignedBig = await send({ body: 'x'.repeat(3 * 1024 * 1024), headers: unsigned });
    expect(unsignedBig.status).toBe(401);
    expect(tasks()).toEqual([]);
    // The same delivery, signed, still goes through: the refusals did not record its id.
    expect((await send(good)).body).toMatchObject({ outcome: 'created' });
  });

  it('accepts nothing without a secret: 503 saying what to set', async () => {
    const saved = process.env.DREAMOS_GITHUB_WEBHOOK_SECRET;
    delete process.env.DREAMOS_GITHUB_WEBHOOK_SECRET;
    try {
      const { send, tasks } = await setup({}, { secret: null });
      const answer = await send(delivery('', 'issues', issuesPayload(REPO, 'opened', issue(1))));
      expect(answer.status).toBe(503);
      expect(answer.body.detail).toMatch(/DREAMOS_GITHUB_WEBHOOK_SECRET/);
      expect(tasks()).toEqual([]);
    } finally {
      if (saved !== undefined) process.env.DREAMOS_GITHUB_WEBHOOK_SECRET = saved;
    }
  });

  it('reads the secret from a file that is yours and private, and refuses one others may read', async () => {
    const saved = process.env.DREAMOS_GITHUB_WEBHOOK_SECRET;
    delete process.env.DREAMOS_GITHUB_WEBHOOK_SECRET;
    try {
      const first = await setup({ secretFile: 'github-secret' }, { secret: null });
      const file = path.join(first.ws.paths.home, 'github-secret');
      fs.writeFileSync(file, `${SECRET}\n`, { mode: 0o644 });
      fs.chmodSync(file, 0o644);
      const hook = githubHook({ workspace: first.ws, config: first.ws.config.github! });
      const d = delivery(SECRET, 'ping', { zen: 'hi' });
      const post = () =>
        hook.fetch(
          new Request('http://127.0.0.1/github', { method: 'POST', headers: d.headers, body: d.body }),
        );
      const loose = await post();
      expect(loose.status).toBe(503);
      expect(((await loose.json()) as { detail: string }).detail).toMatch(/chmod 600/);
      fs.chmodSync(file, 0o600);
      const hook2 = githubHook({ workspace: first.ws, config: first.ws.config.github! });
      const ok = await hook2.fetch(
        new Request('http://127.0.0.1/github', { method: 'POST', headers: d.headers, body: d.body }),
      );
      expect(ok.status).toBe(200);
    } finally {
      if (saved !== undefined) process.env.DREAMOS_GITHUB_WEBHOOK_SECRET = saved;
    }
  });

  it('answers a repeated delivery id without a second task, and a second delivery of the issue with its task', async () => {
    const { send, tasks } = await setup();
    const d = delivery(SECRET, 'issues', issuesPayload(REPO, 'opened', issue(3)));
    const first = await send(d);
    expect(first.body.outcome).toBe('created');
    expect(await send(d)).toMatchObject({ status: 202, body: { outcome: 'duplicate' } });
    const again = await send(delivery(SECRET, 'issues', issuesPayload(REPO, 'opened', issue(3))));
    expect(again.body).toMatchObject({ outcome: 'exists', task: first.body.task });
    expect(tasks()).toHaveLength(1);
  });

  it('sets a damaged delivery store aside and goes on', async () => {
    const { ws, send, lines } = await setup();
    fs.mkdirSync(path.join(ws.paths.home, 'github'), { recursive: true });
    fs.writeFileSync(path.join(ws.paths.home, 'github', 'deliveries.json'), '{"schemaVersion": 1, "deli');
    const d = delivery(SECRET, 'issues', issuesPayload(REPO, 'opened', issue(5)));
    expect((await send(d)).body.outcome).toBe('created');
    expect(lines.join('\n')).toMatch(/moved to .*quarantine/);
    expect(fs.readdirSync(ws.paths.quarantineDir).some((f) => f.includes('deliveries'))).toBe(true);
    expect((await send(d)).body.outcome).toBe('duplicate');
  });

  it('with a label configured, takes issues opened with it or labelled with it, and no others', async () => {
    const { send, tasks } = await setup({ label: 'dreamos' });
    const outcome = async (payload: unknown) => (await send(delivery(SECRET, 'issues', payload))).body;
    expect(await outcome(issuesPayload(REPO, 'opened', issue(1)))).toMatchObject({ outcome: 'ignored' });
    expect(await outcome(issuesPayload(REPO, 'labeled', issue(1, 'one', ['bug']), 'bug'))).toMatchObject({
      outcome: 'ignored',
    });
    expect(
      await outcome(issuesPayload(REPO, 'labeled', issue(1, 'one', ['DreamOS']), 'DreamOS')),
    ).toMatchObject({
      outcome: 'created',
    });
    expect(await outcome(issuesPayload(REPO, 'opened', issue(2, 'two', ['dreamos'])))).toMatchObject({
      outcome: 'created',
    });
    expect(await outcome(issuesPayload(REPO, 'closed', issue(3, 'three', ['dreamos'])))).toMatchObject({
      outcome: 'ignored',
    });
    expect(
      tasks()
        .map((t) => t.dedupeKey)
        .sort(),
    ).toEqual([`gh:${REPO}#1`, `gh:${REPO}#2`]);
  });

  it('ignores other repositories, pull requests and other events, and says so in its log', async () => {
    const { send, tasks, lines } = await setup();
    const other = await send(delivery(SECRET, 'issues', issuesPayload('evil/repo', 'opened', issue(1))));
    expect(other).toMatchObject({ status: 202, body: { outcome: 'ignored' } });
    expect(lines.join('\n')).toMatch(/evil\/repo is not in github.repos/);
    const pr = issuesPayload(REPO, 'opened', issue(2));
    (pr.issue as Record<string, unknown>).pull_request = { url: 'x' };
    expect((await send(delivery(SECRET, 'issues', pr))).body.outcome).toBe('ignored');
    expect((await send(delivery(SECRET, 'push', { ref: 'refs/heads/main' }))).body.outcome).toBe('ignored');
    // The repository's name is compared without case, and the task is keyed as the config spells it.
    const upper = await send(delivery(SECRET, 'issues', issuesPayload('ACME/Widgets', 'opened', issue(4))));
    expect(upper.body.outcome).toBe('created');
    expect(tasks().map((t) => t.dedupeKey)).toEqual([`gh:${REPO}#4`]);
  });

  it('answers ping with 200 and makes nothing', async () => {
    const { send, tasks } = await setup();
    const answer = await send(delivery(SECRET, 'ping', { zen: 'Keep it logically awesome.', hook_id: 1 }));
    expect(answer).toMatchObject({ status: 200, body: { outcome: 'pong' } });
    expect(tasks()).toEqual([]);
  });

  it('cleans hostile titles and bounds a 1 MB body', async () => {
    const { send, tasks } = await setup();
    const title = `\u001b[2J\u001b]0;pwned\u0007Fix\u202e\nthe\tthing\u0000 ${'x'.repeat(1000)}`;
    const body = `\u001b[31mred\u001b[0m ${'y'.repeat(1024 * 1024)}`;
    const answer = await send(
      delivery(SECRET, 'issues', issuesPayload(REPO, 'opened', { number: 9, title, body })),
    );
    expect(answer.status).toBe(202);
    const [task] = tasks();
    expect(task!.title.startsWith('Fix the thing x')).toBe(true);
    expect(task!.title.length).toBeLessThanOrEqual(300);
    expect(task!.title).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
    expect(task!.prompt).not.toContain('\u001b');
    expect(task!.prompt).toContain('red y');
    expect(task!.prompt!.length).toBeLessThan(21_000);
  });

  it('refuses a body over the cap with 413, and bad headers or JSON with 400', async () => {
    const { send, tasks } = await setup();
    const big = delivery(SECRET, 'issues', {
      ...issuesPayload(REPO, 'opened', issue(1)),
      pad: 'z'.repeat(3 * 1024 * 1024),
    });
    expect((await send(big)).status).toBe(413);
    const noId = delivery(SECRET, 'issues', issuesPayload(REPO, 'opened', issue(1)));
    delete noId.headers['x-github-delivery'];
    expect((await send(noId)).status).toBe(400);
    const text = 'payload=%7B%7D';
    expect(
      (
        await send({
          body: text,
          headers: { ...delivery(SECRET, 'ping', {}).headers, 'x-hub-signature-256': signed(text) },
        })
      ).status,
    ).toBe(400);
    expect(tasks()).toEqual([]);
  });
});

const signed = (text: string) => `sha256=${createHmac('sha256', SECRET).update(text).digest('hex')}`;

/** Ask again until the answer is yes, up to a deadline. */
async function eventually(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the comment back', () => {
  it('posts one comment to the issue when its task is done, and never a second', async () => {
    const { ws, send } = await setup({ commentBack: 'summary' });
    const config = ws.config.github!;
    const hub = await EventHub.start(ws);
    const comments = startCommentBack({
      workspace: ws,
      hub,
      config,
      apiBaseUrl: fake.url,
      env: { DREAMOS_GITHUB_TOKEN: 'gh-test-token' },
    });
    try {
      const made = await send(delivery(SECRET, 'issues', issuesPayload(REPO, 'opened', issue(12, 'Do it'))));
      const other = await ws.addTask({ title: 'not from github', run: 'true' });
      const id = String(made.body.task);
      await ws.approve(id);
      for (const task of [id, other.id]) {
        await ws.claim('agent-2', { taskId: task });
        await ws.complete(task, { agent: 'agent-2', summary: 'Done: \u001b[31mfixed\u001b[0m' });
      }
      await eventually(() => fake.comments.length >= 1, 'the comment');
      await comments!.idle();
      expect(fake.comments).toEqual([
        {
          path: `/repos/${REPO}/issues/12/comments`,
          authorization: 'Bearer gh-test-token',
          body: `Dream.OS finished task ${id}: Do it\n\nDone: fixed`,
        },
      ]);
      // The same event again (a second serving process, a replay): no second comment.
      const replay: { fn?: (e: DreamEvent) => void } = {};
      const second = startCommentBack({
        workspace: ws,
        hub: {
          subscribe: (fn) => {
            replay.fn = fn;
            return () => undefined;
          },
        },
        config,
        apiBaseUrl: fake.url,
        env: { DREAMOS_GITHUB_TOKEN: 'gh-test-token' },
      });
      replay.fn!({ type: 'task.done', tasks: [{ id }] } as unknown as DreamEvent);
      await second!.idle();
      expect(fake.comments).toHaveLength(1);
    } finally {
      comments?.stop();
      hub.close();
    }
  });

  it('is off without a token, and says so', async () => {
    const { ws } = await setup({ commentBack: true });
    const lines: string[] = [];
    const hub = { subscribe: () => () => undefined };
    expect(
      startCommentBack({
        workspace: ws,
        hub,
        config: ws.config.github!,
        apiBaseUrl: fake.url,
        env: {},
        log: (l) => lines.push(l),
      }),
    ).toBeNull();
    expect(lines).toEqual([
      'github: commentBack is on but DREAMOS_GITHUB_TOKEN is not set: no comment is posted',
    ]);
  });
});

describe('reconciliation by the scout', () => {
  it('makes the task of a delivery never made, and no second task for one that came', async () => {
    const { ws, send, tasks } = await setup({ label: 'dreamos' });
    fake.issues.set(REPO, [issue(20, 'delivered', ['dreamos']), issue(21, 'never delivered', ['dreamos'])]);
    const delivered = await send(
      delivery(SECRET, 'issues', issuesPayload(REPO, 'opened', issue(20, 'delivered', ['dreamos']))),
    );
    expect(delivered.body.outcome).toBe('created');
    const run = await runScout(ws);
    expect(run.sources).toEqual([
      expect.objectContaining({
        id: 'github-acme-widgets',
        kind: 'github-issues',
        status: 'ok',
        duplicates: 1,
      }),
    ]);
    const keys = tasks()
      .map((t) => `${t.dedupeKey} ${t.source}`)
      .sort();
    expect(keys).toEqual([`gh:${REPO}#20 webhook`, `gh:${REPO}#21 scout`]);
    // The delivery of the issue the scout found, arriving late, adds nothing.
    const late = await send(
      delivery(
        SECRET,
        'issues',
        issuesPayload(REPO, 'labeled', issue(21, 'never delivered', ['dreamos']), 'dreamos'),
      ),
    );
    expect(late.body.outcome).toBe('exists');
    expect(tasks()).toHaveLength(2);
  });
});
