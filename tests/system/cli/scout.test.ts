/**
 * `dreamos scout run|sources` against a fake feed server, a fake Hacker News and a fake GitHub on
 * 127.0.0.1 (tests/helpers/feed-server.ts), and the approval of the tasks it makes: the CLI as a
 * child process, as an operator's cron job would run it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Alert, Task } from '../../../state/schemas.js';
import { type Board, board, show } from '../../helpers/cli.js';
import { atom, type FeedServer, rss, startFeedServer } from '../../helpers/feed-server.js';
import { cliAsync } from '../../helpers/workspace.js';

interface ItemOutcome {
  title: string;
  dedupeKey: string;
  task: string | null;
  created: boolean;
}
interface SourceReport {
  id: string;
  status: string;
  error?: string;
  items: number;
  fresh: number;
  matched: number;
  made: ItemOutcome[];
  duplicates: number;
  deferred: number;
  alert?: string;
}
interface ScoutRun {
  dryRun: boolean;
  sources: SourceReport[];
  notices: string[];
}

let server: FeedServer;
let b: Board;

beforeAll(async () => {
  server = await startFeedServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  b = board();
  server.routes.clear();
  server.requests.length = 0;
  server.floodSent = 0;
});
afterEach(() => b.cleanup());

const configFile = () => path.join(b.dir, '.dreamos', 'config.json');
function setScout(scout: Record<string, unknown>, policies: Record<string, unknown> = {}): void {
  const config = JSON.parse(fs.readFileSync(configFile(), 'utf8'));
  config.scout = { hnBaseUrl: server.url, githubBaseUrl: server.url, ...scout };
  config.policies = { ...config.policies, ...policies };
  fs.writeFileSync(configFile(), JSON.stringify(config, null, 2));
}
const feed = (id: string, route: string, extra: Record<string, unknown> = {}) => ({
  id,
  kind: 'rss',
  url: `${server.url}${route}`,
  ...extra,
});

/** `scout run ARGS --json`, the CLI as a child process (the fake answers meanwhile). */
async function scoutRun(...args: string[]): Promise<{ code: number; run: ScoutRun; stderr: string }> {
  const r = await cliAsync(['scout', 'run', ...args, '--json'], {
    cwd: b.dir,
    env: { GH_TEST_TOKEN: 'sekrit' },
  });
  expect(r.stdout, show(r)).not.toBe('');
  return { code: r.code, run: r.json<ScoutRun>(), stderr: r.stderr };
}
const scoutTasks = () => b.list().filter((t) => t.source === 'scout');

const items = (n: number, prefix = 'item') =>
  Array.from({ length: n }, (_, i) => ({
    guid: `${prefix}-${i}`,
    title: `${prefix} ${i} about typescript`,
    link: `https://example.com/${prefix}/${i}`,
  }));

describe('dreamos scout run', () => {
  it('turns RSS and Atom items into tasks that wait for approval, and approve lets one run', async () => {
    server.routes.set('/rss', { kind: 'body', body: rss(items(3)) });
    server.routes.set('/atom', {
      kind: 'body',
      body: atom([
        { id: 'urn:a:1', title: 'An atom entry', link: 'https://example.com/a/1', summary: 'typescript' },
      ]),
    });
    setScout({ sources: [feed('news', '/rss'), { id: 'blog', kind: 'atom', url: `${server.url}/atom` }] });
    const { code, run } = await scoutRun();
    expect(code).toBe(0);
    expect(run.sources.map((s) => [s.id, s.status, s.made.length])).toEqual([
      ['news', 'ok', 3],
      ['blog', 'ok', 1],
    ]);
    const tasks = scoutTasks();
    expect(tasks).toHaveLength(4);
    for (const t of tasks) {
      expect(t).toMatchObject({ status: 'backlog', approval: { status: 'pending' } });
      expect(t.dedupeKey).toMatch(/^scout:(news|blog):[0-9a-f]{24}$/);
      expect(t.tags).toContain('scout');
    }
    // Each is one item of the inbox, where waiting for approval is its reason or one of them.
    const attention = b.json<{ task?: string; reason: string; also: string[] }[]>('attention');
    const waiting = attention.filter(
      (i) => i.reason === 'needs-approval' || i.also.includes('needs-approval'),
    );
    expect(waiting.map((i) => i.task).sort()).toEqual(tasks.map((t) => t.id).sort());

    const one = tasks[0]!;
    expect(b.run('task', 'list').stdout).toMatch(new RegExp(`${one.id} +backlog \\(needs approval\\)`));
    expect(b.run('task', 'show', one.id).stdout).toContain(
      `approval   waits for it (from scout): \`dreamos task approve ${one.id}\``,
    );
    const approved = b.json<Task>('task', 'approve', one.id);
    expect(approved).toMatchObject({ status: 'ready', approval: { status: 'approved', by: 'operator' } });
    expect(b.json<Task>('task', 'claim', '--agent', 'agent-2').id).toBe(one.id);
    // Approving twice is refused, and changes nothing.
    const again = b.run('task', 'approve', one.id);
    expect(again.code, show(again)).toBe(4);
  });

  it('makes nothing twice across runs, sends the ETag back, and takes a 304 as unchanged', async () => {
    server.routes.set('/rss', { kind: 'body', body: rss(items(2)), etag: '"v1"' });
    setScout({ sources: [feed('news', '/rss')] });
    expect((await scoutRun()).run.sources[0]!.made).toHaveLength(2);
    const second = (await scoutRun()).run.sources[0]!;
    expect(second.status).toBe('not-modified');
    expect(server.requests.at(-1)!.ifNoneMatch).toBe('"v1"');

    // The feed changes: one new item, two old ones.
    server.routes.set('/rss', { kind: 'body', body: rss([...items(2), ...items(1, 'new')]), etag: '"v2"' });
    const third = (await scoutRun()).run.sources[0]!;
    expect([third.status, third.fresh, third.made.length]).toEqual(['ok', 1, 1]);
    expect(scoutTasks()).toHaveLength(3);

    // A lost seen-store: the items are looked at again, and their dedupe keys keep them single.
    fs.rmSync(path.join(b.dir, '.dreamos', 'scout', 'state.json'));
    const fourth = (await scoutRun()).run.sources[0]!;
    expect([fourth.fresh, fourth.made.length, fourth.duplicates]).toEqual([3, 0, 3]);
    expect(scoutTasks()).toHaveLength(3);
  });

  it('quarantines a damaged seen-store and says so, making no task twice', async () => {
    server.routes.set('/rss', { kind: 'body', body: rss(items(2)) });
    setScout({ sources: [feed('news', '/rss')] });
    await scoutRun();
    fs.writeFileSync(path.join(b.dir, '.dreamos', 'scout', 'state.json'), '{"schemaVersion": 1, "seen": ');
    const { code, run, stderr } = await scoutRun();
    expect(code).toBe(0);
    expect(run.notices[0]).toMatch(/moved to .*quarantine/);
    expect(stderr).toMatch(/scout: .*quarantine/);
    expect(
      fs.readdirSync(path.join(b.dir, '.dreamos', 'quarantine')).some((f) => f.endsWith('state.json')),
    ).toBe(true);
    expect(run.sources[0]!.duplicates).toBe(2);
    expect(scoutTasks()).toHaveLength(2);
  });

  it('makes at most the per-run cap, and the rest on the next runs', async () => {
    server.routes.set('/rss', { kind: 'body', body: rss(items(5)) });
    setScout({ sources: [feed('news', '/rss', { maxTasksPerRun: 2 })] });
    const first = (await scoutRun()).run.sources[0]!;
    expect([first.made.length, first.deferred]).toEqual([2, 3]);
    const second = (await scoutRun()).run.sources[0]!;
    expect([second.made.length, second.deferred]).toEqual([2, 1]);
    await scoutRun();
    expect(scoutTasks()).toHaveLength(5);
    expect(new Set(scoutTasks().map((t) => t.dedupeKey)).size).toBe(5);
  });

  it('applies keyword, pattern and exclude rules', async () => {
    server.routes.set('/rss', {
      kind: 'body',
      body: rss([
        { guid: '1', title: 'Rust release notes' },
        { guid: '2', title: 'Nothing to see', description: 'a KUBERNETES outage' },
        { guid: '3', title: 'Issue #1234 opened' },
        { guid: '4', title: 'Rust job ad (sponsored)' },
      ]),
    });
    setScout({
      sources: [
        feed('news', '/rss', {
          rules: { keywords: ['rust', 'kubernetes'], patterns: ['#\\d{4}\\b'], exclude: ['sponsored'] },
        }),
      ],
    });
    const report = (await scoutRun()).run.sources[0]!;
    expect(report.made.map((m) => m.title).sort()).toEqual([
      'Issue #1234 opened',
      'Nothing to see',
      'Rust release notes',
    ]);
  });

  it('a dry run shows what would be made and changes nothing', async () => {
    server.routes.set('/rss', { kind: 'body', body: rss(items(2)) });
    setScout({ sources: [feed('news', '/rss')] });
    const before = b.state();
    const { code, run } = await scoutRun('--dry-run');
    expect(code).toBe(0);
    expect(run.dryRun).toBe(true);
    expect(run.sources[0]!.made.map((m) => [m.task, m.created])).toEqual([
      [null, true],
      [null, true],
    ]);
    expect(b.state()).toEqual(before);
    expect(fs.existsSync(path.join(b.dir, '.dreamos', 'scout', 'state.json'))).toBe(false);
  });

  it('cleans hostile titles and bounds huge bodies', async () => {
    const huge = `${'x'.repeat(1024 * 1024)}`;
    server.routes.set('/rss', {
      kind: 'body',
      body: rss([
        {
          guid: 'evil',
          title: 'Hi \u001b]0;pwned\u0007\u001b[31mred\u001b[0m \u202eevil\nsecond line',
          description: `\u001b[2J${huge}`,
        },
      ]),
    });
    setScout({ sources: [feed('news', '/rss')] });
    const { code } = await scoutRun();
    expect(code).toBe(0);
    const [task] = scoutTasks();
    expect(task!.title).toBe('Hi red evil second line');
    expect(task!.prompt!.length).toBeLessThan(25_000);
    expect(task!.prompt).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  });

  it('reports malformed XML for its source only, and makes nothing from it', async () => {
    server.routes.set('/bad', {
      kind: 'body',
      body: '<?xml version="1.0"?><rss version="2.0"><channel><item><title>A</title><guid>1</guid><description><![CDATA[ never closed </description></item></channel></rss>',
    });
    server.routes.set('/good', { kind: 'body', body: rss(items(1)) });
    setScout({ sources: [feed('bad', '/bad'), feed('good', '/good')] });
    const { code, run } = await scoutRun();
    expect(code).toBe(1);
    expect(run.sources[0]).toMatchObject({ id: 'bad', status: 'failed', made: [] });
    expect(run.sources[0]!.error).toMatch(/not an RSS or Atom feed/);
    expect(run.sources[1]).toMatchObject({ id: 'good', status: 'ok' });
    expect(scoutTasks().map((t) => t.tags)).toEqual([['scout', 'good']]);
  });

  it('refuses a 50 MB answer past the size cap without reading it all', async () => {
    server.routes.set('/flood', { kind: 'flood', bytes: 50 * 1024 * 1024 });
    setScout({ sources: [feed('flood', '/flood')] });
    const { code, run } = await scoutRun();
    expect(code).toBe(1);
    expect(run.sources[0]!.error).toMatch(/cap of 5242880 bytes/);
    expect(server.floodSent).toBeLessThan(20 * 1024 * 1024);
  });

  it('gives up on a server that does not answer within the timeout', async () => {
    server.routes.set('/slow', { kind: 'hang' });
    setScout({ timeoutSeconds: 0.5, sources: [feed('slow', '/slow')] });
    const { code, run } = await scoutRun();
    expect(code).toBe(1);
    expect(run.sources[0]!.error).toMatch(/no complete answer within 0.5 s/);
  });

  it('follows a few redirects, refuses too many and any that leaves http', async () => {
    server.routes.set('/feed', { kind: 'body', body: rss(items(1)) });
    server.routes.set('/r1', { kind: 'redirect', to: '/feed' });
    server.routes.set('/r2', { kind: 'redirect', to: `${server.url}/r1`, status: 301 });
    server.routes.set('/loop', { kind: 'redirect', to: '/loop' });
    server.routes.set('/file', { kind: 'redirect', to: 'file:///etc/passwd' });
    setScout({
      maxRedirects: 3,
      sources: [feed('two-hops', '/r2'), feed('loop', '/loop'), feed('file', '/file')],
    });
    const { run } = await scoutRun();
    expect(run.sources.map((s) => [s.id, s.status])).toEqual([
      ['two-hops', 'ok'],
      ['loop', 'failed'],
      ['file', 'failed'],
    ]);
    expect(run.sources[1]!.error).toMatch(/more than 3 redirects/);
    expect(run.sources[2]!.error).toMatch(/only http and https/);
  });

  it('raises one alert for a source that keeps failing, and resolves it once it works', async () => {
    server.routes.set('/flaky', { kind: 'body', body: 'down', status: 500 });
    setScout({ failuresBeforeAlert: 2, sources: [feed('flaky', '/flaky')] });
    const alerts = () => b.json<Alert[]>('alert', 'list').filter((a) => a.kind === 'source-failing');
    await scoutRun();
    expect(alerts()).toEqual([]);
    for (let i = 0; i < 3; i++) expect((await scoutRun()).code).toBe(1);
    expect(alerts()).toHaveLength(1);
    expect(alerts()[0]).toMatchObject({ status: 'open', count: 1, subject: 'flaky' });
    const listed = b.json<{ id: string; failures: number; lastStatus: string }[]>('scout', 'sources');
    expect(listed[0]).toMatchObject({ id: 'flaky', failures: 4, lastStatus: 'failed' });

    server.routes.set('/flaky', { kind: 'body', body: rss(items(1)) });
    const fixed = (await scoutRun()).run.sources[0]!;
    expect(fixed.alert).toBe('resolved');
    expect(alerts()).toHaveLength(1);
    expect(alerts()[0]!.status).toBe('resolved');
  });

  it('reads Hacker News stories at or above the minimum score; lower ones wait for their points', async () => {
    const hits = (points: number) => ({
      hits: [
        {
          objectID: '101',
          title: 'Show HN: a typescript swarm',
          url: 'https://example.com/swarm',
          points: 120,
        },
        { objectID: '102', title: 'Ask HN: typescript?', url: null, story_text: 'what do you use', points },
      ],
    });
    server.routes.set('/api/v1/search_by_date', {
      kind: 'body',
      type: 'application/json',
      body: JSON.stringify(hits(3)),
    });
    setScout({ sources: [{ id: 'hn', kind: 'hn', query: 'typescript', rules: { minScore: 50 } }] });
    const first = (await scoutRun()).run.sources[0]!;
    expect(first.made.map((m) => m.title)).toEqual(['Show HN: a typescript swarm']);
    server.routes.set('/api/v1/search_by_date', {
      kind: 'body',
      type: 'application/json',
      body: JSON.stringify(hits(75)),
    });
    const second = (await scoutRun()).run.sources[0]!;
    expect(second.made.map((m) => m.title)).toEqual(['Ask HN: typescript?']);
    expect(scoutTasks().find((t) => t.title === 'Ask HN: typescript?')!.prompt).toContain(
      'https://news.ycombinator.com/item?id=102',
    );
  });

  it('reads GitHub issues with an ETag, skips pull requests, and keys each as its webhook would', async () => {
    const issues = [
      {
        number: 7,
        title: 'Crash on start',
        body: 'stack trace',
        html_url: 'https://github.com/o/r/issues/7',
      },
      {
        number: 8,
        title: 'A pull request',
        body: '',
        html_url: 'https://github.com/o/r/pull/8',
        pull_request: {},
      },
    ];
    server.routes.set('/repos/o/r/issues', {
      kind: 'body',
      type: 'application/json',
      body: JSON.stringify(issues),
      etag: 'W/"abc"',
    });
    setScout({ sources: [{ id: 'gh', kind: 'github-issues', repo: 'o/r' }] });
    const first = (await scoutRun()).run.sources[0]!;
    expect(first.made.map((m) => m.dedupeKey)).toEqual(['gh:o/r#7']);
    expect((await scoutRun()).run.sources[0]!.status).toBe('not-modified');
    expect(server.requests.at(-1)).toMatchObject({ path: '/repos/o/r/issues', ifNoneMatch: 'W/"abc"' });
  });

  it('sends a GitHub token from the environment to its server only, never across a redirect', async () => {
    const elsewhere = await startFeedServer();
    try {
      elsewhere.routes.set('/moved', { kind: 'body', type: 'application/json', body: '[]' });
      server.routes.set('/repos/o/r/issues', { kind: 'redirect', to: `${elsewhere.url}/moved` });
      setScout({ sources: [{ id: 'gh', kind: 'github-issues', repo: 'o/r', tokenEnv: 'GH_TEST_TOKEN' }] });
      const { code } = await scoutRun();
      expect(code).toBe(0);
      expect(server.requests.at(-1)!.authorization).toBe('Bearer sekrit');
      expect(elsewhere.requests).toMatchObject([{ path: '/moved', authorization: null }]);
      expect(fs.readFileSync(configFile(), 'utf8')).not.toContain('sekrit');
    } finally {
      await elsewhere.close();
    }
  });

  it('lets a source policy of auto put its tasks straight on the ready queue', async () => {
    server.routes.set('/rss', { kind: 'body', body: rss(items(1)) });
    setScout({ sources: [feed('news', '/rss')] }, { approval: { scout: 'auto' } });
    await scoutRun();
    expect(scoutTasks()[0]).toMatchObject({
      status: 'ready',
      approval: { status: 'approved', by: 'policy' },
    });
  });

  it('refuses an unknown --source, and a pattern that is no regular expression, changing nothing', async () => {
    setScout({ sources: [feed('news', '/rss')] });
    const unknown = await cliAsync(['scout', 'run', '--source', 'nope'], { cwd: b.dir });
    expect(unknown.code, show(unknown)).toBe(3);
    expect(unknown.stderr).toMatch(/no scout source "nope" \(configured: news\)/);
    setScout({ sources: [feed('news', '/rss', { rules: { patterns: ['(unclosed'] } })] });
    const bad = await cliAsync(['scout', 'run'], { cwd: b.dir });
    expect(bad.code, show(bad)).toBe(6);
    expect(bad.stderr).toMatch(/patterns/);
    expect(server.requests).toEqual([]);
  });
});

describe('task add --dedupe-key', () => {
  it('adds once; a repeat exits 0, says so, and returns the first task unchanged', () => {
    const first = b.add('deploy', '--dedupe-key', 'deploy:42');
    const r = b.run('task', 'add', 'deploy again', '--dedupe-key', 'deploy:42', '--json');
    expect(r.code, show(r)).toBe(0);
    expect(r.json<Task>()).toEqual(first);
    expect(r.stderr).toMatch(/already has dedupe key deploy:42: nothing added/);
    expect(b.list()).toHaveLength(1);
  });
});
