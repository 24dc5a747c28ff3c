import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { costText } from '../../../src/telemetry.js';
import type { Task } from '../../../state/schemas.js';
import { attentionMatches, reasonWords } from '../../../ui/data/attention.js';
import { buildConsoleView, filterColumns } from '../../../ui/data/console-view.js';
import { JournalFeed } from '../../../ui/data/journal.js';
import { cleanLine, LogHub } from '../../../ui/data/logs.js';
import { bar, computeMetrics, sparkline } from '../../../ui/data/metrics.js';
import { fitCells } from '../../../ui/text.js';
import { cleanupAll, sleep, workspace } from '../../helpers/ui.js';

afterEach(cleanupAll);

const until = async (check: () => boolean, what: string) => {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(10);
  }
};

describe('the console view', () => {
  test('columns per stage, sorted by priority then id; agents joined with their state', async () => {
    const { ws } = await workspace();
    const low = await ws.addTask({ title: 'low one', priority: 'low' });
    const crit = await ws.addTask({ title: 'critical one', priority: 'critical' });
    const held = await ws.addTask({ title: 'held', hold: true });
    await ws.claim('agent-2');
    const s = buildConsoleView(ws);
    expect(s.total).toBe(3);
    expect(s.columns.backlog.map((t) => t.id)).toEqual([held.id]);
    expect(s.columns.working.map((t) => t.id)).toEqual([crit.id]);
    expect(s.columns.ready.map((t) => t.id)).toEqual([low.id]);
    expect(s.agents).toHaveLength(8);
    expect(s.agents[1]).toMatchObject({ id: 'agent-2', status: 'working', simulated: false });
    expect(s.agents[1]!.task?.id).toBe(crit.id);
    expect(filterColumns(s.columns, 'LOW').ready).toHaveLength(1);
    // A change sorts only the columns it touched; the others keep their arrays (and memoised rows).
    await ws.addTask({ title: 'another held', hold: true });
    const next = buildConsoleView(ws, s);
    expect(next.columns.ready).toBe(s.columns.ready);
    expect(next.columns.working).toBe(s.columns.working);
    expect(next.columns.backlog).not.toBe(s.columns.backlog);
    expect(next.columns.backlog).toHaveLength(2);
    expect(filterColumns(s.columns, 'nomatch').ready).toHaveLength(0);
  });
});

describe('the attention inbox', () => {
  test("is the engine's list: failed tasks and the tasks they block, with reasons and actions", async () => {
    const { ws } = await workspace();
    const dep = await ws.addTask({ title: 'dep', run: 'true', maxAttempts: 1 });
    const child = await ws.addTask({ title: 'child', run: 'true', dependsOn: [dep.id] });
    await ws.claim('agent-1', { taskId: dep.id });
    await ws.fail(dep.id, { reason: 'broke', agent: 'agent-1' });
    const items = buildConsoleView(ws).attention;
    expect(items.map((i) => [i.reason, i.subject])).toEqual(
      expect.arrayContaining([
        ['failed', dep.id],
        ['blocked', child.id],
      ]),
    );
    expect(new Set(items.map((i) => i.key)).size).toBe(items.length);
    expect(attentionMatches(items.find((i) => i.reason === 'blocked')!, 'BLOCKED child')).toBe(true);
    expect(reasonWords('over-budget')).toBe('over budget');
  });
});

describe('metrics', () => {
  const at = (s: number) => new Date(1_700_000_000_000 + s * 1000).toISOString();
  const task = (id: string, history: Array<[string, number, string]>, status: Task['status']): Task =>
    ({
      id,
      status,
      agent: 'agent-1',
      result: { ok: status === 'done', usage: { inputTokens: 10, outputTokens: 5, usd: 0.01 } },
      history: history.map(([to, s, by]) => ({ from: null, to, at: at(s), by })),
    }) as unknown as Task;

  test('throughput, success, utilisation and usage from task histories', () => {
    const now = 1_700_000_000_000 + 900 * 1000;
    const tasks = [
      task(
        'T-00001',
        [
          ['ready', 0, 'operator'],
          ['working', 100, 'agent-1'],
          ['done', 400, 'agent-1'],
        ],
        'done',
      ),
      task(
        'T-00002',
        [
          ['ready', 0, 'operator'],
          ['working', 500, 'agent-1'],
          ['failed', 650, 'agent-1'],
        ],
        'failed',
      ),
      task(
        'T-00003',
        [
          ['ready', 0, 'operator'],
          ['working', 800, 'agent-2'],
        ],
        'working',
      ),
    ];
    const m = computeMetrics(
      tasks,
      [
        { id: 'agent-1', name: 'A' },
        { id: 'agent-2', name: 'B' },
      ],
      now,
      {
        buckets: 30,
        bucketSeconds: 30,
      },
    );
    expect(m.done).toBe(1);
    expect(m.failed).toBe(1);
    expect(m.successRate).toBe(0.5);
    expect(m.throughput.reduce((a, b) => a + b, 0)).toBe(2);
    expect(m.meanSeconds).toBe(300);
    expect(m.agents[0]).toMatchObject({ id: 'agent-1', done: 1, failed: 1 });
    expect(m.agents[0]!.share).toBeCloseTo(450 / 900);
    expect(m.agents[1]!.share).toBeCloseTo(100 / 900);
    expect(m.tokens).toBe(45);
    expect(sparkline([0, 1, 2, null, 4])).toBe('▁▃▅ █');
    expect(bar(0.5, 10)).toBe('█████░░░░░');
  });

  test('a cost without a price is unknown, never $0.00', () => {
    const priced = task('T-00001', [['done', 10, 'agent-1']], 'done');
    const unpriced = {
      ...task('T-00002', [['done', 20, 'agent-1']], 'done'),
      result: { ok: true, usage: { inputTokens: 7, outputTokens: 3 } },
    } as Task;
    const now = 1_700_000_000_000 + 60 * 1000;
    const agents = [{ id: 'agent-1', name: 'A' }];
    const both = computeMetrics([priced, unpriced], agents, now);
    expect(both).toMatchObject({ tokens: 25, usd: 0.01, unpriced: 1 });
    expect(costText(both.usd, both.unpriced, 2)).toBe('$0.01 + unknown');
    const none = computeMetrics([unpriced], agents, now);
    expect(costText(none.usd, none.unpriced, 2)).toBe('unknown');
    expect(costText(0, 0, 2)).toBe('$0.00');
  });
});

describe('log tails', () => {
  test('follow a file that appears later, strip control sequences, skip ::dreamos lines', async () => {
    const { ws } = await workspace();
    const hub = new LogHub(ws.paths.logsDir, { flushMs: 20, keep: 5, lingerMs: 0 });
    const file = ws.paths.log('agent-1', 'T-00001');
    let calls = 0;
    const off = hub.subscribe(file, () => {
      calls += 1;
    });
    expect(hub.lines(file)).toEqual([]);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    await sleep(50);
    fs.writeFileSync(file, 'one\n\u001b[31mred\u001b[0m\n::dreamos {"progress":0.5}\n');
    await until(() => hub.lines(file).length === 2, 'two lines');
    expect(hub.lines(file)).toEqual(['one', 'red']);
    fs.appendFileSync(file, 'part');
    fs.appendFileSync(file, 'ial\n\u001b]0;title\u0007evil\n');
    await until(() => hub.lines(file).length === 4, 'four lines');
    expect(hub.lines(file).slice(-2)).toEqual(['partial', 'evil']);
    fs.appendFileSync(file, `${Array.from({ length: 20 }, (_, i) => `l${i}`).join('\n')}\n`);
    await until(() => hub.lines(file).at(-1) === 'l19', 'the flood');
    expect(hub.lines(file)).toHaveLength(5);
    expect(calls).toBeGreaterThan(0);
    off();
    expect(hub.open).toBe(0);
    hub.close();
    expect(cleanLine('a\tb\r')).toBe('a  b');
  });
});

describe('log tails through a link', () => {
  test('a link in place of a log, or of the agent folder, is not followed', async () => {
    const { ws } = await workspace();
    const secret = path.join(path.dirname(ws.home), 'secret.txt');
    fs.writeFileSync(secret, 'secret line\n');
    const linked = ws.paths.log('agent-1', 'T-00001');
    fs.mkdirSync(path.dirname(linked), { recursive: true });
    fs.symlinkSync(secret, linked);
    fs.symlinkSync(path.dirname(secret), path.join(ws.paths.logsDir, 'agent-2'));
    fs.renameSync(secret, path.join(path.dirname(secret), 'T-00002.log'));
    fs.writeFileSync(secret, 'secret line\n');
    const hub = new LogHub(ws.paths.logsDir, { flushMs: 20, keep: 5, lingerMs: 0 });
    const viaFolder = ws.paths.log('agent-2', 'T-00002');
    const own = ws.paths.log('agent-1', 'T-00003');
    const offs = [linked, viaFolder, own].map((file) => hub.subscribe(file, () => undefined));
    fs.writeFileSync(own, 'own line\n');
    await until(() => hub.lines(own).length === 1, 'the real log');
    expect(hub.lines(linked)).toEqual([]);
    expect(hub.lines(viaFolder)).toEqual([]);
    for (const off of offs) off();
    hub.close();
  });
});

describe('the journal feed', () => {
  test('reads the tail, then only what was appended', async () => {
    const { ws } = await workspace();
    await ws.addTask({ title: 'first' });
    const feed = new JournalFeed(ws.history, 3);
    expect(await feed.update()).toBe(true);
    expect(feed.rows.at(-1)).toMatchObject({ op: 'add' });
    expect(await feed.update()).toBe(false);
    for (let i = 0; i < 4; i++) await ws.addTask({ title: `t${i}` });
    expect(await feed.update()).toBe(true);
    expect(feed.rows).toHaveLength(3);
    expect(feed.rows.at(-1)!.summary).toContain('t3');
  });
});

describe('the journal feed, updated twice at once', () => {
  test('reads each entry once, in order', async () => {
    const { ws } = await workspace();
    for (let i = 0; i < 3; i++) await ws.addTask({ title: `t${i}` });
    const feed = new JournalFeed(ws.history);
    // Two wake-ups before the first read ends: the second must not read the tail again.
    expect(await Promise.all([feed.update(), feed.update()])).toEqual([true, false]);
    const seqs = feed.rows.map((r) => r.seq);
    expect(seqs).toEqual([...Array(ws.view.seq).keys()].map((i) => i + 1));
    await ws.addTask({ title: 'later' });
    await Promise.all([feed.update(), feed.update(), feed.update()]);
    expect(feed.rows.map((r) => r.seq)).toEqual([...seqs, ws.view.seq]);
  });
});

describe('fitCells', () => {
  test('cuts to a width in cells, counting wide characters as two and colour codes as none', () => {
    expect(fitCells('hello world', 5)).toBe('hell…');
    expect(fitCells('hello', 5)).toBe('hello');
    expect(fitCells('ab漢字c', 5)).toBe('ab漢…');
    expect(fitCells('😀😀x', 4)).toBe('😀…');
    expect(fitCells('\u001b[32mgreen\u001b[39m!', 3)).toBe('\u001b[32mgr…\u001b[0m');
    expect(fitCells('short', 40)).toBe('short');
  });
});
