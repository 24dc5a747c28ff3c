/**
 * The Discord notifier through the notifier runner, against a fake Discord on 127.0.0.1: the
 * events come from a real workspace's journal (eventOf), fed by a fake event source. Waits the
 * notifier asks for are recorded, not spent, so no test depends on the clock.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventHub } from '../../../../src/api/event-hub.js';
import { type DreamEvent, eventOf } from '../../../../src/events.js';
import { initWorkspace, type Workspace } from '../../../../src/index.js';
import {
  planBounce,
  planCodeOpen,
  planMerged,
  planMergeStep,
  planReviewApprove,
} from '../../../../src/lifecycle/review.js';
import { discordFromConfig, discordNotifier } from '../../../../src/notify/discord.js';
import { startNotifiers } from '../../../../src/notify/runner.js';
import type { EventSource } from '../../../../src/notify/types.js';
import { tempDir } from '../../../helpers/workspace.js';

interface Posted {
  url: string;
  body: {
    content?: string;
    embeds: {
      title: string;
      description: string;
      color: number;
      fields?: { name: string; value: string }[];
    }[];
    allowed_mentions: { parse: string[] };
  };
}

/** A fake Discord: records each post; `answers` says how to answer the next ones (then 200). */
async function fakeDiscord() {
  const posts: Posted[] = [];
  const answers: ((res: http.ServerResponse) => void)[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      posts.push({ url: req.url ?? '', body: JSON.parse(body) });
      const answer = answers.shift();
      if (answer) return answer(res);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"1"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const token = 'sEcReT-tOkEn_0123456789';
  return {
    posts,
    answers,
    token,
    url: `http://127.0.0.1:${port}/api/webhooks/1234567890/${token}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A fake event source: the test decides when events arrive. */
function fakeSource() {
  const listeners = new Set<(e: DreamEvent) => void>();
  const source: EventSource = {
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
  const emit = (events: DreamEvent[]) => {
    for (const event of events) for (const listener of listeners) listener(event);
  };
  return { source, emit };
}

let tmp: ReturnType<typeof tempDir>;
let ws: Workspace;
let discord: Awaited<ReturnType<typeof fakeDiscord>>;
let logs: string[];
let waits: number[];

beforeEach(async () => {
  tmp = tempDir();
  ws = await initWorkspace({ dir: tmp.dir });
  discord = await fakeDiscord();
  logs = [];
  waits = [];
});
afterEach(async () => {
  await ws.close();
  await discord.close();
  tmp.cleanup();
});

const options = () => ({
  windowMs: 20,
  log: (line: string) => logs.push(line),
  sleep: async (ms: number) => {
    waits.push(ms);
  },
});

/** The events of every journal entry after `seq`. */
async function eventsAfter(seq: number): Promise<DreamEvent[]> {
  const events: DreamEvent[] = [];
  await ws.history.forEach((entry) => {
    if (entry.seq > seq) events.push(eventOf(entry));
  });
  return events;
}

/** Tasks that fail for good (one attempt each): dead letters. */
async function deadLetters(n: number, title = (i: number) => `job ${i}`) {
  for (let i = 0; i < n; i++) {
    const task = await ws.addTask({ title: title(i), role: 'agent-1', maxAttempts: 1 });
    await ws.claim('agent-1', { taskId: task.id });
    await ws.fail(task.id, { agent: 'agent-1', reason: `broke @everyone \u001b[31mred\u001b[0m ${i}` });
  }
}

const sha = (c: string) => c.repeat(40);

/**
 * A code task through its lifecycle with the planners the merge queue uses (no repository: the
 * commits are made up): claimed, its branch opened, its attempt ended with changes, approved, and
 * then merged at `end.merged`, or sent back with a conflict.
 */
async function codeTask(title: string, end: { merged: string } | 'conflict') {
  const task = await ws.addTask({ title, role: 'agent-1' });
  await ws.claim('agent-1', { taskId: task.id });
  await ws.apply((ctx) => planCodeOpen(ctx, task.id, { base: 'main', baseCommit: sha('a') }), 'agent-1');
  await ws.complete(task.id, { agent: 'agent-1', summary: `did ${title}`, codeHead: sha('b') });
  await ws.apply((ctx) => planReviewApprove(ctx, task.id));
  const step = { step: 'rebase' as const, onto: sha('a'), startedAt: new Date().toISOString() };
  await ws.apply((ctx) => planMergeStep(ctx, task.id, step), 'merge-queue');
  if (end === 'conflict')
    await ws.apply(
      (ctx) =>
        planBounce(
          ctx,
          task.id,
          { reason: 'merge-conflict', text: 'CONFLICT', files: ['x.txt'] },
          'merge-conflict',
        ),
      'merge-queue',
    );
  else await ws.apply((ctx) => planMerged(ctx, task.id, end), 'merge-queue');
  return task;
}

describe('the Discord notifier', () => {
  it('posts a merge by default, an embed per merged task with its branch and commit, and sums up a burst', async () => {
    const start = ws.view.seq;
    const one = await codeTask('Add one', { merged: sha('c') });
    const two = await codeTask('Add two', { merged: sha('d') });
    const { source, emit } = fakeSource();
    const run = startNotifiers(ws, source, [discordNotifier({ url: discord.url })], options());
    emit(await eventsAfter(start));
    await run.idle();
    expect(discord.posts).toHaveLength(1);
    const embeds = discord.posts[0]!.body.embeds;
    // Only the merges: entering review, approval and the queue's steps are not news on Discord.
    expect(embeds.map((e) => e.title)).toEqual([`${one.id} merged: Add one`, `${two.id} merged: Add two`]);
    expect(embeds[0]!.description).toBe(`dreamos/${one.id} into main at cccccccccccc\ndid Add one`);
    expect(embeds[0]!.fields).toContainEqual({ name: 'task', value: one.id, inline: true });

    const burst = ws.view.seq;
    for (let i = 0; i < 12; i++) await codeTask(`burst ${i}`, { merged: sha('e') });
    emit(await eventsAfter(burst));
    await run.idle();
    run.stop();
    expect(discord.posts).toHaveLength(2);
    expect(discord.posts[1]!.body.embeds.map((e) => e.title)).toEqual(['12 tasks merged']);
  });

  it('tells a merge conflict as an attention item, from the event stream of the workspace', async () => {
    const hub = await EventHub.start(ws);
    const run = startNotifiers(ws, hub, [discordNotifier({ url: discord.url })], options());
    try {
      const task = await codeTask('Clash', 'conflict');
      const titles = () => discord.posts.flatMap((p) => p.body.embeds.map((e) => e.title));
      const deadline = Date.now() + 20_000;
      while (!titles().some((t) => t.startsWith('merge-conflict')) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        await run.idle();
      }
      const embed = discord.posts
        .flatMap((p) => p.body.embeds)
        .find((e) => e.title.startsWith('merge-conflict'));
      expect(embed, JSON.stringify(titles())).toBeDefined();
      expect(embed!.title).toContain(task.id);
      expect(embed!.description).toContain('x.txt');
      expect(embed!.color).toBe(0xe8a33d);
    } finally {
      run.stop();
      hub.close();
    }
  });

  it('posts one message per batch, an embed per dead letter, with no mentions and no control characters', async () => {
    const start = ws.view.seq;
    await deadLetters(2);
    const { source, emit } = fakeSource();
    const run = startNotifiers(ws, source, [discordNotifier({ url: discord.url })], options());
    emit(await eventsAfter(start));
    await run.idle();
    run.stop();
    expect(discord.posts).toHaveLength(1);
    const [post] = discord.posts;
    expect(post!.url).toBe(`/api/webhooks/1234567890/${discord.token}?wait=true`);
    expect(post!.body.allowed_mentions).toEqual({ parse: [] });
    expect(post!.body.embeds.map((e) => e.title)).toEqual([
      expect.stringMatching(/^T-\w+ failed: job 0$/),
      expect.stringMatching(/^T-\w+ failed: job 1$/),
    ]);
    const embed = post!.body.embeds[0]!;
    expect(embed.description).toBe('broke @everyone red 0');
    expect(embed.color).toBe(0xe8a33d);
    expect(embed.fields).toEqual(
      expect.arrayContaining([
        { name: 'agent', value: 'agent-1', inline: true },
        { name: 'to resolve', value: expect.stringMatching(/^dreamos task retry T-/) },
      ]),
    );
    expect(JSON.stringify(post!.body)).not.toContain('\\u001b');
  });

  it('tells only attention items that are new since the list before, and each open alert once', async () => {
    const item = (key: string, reason: string, severity: 'critical' | 'warning', alerts: string[] = []) => ({
      key,
      reason: reason as 'failed',
      severity,
      subject: key.split(':')[1]!,
      text: `${key} needs you`,
      action: `fix ${key}`,
      alerts,
    });
    const at = new Date().toISOString();
    const attention = (seq: number, items: ReturnType<typeof item>[]): DreamEvent => ({
      id: String(seq),
      seq,
      type: 'attention.changed',
      at,
      by: 'orchestrator',
      op: 'attention',
      attention: items,
    });
    const alert: DreamEvent = {
      id: '3',
      seq: 3,
      type: 'alert.raised',
      at,
      by: 'orchestrator',
      op: 'drift-stall',
      alerts: [
        { id: 'A-0001', kind: 'stall', severity: 'critical', status: 'open', message: 'agent-2 stalled' },
      ],
    };
    const { source, emit } = fakeSource();
    const run = startNotifiers(ws, source, [discordNotifier({ url: discord.url })], options());
    emit([attention(1, [item('task:T-1', 'failed', 'warning')])]);
    await run.idle();
    emit([
      attention(2, [item('task:T-1', 'failed', 'warning'), item('task:T-2', 'blocked', 'warning')]),
      alert,
      attention(4, [
        item('task:T-1', 'failed', 'warning'),
        item('task:T-2', 'blocked', 'warning'),
        item('agent:agent-2', 'stalled', 'critical', ['A-0001']),
      ]),
    ]);
    await run.idle();
    run.stop();
    expect(discord.posts.map((p) => p.body.embeds.map((e) => e.title))).toEqual([
      ['failed: T-1'],
      ['blocked: T-2', 'alert A-0001 (stall)'],
    ]);
    expect(discord.posts[1]!.body.embeds[1]!.color).toBe(0xd93f3f);
    expect(discord.posts[0]!.body.embeds[0]!.fields).toContainEqual({
      name: 'to resolve',
      value: 'fix task:T-1',
    });
  });

  it('sums up a burst: fifty dead letters are one message', async () => {
    const start = ws.view.seq;
    await deadLetters(50);
    const { source, emit } = fakeSource();
    const run = startNotifiers(ws, source, [discordNotifier({ url: discord.url })], options());
    emit(await eventsAfter(start));
    await run.idle();
    run.stop();
    expect(discord.posts).toHaveLength(1);
    const { embeds } = discord.posts[0]!.body;
    expect(embeds).toHaveLength(1);
    expect(embeds[0]!.title).toBe('50 tasks failed for good');
    expect(embeds[0]!.description.split('\n')).toHaveLength(50);
  });

  it("keeps a message within Discord's limits", async () => {
    // Ten alerts with long messages: ten embeds, far more than 6,000 characters before cutting.
    const alerts: DreamEvent[] = Array.from({ length: 10 }, (_, i) => ({
      id: String(i + 1),
      seq: i + 1,
      type: 'alert.raised',
      at: new Date().toISOString(),
      by: 'orchestrator',
      op: 'drift-overrun',
      alerts: [
        {
          id: `A-000${i}`,
          kind: 'overrun',
          severity: 'warning',
          status: 'open',
          message: `${'x'.repeat(1999)}${i}`,
        },
      ],
    }));
    const { source, emit } = fakeSource();
    const run = startNotifiers(ws, source, [discordNotifier({ url: discord.url })], options());
    emit(alerts);
    await run.idle();
    run.stop();
    const { embeds } = discord.posts[0]!.body;
    expect(embeds).toHaveLength(10);
    const size = embeds.reduce(
      (n, e) =>
        n +
        e.title.length +
        e.description.length +
        (e.fields ?? []).reduce((m, f) => m + f.name.length + f.value.length, 0),
      0,
    );
    expect(embeds.length).toBeLessThanOrEqual(10);
    expect(size).toBeLessThanOrEqual(6000);
    for (const e of embeds) {
      expect(e.title.length).toBeLessThanOrEqual(256);
      expect(e.description.length).toBeLessThanOrEqual(4096);
    }
  });

  it('honours a 429: waits what Retry-After says, then posts the same message once more', async () => {
    discord.answers.push((res) =>
      res
        .writeHead(429, { 'content-type': 'application/json', 'retry-after': '2' })
        .end('{"message":"You are being rate limited.","retry_after":1.5,"global":false}'),
    );
    const start = ws.view.seq;
    await deadLetters(1);
    const { source, emit } = fakeSource();
    const run = startNotifiers(ws, source, [discordNotifier({ url: discord.url })], options());
    emit(await eventsAfter(start));
    await run.idle();
    run.stop();
    expect(waits).toEqual([1500]);
    expect(discord.posts).toHaveLength(2);
    expect(discord.posts[1]!.body).toEqual(discord.posts[0]!.body);
    expect(logs).toEqual([]);
  });

  it('waits before the next post when the bucket is empty (X-RateLimit-Remaining: 0)', async () => {
    discord.answers.push((res) =>
      res.writeHead(200, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset-after': '30' }).end('{"id":"1"}'),
    );
    const { source, emit } = fakeSource();
    const run = startNotifiers(ws, source, [discordNotifier({ url: discord.url })], {
      ...options(),
      // The recorded wait returns at once: the notifier is asked again and, the clock not having
      // moved, asks to wait again, until the runner gives up. Only the first post may go out.
      waits: 2,
      attempts: 1,
    });
    let seq = ws.view.seq;
    await deadLetters(1);
    emit(await eventsAfter(seq));
    await run.idle();
    seq = ws.view.seq;
    await deadLetters(1);
    emit(await eventsAfter(seq));
    await run.idle();
    run.stop();
    expect(discord.posts).toHaveLength(1);
    expect(waits).toHaveLength(2);
    expect(waits[0]).toBeGreaterThan(25_000);
    expect(logs).toEqual([expect.stringContaining('notifier discord dropped 1 event(s)')]);
  });

  it('never writes the webhook URL or its token, in errors or logs', async () => {
    for (let i = 0; i < 4; i++)
      discord.answers.push((res) => res.writeHead(404).end(`{"message":"Unknown Webhook ${discord.url}"}`));
    const start = ws.view.seq;
    await deadLetters(1);
    const { source, emit } = fakeSource();
    const run = startNotifiers(ws, source, [discordNotifier({ url: discord.url })], options());
    emit(await eventsAfter(start));
    await run.idle();
    run.stop();
    expect(discord.posts).toHaveLength(4);
    expect(waits).toEqual([1000, 2000, 4000]);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/dropped 1 event\(s\) after 4 failed tries: Discord answered 404/);
    expect(logs[0]).toContain('/api/webhooks/1234567890/***');
    expect(logs[0]).not.toContain(discord.token);
  });

  it('takes the URL from the environment or a private file, never from config.json, and says so without it', () => {
    const env = { DREAMOS_DISCORD_WEBHOOK_URL: discord.url };
    expect(discordFromConfig(ws.home, undefined, env)?.name).toBe('discord');
    expect(discordFromConfig(ws.home, undefined, {})).toBeNull();
    expect(discordFromConfig(ws.home, { enabled: false }, env)).toBeNull();
    expect(() => discordFromConfig(ws.home, { enabled: true }, {})).toThrow(/no webhook URL/);
    const bad = `https://example.com/hooks/${discord.token}`;
    expect(() => discordFromConfig(ws.home, undefined, { DREAMOS_DISCORD_WEBHOOK_URL: bad })).toThrow(
      /is not a Discord webhook URL/,
    );
    try {
      discordFromConfig(ws.home, undefined, { DREAMOS_DISCORD_WEBHOOK_URL: bad });
    } catch (error) {
      expect((error as Error).message).not.toContain(discord.token);
    }
    const file = `${tmp.dir}/discord.url`;
    fs.writeFileSync(file, `${discord.url}\n`, { mode: 0o644 });
    expect(() => discordFromConfig(ws.home, { urlFile: file }, {})).toThrow(/chmod 600/);
    fs.chmodSync(file, 0o600);
    expect(discordFromConfig(ws.home, { urlFile: file }, {})?.name).toBe('discord');
  });
});
