/**
 * The plugins' sources in `dreamos scout run|sources`: a plugin file in .dreamos/plugins/ whose
 * source offers the items of a JSON file the test writes, run by the CLI as a child process, beside
 * a configured feed on a fake feed server (tests/helpers/feed-server.ts), and by `dreamos run`.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../../state/schemas.js';
import { type Board, board, show } from '../../helpers/cli.js';
import { type FeedServer, rss, startFeedServer } from '../../helpers/feed-server.js';
import { cliAsync, ROOT } from '../../helpers/workspace.js';

interface SourceReport {
  id: string;
  kind: string;
  status: string;
  error?: string;
  items: number;
  fresh: number;
  matched: number;
  made: { title: string; dedupeKey: string; task: string | null }[];
  duplicates: number;
  deferred: number;
  alert?: string;
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
  fs.mkdirSync(path.join(b.dir, '.dreamos', 'plugins'), { mode: 0o700 });
});
afterEach(() => b.cleanup());

/** A plugin with one source, `news`, offering what .dreamos/leads.json holds, or throwing. */
const LEADS = `import { spawn } from 'node:child_process';
import fs from 'node:fs';
export default {
  name: 'leads',
  version: '1.0.0',
  sources: [
    {
      id: 'news',
      intervalSeconds: 600,
      fetch() {
        const items = JSON.parse(fs.readFileSync(new URL('../leads.json', import.meta.url), 'utf8'));
        if (items === 'fail') throw new Error('the leads service said no');
        return items;
      },
    },
  ],
};`;

function install(): void {
  const file = path.join(b.dir, '.dreamos', 'plugins', 'leads.mjs');
  fs.writeFileSync(file, LEADS, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
}
const offer = (items: unknown) =>
  fs.writeFileSync(path.join(b.dir, '.dreamos', 'leads.json'), JSON.stringify(items));
const leads = (n: number, prefix = 'lead') =>
  Array.from({ length: n }, (_, i) => ({
    key: `${prefix}-${i}`,
    title: `${prefix} ${i} about typescript`,
    url: `https://example.com/${prefix}/${i}`,
  }));

function setScout(scout: Record<string, unknown>): void {
  const file = path.join(b.dir, '.dreamos', 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8'));
  config.scout = scout;
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
}

async function scoutRun(...args: string[]): Promise<{ code: number; sources: SourceReport[] }> {
  const r = await cliAsync(['scout', 'run', ...args, '--json'], { cwd: b.dir });
  expect(r.stdout, show(r)).not.toBe('');
  return { code: r.code, sources: r.json<{ sources: SourceReport[] }>().sources };
}
const scoutTasks = () => b.list().filter((t) => t.source === 'scout');

describe('plugin sources in the scout', () => {
  it('turn items into tasks waiting for approval, once, under a default id', async () => {
    install();
    offer(leads(3));
    const first = await scoutRun();
    expect(first.code).toBe(0);
    expect(first.sources.map((s) => [s.id, s.kind, s.status, s.made.length])).toEqual([
      ['leads/news', 'plugin', 'ok', 3],
    ]);
    const tasks = scoutTasks();
    expect(tasks.map((t) => t.dedupeKey).sort()).toEqual([
      'plugin:leads:news:lead-0',
      'plugin:leads:news:lead-1',
      'plugin:leads:news:lead-2',
    ]);
    for (const t of tasks) {
      expect(t).toMatchObject({ status: 'backlog', approval: { status: 'pending' } });
      expect(t.tags).toEqual(expect.arrayContaining(['scout', 'leads/news']));
      expect(t.prompt).toContain('https://example.com/lead/');
    }

    // The same items again: nothing new; one more item: one task.
    const second = await scoutRun();
    expect(second.sources[0]).toMatchObject({ status: 'ok', items: 3, fresh: 0, made: [] });
    offer([...leads(3), ...leads(1, 'later')]);
    const third = await scoutRun('--source', 'leads/news');
    expect(third.sources[0]!.made.map((m) => m.dedupeKey)).toEqual(['plugin:leads:news:later-0']);
    expect(scoutTasks()).toHaveLength(4);
  });

  it("run under config.json's entry: its id, rules, role and cap", async () => {
    install();
    offer([...leads(4), { key: 'off', title: 'gardening tips' }]);
    setScout({
      sources: [
        {
          id: 'my-leads',
          kind: 'plugin',
          plugin: 'leads',
          source: 'news',
          rules: { keywords: ['typescript'] },
          role: 'agent-2',
          maxTasksPerRun: 3,
        },
      ],
    });
    const first = (await scoutRun()).sources;
    expect(first.map((s) => s.id)).toEqual(['my-leads']);
    expect(first[0]).toMatchObject({ items: 5, fresh: 5, matched: 4, deferred: 1 });
    expect(first[0]!.made).toHaveLength(3);
    expect(scoutTasks().map((t) => t.role)).toEqual(['agent-2', 'agent-2', 'agent-2']);
    expect(scoutTasks()[0]!.tags).toContain('my-leads');

    // What the cap left is made next run; then nothing is left.
    expect((await scoutRun()).sources[0]!.made).toHaveLength(1);
    const third = (await scoutRun()).sources[0]!;
    expect(third).toMatchObject({ fresh: 0, matched: 0, deferred: 0, made: [] });
    expect(scoutTasks()).toHaveLength(4);
    expect(scoutTasks().some((t) => t.title === 'gardening tips')).toBe(false);
  });

  it('a throwing source fails alone, with one alert however often it fails', async () => {
    install();
    offer('fail');
    server.routes.set('/rss', { kind: 'body', body: rss([{ guid: 'a', title: 'A feed item' }]) });
    setScout({ failuresBeforeAlert: 2, sources: [{ id: 'feed', kind: 'rss', url: `${server.url}/rss` }] });
    const alerts = () => b.json<Alert[]>('alert', 'list').filter((a) => a.kind === 'source-failing');

    const first = await scoutRun();
    expect(first.code).toBe(1);
    const byId = Object.fromEntries(first.sources.map((s) => [s.id, s]));
    expect(byId.feed).toMatchObject({ status: 'ok' });
    expect(byId.feed!.made).toHaveLength(1);
    expect(byId['leads/news']).toMatchObject({ status: 'failed' });
    expect(byId['leads/news']!.error).toContain('the leads service said no');
    expect(alerts()).toEqual([]);

    for (let run = 0; run < 3; run++) expect((await scoutRun()).code).toBe(1);
    expect(alerts()).toMatchObject([{ key: 'scout:leads/news', status: 'open' }]);

    // The first run that works resolves it.
    offer(leads(1));
    const mended = (await scoutRun()).sources.find((s) => s.id === 'leads/news')!;
    expect(mended).toMatchObject({ status: 'ok', alert: 'resolved' });
    expect(mended.made).toHaveLength(1);
  });

  it('a source whose plugin is not loaded fails, and says so', async () => {
    setScout({ sources: [{ id: 'gone', kind: 'plugin', plugin: 'leads', source: 'news' }] });
    const { code, sources } = await scoutRun();
    expect(code).toBe(1);
    expect(sources[0]).toMatchObject({ id: 'gone', status: 'failed' });
    expect(sources[0]!.error).toContain('no plugin source leads/news is loaded');
  });

  it('are listed by scout sources, and a dry run makes nothing', async () => {
    install();
    offer(leads(2));
    server.routes.set('/rss', { kind: 'body', body: rss([]) });
    setScout({ sources: [{ id: 'feed', kind: 'rss', url: `${server.url}/rss` }] });
    const dry = await scoutRun('--dry-run', '--source', 'leads/news');
    expect(dry.sources.map((s) => [s.id, s.made.length])).toEqual([['leads/news', 2]]);
    expect(scoutTasks()).toEqual([]);

    await scoutRun();
    const listed = b.json<{ id: string; kind: string; interval: number; tasksMade: number }[]>(
      'scout',
      'sources',
    );
    expect(listed.map((s) => [s.id, s.kind, s.interval, s.tasksMade])).toEqual([
      ['feed', 'rss', 3600, 0],
      ['leads/news', 'plugin', 600, 2],
    ]);
    const table = b.run('scout', 'sources');
    expect(table.stdout, show(table)).toMatch(/leads\/news +plugin +600 s/);

    const unknown = b.run('scout', 'run', '--source', 'leads/other');
    expect(unknown.code, show(unknown)).toBe(3);
    expect(unknown.stderr).toContain('leads/news');
  });

  it('are read by the orchestrator of dreamos run, from the plugins it loaded', async () => {
    install();
    offer(leads(2));
    const child = spawn(
      process.execPath,
      [path.join(ROOT, 'bin', 'dreamos.js'), 'run', '--agents', 'agent-1'],
      {
        cwd: b.dir,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      const deadline = Date.now() + 30_000;
      while (scoutTasks().length < 2 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      child.kill('SIGTERM');
      await closed;
    }
    expect(
      scoutTasks()
        .map((t) => [t.dedupeKey, t.status, t.approval?.status])
        .sort(),
      output,
    ).toEqual([
      ['plugin:leads:news:lead-0', 'backlog', 'pending'],
      ['plugin:leads:news:lead-1', 'backlog', 'pending'],
    ]);
  }, 60_000);
});
