/**
 * Telemetry derived from the journal: exact figures on a known history (synthetic times, so
 * durations and utilisation are exact too), the window of `--since`, damaged lines, chunked reading
 * of segments, and `dreamos stats` on a real workspace.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseSince } from '../../../src/commands/stats.js';
import { planCheckpoint, planHeartbeat } from '../../../src/orchestrator/plans.js';
import {
  collectTelemetry,
  movesTasks,
  percentiles,
  type Telemetry,
  TelemetryBuilder,
} from '../../../src/telemetry.js';
import { initWorkspace, openWorkspace } from '../../../src/workspace.js';
import type { EntryHead } from '../../../state/backend.js';
import { cli, tempDir } from '../../helpers/workspace.js';

const T0 = Date.parse('2025-01-01T00:00:00.000Z');
const iso = (s: number) => new Date(T0 + s * 1000).toISOString();
const ROLES = new Map([
  ['agent-1', 'captain'],
  ['agent-2', 'infrastructure'],
  ['agent-3', 'loop'],
]);

interface SimTask {
  id: string;
  role?: string;
  agent: string | null;
  stalls: number;
  status: string;
  result: Record<string, unknown> | null;
  history: Array<{ from: string | null; to: string; by: string; at: string }>;
}

/** A journal written by hand: each change is one entry with the whole new state of its task. */
class Journal {
  lines: string[] = [];
  private seq = 0;
  private readonly tasks = new Map<string, SimTask>();

  move(at: number, op: string, id: string, to: string, by: string, patch: Partial<SimTask> = {}): this {
    const task = this.tasks.get(id) ?? { id, agent: null, stalls: 0, status: '', result: null, history: [] };
    const next: SimTask = {
      ...task,
      ...patch,
      status: to,
      history: [...task.history, { from: task.status || null, to, by, at: iso(at) }],
    };
    this.tasks.set(id, next);
    this.seq++;
    this.lines.push(
      JSON.stringify({ schemaVersion: 1, seq: this.seq, at: iso(at), by, op, tasks: [{ task: next }] }),
    );
    return this;
  }

  /** An entry that touches no task (a heartbeat of agents only, a checkpoint). */
  other(at: number): this {
    this.seq++;
    this.lines.push(
      JSON.stringify({ schemaVersion: 1, seq: this.seq, at: iso(at), by: 'x', op: 'checkpoint' }),
    );
    return this;
  }
}

const ok = (inputTokens: number, outputTokens: number, usd: number) => ({
  ok: true,
  usage: { inputTokens, outputTokens, usd },
});
const failed = (errorCode: string, usage?: { inputTokens: number; outputTokens: number; usd: number }) => ({
  ok: false,
  error: 'boom',
  errorCode,
  ...(usage ? { usage } : {}),
});

/** Seven tasks over one minute; see each line. */
function knownJournal(): Journal {
  const j = new Journal();
  for (const id of ['T-00001', 'T-00002', 'T-00003', 'T-00004', 'T-00005', 'T-00006', 'T-00007'])
    j.move(0, 'add', id, 'ready', 'operator');
  // T1: agent-1, 0 → 10 s, done.
  j.move(0, 'claim', 'T-00001', 'working', 'agent-1', { agent: 'agent-1' });
  j.move(10, 'complete', 'T-00001', 'done', 'agent-1', { result: ok(100, 20, 0.01) });
  // T2: agent-2 fails at 5 s (retried), agent-1 claims at 20 s and is done at 50 s.
  j.move(0, 'claim', 'T-00002', 'working', 'agent-2', { agent: 'agent-2' });
  j.move(5, 'fail', 'T-00002', 'ready', 'agent-2', {
    agent: null,
    result: failed('E_EXIT', { inputTokens: 50, outputTokens: 5, usd: 0.005 }),
  });
  j.move(20, 'claim', 'T-00002', 'working', 'agent-1', { agent: 'agent-1' });
  j.move(50, 'complete', 'T-00002', 'done', 'agent-1', { result: ok(10, 1, 0.001) });
  // T3: agent-2's lease expires at 20 s (a stall), and again at 40 s, which fails it.
  j.move(10, 'claim', 'T-00003', 'working', 'agent-2', { agent: 'agent-2' });
  j.move(20, 'claim', 'T-00003', 'ready', 'agent-1', { agent: null, stalls: 1 });
  j.move(25, 'claim', 'T-00003', 'working', 'agent-2', { agent: 'agent-2' });
  j.move(40, 'expire', 'T-00003', 'failed', 'agent-1', { stalls: 2, result: failed('E_STALLED') });
  // T4: cancelled before it ran.
  j.move(1, 'cancel', 'T-00004', 'cancelled', 'operator');
  // T5: agent-3 since 30 s, still working at the end.
  j.move(30, 'claim', 'T-00005', 'working', 'agent-3', { agent: 'agent-3' });
  // T6: the same failure twice: two failed attempts, even with identical results.
  j.move(41, 'claim', 'T-00006', 'working', 'agent-2', { agent: 'agent-2' });
  j.move(42, 'fail', 'T-00006', 'ready', 'agent-2', { agent: null, result: failed('E_EXIT') });
  j.move(43, 'claim', 'T-00006', 'working', 'agent-2', { agent: 'agent-2' });
  j.move(44, 'fail', 'T-00006', 'failed', 'agent-2', { result: failed('E_EXIT') });
  // T7: agent-3 resumes it after a crash at 5 s; done at 8 s (the attempt runs from the claim).
  j.move(0, 'claim', 'T-00007', 'working', 'agent-3', { agent: 'agent-3' });
  j.move(5, 'resume', 'T-00007', 'working', 'agent-3');
  j.move(8, 'complete', 'T-00007', 'done', 'agent-3', { result: ok(0, 0, 0) });
  j.other(59);
  return j;
}

function telemetry(lines: string[], since?: number): Telemetry {
  const builder = new TelemetryBuilder({
    roles: ROLES,
    until: new Date(T0 + 60_000),
    ...(since !== undefined ? { since: new Date(T0 + since * 1000) } : {}),
  });
  for (const line of lines) builder.add(JSON.parse(line));
  return builder.result();
}

describe('telemetry from a known journal', () => {
  it('counts ends, attempts, failures by code, tokens and cost exactly', () => {
    const t = telemetry(knownJournal().lines);
    expect(t.entries).toBe(27);
    expect(t.unreadable).toBe(0);
    expect(t.success).toEqual({
      done: 3,
      failed: 2,
      cancelled: 1,
      rate: 0.6,
      attempts: 8,
      attemptsOk: 3,
      attemptRate: 3 / 8,
    });
    expect(t.failures).toEqual({ E_EXIT: 3, E_STALLED: 2 });
    expect(t.usage).toEqual({ inputTokens: 160, outputTokens: 26, usd: 0.016 });
    expect(t.throughput).toEqual({ done: 3, perHour: 180, lastHour: 3 });
    expect(t.hours).toBeCloseTo(1 / 60, 4);
  });

  it('gives duration percentiles (claim → done) overall, per role and per agent', () => {
    const t = telemetry(knownJournal().lines);
    expect(t.durations.all).toEqual({ count: 3, p50: 10, p90: 30, p99: 30 });
    expect(t.durations.byRole).toEqual({
      captain: { count: 2, p50: 10, p90: 30, p99: 30 },
      loop: { count: 1, p50: 8, p90: 8, p99: 8 },
    });
    expect(t.durations.byAgent['agent-1']).toEqual({ count: 2, p50: 10, p90: 30, p99: 30 });
    expect(t.durations.byAgent['agent-2']).toEqual({ count: 0, p50: null, p90: null, p99: null });
  });

  it('gives each agent its attempts, usage and the share of the time it was working', () => {
    const { agents } = telemetry(knownJournal().lines);
    expect(agents['agent-1']).toMatchObject({
      role: 'captain',
      done: 2,
      attempts: 2,
      attemptsFailed: 0,
      workingSeconds: 40,
      utilisation: 0.667,
      inputTokens: 110,
      outputTokens: 21,
      usd: 0.011,
    });
    expect(agents['agent-2']).toMatchObject({
      role: 'infrastructure',
      done: 0,
      attempts: 5,
      attemptsFailed: 5,
      workingSeconds: 32,
      utilisation: 0.533,
      inputTokens: 50,
    });
    // T7 for 8 s, and T5 from 30 s until the end of the window, still running.
    expect(agents['agent-3']).toMatchObject({ done: 1, attempts: 1, workingSeconds: 38, utilisation: 0.633 });
  });

  it('counts only what happened in the window of --since, clipping working time to it', () => {
    const t = telemetry(knownJournal().lines, 30);
    expect(t.since).toBe(iso(30));
    expect(t.success).toMatchObject({ done: 1, failed: 2, cancelled: 0, attempts: 4, attemptsOk: 1 });
    expect(t.failures).toEqual({ E_EXIT: 2, E_STALLED: 1 });
    expect(t.durations.all).toEqual({ count: 1, p50: 30, p90: 30, p99: 30 });
    expect(t.usage).toEqual({ inputTokens: 10, outputTokens: 1, usd: 0.001 });
    expect(t.agents['agent-1']).toMatchObject({ workingSeconds: 20, utilisation: 0.667 });
    expect(t.agents['agent-2']).toMatchObject({ workingSeconds: 12, utilisation: 0.4 });
    expect(t.agents['agent-3']).toMatchObject({ workingSeconds: 30, utilisation: 1 });
    expect(t.throughput).toEqual({ done: 1, perHour: 120, lastHour: 1 });
  });

  it('skips repeated entries, as the store does', () => {
    const lines = knownJournal().lines;
    const damaged = [...lines.slice(0, 10), lines[9]!, lines[3]!, ...lines.slice(10)];
    const t = telemetry(damaged);
    expect(t.unreadable).toBe(0);
    expect(t.entries).toBe(27);
    expect(t.success.done).toBe(3);
    expect(t.failures).toEqual({ E_EXIT: 3, E_STALLED: 2 });
  });

  it('an empty journal gives zeros, not errors', () => {
    const t = telemetry([]);
    expect(t.success).toMatchObject({ done: 0, rate: null, attemptRate: null });
    expect(t.durations.all).toEqual({ count: 0, p50: null, p90: null, p99: null });
    expect(t.agents).toEqual({});
  });

  it('percentiles are nearest-rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentiles(values)).toEqual({ count: 100, p50: 50, p90: 90, p99: 99 });
    expect(percentiles([5])).toEqual({ count: 1, p50: 5, p90: 5, p99: 5 });
  });
});

describe('dreamos stats', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir('dreamos-stats-');
  });
  afterEach(() => tmp.cleanup());

  it('reports exact counts, tokens, cost and failures of a real workspace', async () => {
    const ws = await initWorkspace({ dir: tmp.dir });
    try {
      const ids: string[] = [];
      for (const title of ['one', 'two', 'three', 'four'])
        ids.push((await ws.addTask({ title, run: 'true', maxAttempts: 2 })).id);
      await ws.claim('agent-1', { taskId: ids[0]! });
      await ws.complete(ids[0]!, {
        agent: 'agent-1',
        usage: { inputTokens: 1000, outputTokens: 200, usd: 0.25 },
      });
      await ws.claim('agent-2', { taskId: ids[1]! });
      await ws.fail(ids[1]!, {
        agent: 'agent-2',
        reason: 'exit 3',
        errorCode: 'E_EXIT',
        usage: { inputTokens: 10, outputTokens: 2, usd: 0.5 },
      });
      await ws.retry(ids[1]!); // waiting for its backoff: retry now
      await ws.claim('agent-2', { taskId: ids[1]! });
      await ws.complete(ids[1]!, { agent: 'agent-2' });
      await ws.claim('agent-3', { taskId: ids[2]! });
      await ws.fail(ids[2]!, { agent: 'agent-3', reason: 'timed out', errorCode: 'E_TIMEOUT', final: true });
      await ws.cancel(ids[3]!);
    } finally {
      await ws.close();
    }
    const r = cli(['stats', '--json'], { cwd: tmp.dir });
    expect(r.code).toBe(0);
    const t = r.json<Telemetry>();
    expect(t.success).toMatchObject({ done: 2, failed: 1, cancelled: 1, attempts: 4, attemptsOk: 2 });
    expect(t.failures).toEqual({ E_EXIT: 1, E_TIMEOUT: 1 });
    expect(t.usage).toEqual({ inputTokens: 1010, outputTokens: 202, usd: 0.75 });
    expect(t.throughput).toMatchObject({ done: 2, lastHour: 2 });
    expect(t.durations.all.count).toBe(2);
    expect(Object.keys(t.durations.byRole).sort()).toEqual(['captain', 'infrastructure']);
    expect(t.agents['agent-2']).toMatchObject({
      role: 'infrastructure',
      done: 1,
      attempts: 2,
      attemptsFailed: 1,
    });

    expect(cli(['stats', '--since', '1h', '--json'], { cwd: tmp.dir }).json<Telemetry>().success).toEqual(
      t.success,
    );
    const future = cli(['stats', '--since', '2999-01-01', '--json'], { cwd: tmp.dir }).json<Telemetry>();
    expect(future.success).toMatchObject({ done: 0, failed: 0, attempts: 0 });
    const human = cli(['stats'], { cwd: tmp.dir });
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('2 done');
    expect(human.stdout).toContain('E_EXIT 1');
    expect(human.stdout).toMatch(/agent-2 +infrastructure/);
    const bad = cli(['stats', '--since', 'yesterday'], { cwd: tmp.dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/duration/);
  });

  it('does not parse the lines of changes that move no task, and parses every other', async () => {
    const ws = await initWorkspace({ dir: tmp.dir });
    try {
      const task = await ws.addTask({ title: 'held', run: 'true' });
      const claimed = await ws.claim('agent-1', { taskId: task.id });
      const held = { task: task.id, token: claimed?.lease?.token };
      await ws.apply((ctx) => planHeartbeat(ctx, new Map([['agent-1', held]])));
      await ws.renew(task.id, 'agent-1');
      await ws.apply((ctx) => planCheckpoint(ctx, 'agent-1', { task: task.id, step: 'x' }), 'agent-1');
      await ws.complete(task.id, { agent: 'agent-1' });
    } finally {
      await ws.close();
    }
    const read = await openWorkspace({ home: tmp.dir, readOnly: true });
    try {
      const decoded: string[] = [];
      const heads: EntryHead[] = [];
      await read.history.forEach(
        (entry) => {
          decoded.push(entry.op);
        },
        {
          heads: { decode: movesTasks, onHead: (head) => heads.push(head) },
        },
      );
      expect(decoded).toEqual(['add', 'claim', 'complete']);
      expect(heads.map((h) => h.op)).toEqual(['init', 'heartbeat', 'renew', 'checkpoint']);
      const all = (await read.history.tail(10)).entries;
      expect(heads[1]).toEqual({ seq: 4, at: all[3]!.at, op: 'heartbeat', hasTasks: true });
      expect((await collectTelemetry(read.history)).entries).toBe(7);
    } finally {
      await read.close();
    }
  });

  it('counts the lines the store cannot read and skips them', async () => {
    const ws = await initWorkspace({ dir: tmp.dir });
    try {
      const task = await ws.addTask({ title: 'one', run: 'true' });
      await ws.claim('agent-1', { taskId: task.id });
      await ws.complete(task.id, { agent: 'agent-1' });
      const before = await collectTelemetry(ws.history);
      expect(before.unreadable).toBe(0);
      const segment = path.join(ws.home, 'journal', '000001.jsonl');
      const lines = fs.readFileSync(segment, 'utf8').split('\n');
      // A line that is not JSON, and a copy of the completion whose crc no longer matches.
      fs.appendFileSync(segment, `{"seq": 3, not json\n${lines.at(-2)!.replace('"done"', '"ready"')}\n`);
      const after = await collectTelemetry(ws.history);
      expect(after.unreadable).toBe(2);
      expect(after.entries).toBe(before.entries);
      expect(after.success).toEqual(before.success);
    } finally {
      await ws.close();
    }
  });

  it('--since takes a duration back from now or a date', () => {
    const now = new Date('2025-06-01T12:00:00.000Z');
    expect(parseSince('90m', now).toISOString()).toBe('2025-06-01T10:30:00.000Z');
    expect(parseSince('2025-05-31', now).toISOString()).toBe('2025-05-31T00:00:00.000Z');
    expect(() => parseSince('2025-13-45', now)).toThrow(/not a date/);
  });
});
