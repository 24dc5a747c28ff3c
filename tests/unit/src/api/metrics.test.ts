/**
 * `GET /metrics` (src/api/metrics.ts): a real workspace, its history handed over as events, and
 * the text Prometheus would scrape, read back sample by sample.
 */
import { Hono } from 'hono';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMetrics, type Metrics } from '../../../../src/api/metrics.js';
import { planDriftFinding } from '../../../../src/drift/plans.js';
import { eventOf } from '../../../../src/events.js';
import { initWorkspace, type Workspace } from '../../../../src/index.js';
import { defaultAgentState } from '../../../../src/mail.js';
import { planResume } from '../../../../src/orchestrator/plans.js';
import { AGENT_STATUSES, type AgentState, ALERT_KINDS, STATUSES } from '../../../../state/schemas.js';
import { tempDir } from '../../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
let ws: Workspace;
let metrics: Metrics;

beforeEach(async () => {
  tmp = tempDir();
  ws = await initWorkspace({ dir: tmp.dir });
  metrics = createMetrics(ws, { processMetrics: false });
});
afterEach(async () => {
  vi.useRealTimers();
  metrics.close();
  await ws.close();
  tmp.cleanup();
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** The value as written: a float, `NaN`, `+Inf` or `-Inf` (Prometheus reads these in any case). */
  raw: string;
}

interface Scrape {
  status: number;
  contentType: string | null;
  text: string;
  samples: Sample[];
  /** Metric family → its `# TYPE`. */
  types: Map<string, string>;
  helps: Set<string>;
}

/** The exposition format read line by line: `# HELP`, `# TYPE`, and `name{label="value",…} number`. */
function parse(text: string): Pick<Scrape, 'samples' | 'types' | 'helps'> {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const helps = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (comment) {
      if (comment[1] === 'TYPE') types.set(comment[2]!, comment[3]!);
      else helps.add(comment[2]!);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!sample) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[key!] = value!;
    samples.push({ name: sample[1]!, labels, value: Number(sample[3]), raw: sample[3]! });
  }
  return { samples, types, helps };
}

async function scrape(m: Metrics = metrics): Promise<Scrape> {
  const app = new Hono().get('/metrics', (c) => m.handler(c));
  const res = await app.fetch(new Request('http://127.0.0.1/metrics'));
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), text, ...parse(text) };
}

/** The samples of one metric, as `labels → value` rows (labels sorted by name, joined). */
function series(s: Scrape, name: string): Record<string, number> {
  const rows: Record<string, number> = {};
  for (const sample of s.samples.filter((x) => x.name === name)) {
    const key = Object.entries(sample.labels)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    rows[key] = sample.value;
  }
  return rows;
}

function sampleOf(s: Scrape, name: string, labels: Record<string, string> = {}): number | undefined {
  return s.samples.find(
    (x) =>
      x.name === name &&
      Object.keys(x.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([k, v]) => x.labels[k] === v),
  )?.value;
}

/** Hand every entry of the history to the metrics, as the serving process does with each one it reads. */
async function feed(m: Metrics = metrics): Promise<void> {
  await ws.history.forEach((entry) => {
    m.observe(eventOf(entry));
  });
}

/** Every task move recorded in the tasks' own histories, counted by `from=…,to=…`. */
function movesOnTheBoard(): Record<string, number> {
  const moves: Record<string, number> = {};
  for (const task of ws.listTasks())
    for (const h of task.history) {
      const key = `from=${h.from ?? 'none'},to=${h.to}`;
      moves[key] = (moves[key] ?? 0) + 1;
    }
  return moves;
}

const T0 = Date.parse('2026-03-01T09:00:00.000Z');
/** Set the clock `s` seconds after T0 (only `Date`: timers and I/O run as usual). */
const clockAt = (s: number) => vi.setSystemTime(T0 + s * 1000);

/**
 * A board with one task of each fate and attempts of known lengths: A done after 90 s, B failed
 * after 30 s (retried) then after 4,000 s (final), C working, D cancelled, E waiting on C.
 */
async function playBoard() {
  vi.useFakeTimers({ toFake: ['Date'] });
  clockAt(0);
  const a = await ws.addTask({ title: 'A', run: 'true' });
  const b = await ws.addTask({ title: 'B', run: 'false' });
  const c = await ws.addTask({ title: 'C', run: 'true', dependsOn: [a.id] });
  const d = await ws.addTask({ title: 'D', run: 'true' });
  clockAt(10);
  await ws.claim('agent-1', { taskId: a.id });
  clockAt(100);
  await ws.complete(a.id, { summary: 'built' });
  clockAt(200);
  await ws.claim('agent-2', { taskId: b.id });
  clockAt(230);
  await ws.fail(b.id, { reason: 'exit 1' });
  clockAt(5000);
  await ws.claim('agent-2', { taskId: b.id });
  clockAt(9000);
  await ws.fail(b.id, { reason: 'exit 1 again', final: true });
  await ws.cancel(d.id, 'not needed');
  await ws.claim('agent-3', { taskId: c.id });
  const e = await ws.addTask({ title: 'E', run: 'true', dependsOn: [c.id] });
  vi.useRealTimers();
  return { a, b, c, d, e };
}

describe('GET /metrics', () => {
  it('counts the tasks of every stage as the board holds them, zeros included', async () => {
    await playBoard();
    const s = await scrape();
    expect(s.status).toBe(200);
    const byStage = series(s, 'dreamos_tasks');
    expect(Object.keys(byStage).sort()).toEqual(STATUSES.map((stage) => `stage=${stage}`).sort());
    for (const stage of STATUSES)
      expect(byStage[`stage=${stage}`]).toBe(ws.listTasks({ status: stage }).length);
    expect(byStage).toEqual({
      'stage=backlog': 1,
      'stage=ready': 0,
      'stage=working': 1,
      'stage=review': 0,
      'stage=done': 1,
      'stage=failed': 1,
      'stage=cancelled': 1,
    });

    // A change made after the first scrape shows at the next one, with no event handed over.
    await ws.addTask({ title: 'F', run: 'true' });
    expect(sampleOf(await scrape(), 'dreamos_tasks', { stage: 'ready' })).toBe(1);
  });

  it('counts events and task moves once each, and times attempts from claim to end', async () => {
    await playBoard();
    await feed();
    await feed(); // the same events again (a replay) are not counted twice
    const s = await scrape();

    const events = series(s, 'dreamos_events_total');
    expect(events).toMatchObject({
      'type=task.created': 5,
      'type=task.claimed': 4,
      'type=task.done': 1,
      'type=task.failed': 2,
      'type=task.cancelled': 1,
      'type=task.expired': 0,
    });
    let entries = 0;
    await ws.history.forEach(() => {
      entries++;
    });
    expect(Object.values(events).reduce((x, y) => x + y, 0)).toBe(entries);

    const moves = series(s, 'dreamos_task_transitions_total');
    expect(moves).toEqual(movesOnTheBoard());
    expect(moves['from=working,to=done']).toBe(1);
    expect(moves['from=working,to=failed']).toBe(1);
    expect(moves['from=working,to=ready']).toBe(1);

    const durations = 'dreamos_task_attempt_duration_seconds';
    expect(sampleOf(s, `${durations}_count`, { outcome: 'done' })).toBe(1);
    expect(sampleOf(s, `${durations}_sum`, { outcome: 'done' })).toBe(90);
    expect(sampleOf(s, `${durations}_bucket`, { outcome: 'done', le: '60' })).toBe(0);
    expect(sampleOf(s, `${durations}_bucket`, { outcome: 'done', le: '120' })).toBe(1);
    expect(sampleOf(s, `${durations}_count`, { outcome: 'failed' })).toBe(2);
    expect(sampleOf(s, `${durations}_sum`, { outcome: 'failed' })).toBe(4030);
    expect(sampleOf(s, `${durations}_bucket`, { outcome: 'failed', le: '30' })).toBe(1);
    expect(sampleOf(s, `${durations}_bucket`, { outcome: 'failed', le: '3600' })).toBe(1);
    expect(sampleOf(s, `${durations}_bucket`, { outcome: 'failed', le: '7200' })).toBe(2);
  });

  it('times a resumed attempt from its first claim: a resume after a crash continues it', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    clockAt(0);
    const t = await ws.addTask({ title: 'long', run: 'true' });
    await ws.claim('agent-1', { taskId: t.id });
    clockAt(50);
    expect(await ws.apply((ctx) => planResume(ctx, 'agent-1', t.id), 'agent-1')).toMatchObject({
      status: 'working',
    });
    clockAt(80);
    await ws.complete(t.id);
    vi.useRealTimers();
    await feed();
    const s = await scrape();
    expect(sampleOf(s, 'dreamos_task_attempt_duration_seconds_count', { outcome: 'done' })).toBe(1);
    expect(sampleOf(s, 'dreamos_task_attempt_duration_seconds_sum', { outcome: 'done' })).toBe(80);
    expect(sampleOf(s, 'dreamos_task_transitions_total', { from: 'working', to: 'working' })).toBe(1);
    expect(sampleOf(s, 'dreamos_events_total', { type: 'task.resumed' })).toBe(1);
  });

  it('reports the journal sequence number the board has reached, events handed over or not', async () => {
    const before = await scrape();
    expect(sampleOf(before, 'dreamos_journal_sequence')).toBe(ws.view.seq);
    await playBoard();
    // Nothing handed over yet: the board itself has moved on.
    const s = await scrape();
    expect(sampleOf(s, 'dreamos_journal_sequence')).toBe(ws.view.seq);
    expect(ws.view.seq).toBeGreaterThan(sampleOf(before, 'dreamos_journal_sequence')!);
    let last = 0;
    await ws.history.forEach((e) => {
      last = e.seq;
    });
    expect(sampleOf(s, 'dreamos_journal_sequence')).toBe(last);
  });

  it('shows agents by status, paused agents, and open alerts by kind and severity', async () => {
    const first = await scrape();
    expect(series(first, 'dreamos_agents')).toEqual(
      Object.fromEntries(
        AGENT_STATUSES.map((status) => [`status=${status}`, status === 'idle' ? ws.config.agents.length : 0]),
      ),
    );
    expect(Object.keys(series(first, 'dreamos_alerts_open'))).toHaveLength(ALERT_KINDS.length * 3);
    expect(Object.values(series(first, 'dreamos_alerts_open')).every((n) => n === 0)).toBe(true);

    // agent-2 runs a task for an orchestrator on another host that stopped beating: a stall.
    const t = await ws.addTask({ title: 'long', run: 'sleep 60' });
    await ws.claim('agent-2', { taskId: t.id });
    const minuteAgo = new Date(Date.now() - 60_000).toISOString();
    await setAgent('agent-2', {
      status: 'working',
      task: t.id,
      runner: { pid: 999_999, host: 'another-host', startedAt: minuteAgo },
      heartbeatAt: minuteAgo,
    });
    const stall = await ws.apply(
      (ctx) =>
        planDriftFinding(ctx, { agents: ws.config.agents }, 'stall', 'stall:agent-2', {
          mine: new Set(),
          agentIds: ws.config.agents.map((a) => a.id),
        }),
      'drift',
    );
    expect(stall?.alert).toMatchObject({ kind: 'stall', severity: 'critical', status: 'open' });
    await ws.directAgent('agent-3', 'pause');

    const s = await scrape();
    expect(sampleOf(s, 'dreamos_alerts_open', { kind: 'stall', severity: 'critical' })).toBe(1);
    const open = Object.values(series(s, 'dreamos_alerts_open')).reduce((x, y) => x + y, 0);
    expect(open).toBe(ws.alerts('open').length);
    expect(open).toBe(1);
    const agents = series(s, 'dreamos_agents');
    expect(agents).toMatchObject({ 'status=stale': 1, 'status=paused': 1, 'status=working': 0 });
    expect(agents['status=idle']).toBe(ws.config.agents.length - 2);
    expect(sampleOf(s, 'dreamos_agents_paused')).toBe(1);

    // Acknowledged, it is no longer open.
    await ws.setAlertStatus(stall!.alert.id, 'acknowledged');
    expect(sampleOf(await scrape(), 'dreamos_alerts_open', { kind: 'stall', severity: 'critical' })).toBe(0);
  });

  it('counts webhook deliveries by outcome, an unknown outcome as other', async () => {
    metrics.webhookOutcome('delivered');
    metrics.webhookOutcome('delivered');
    metrics.webhookOutcome('gone');
    metrics.webhookOutcome('https://hooks.example/T-00001?secret=whsec_abc');
    const s = await scrape();
    expect(series(s, 'dreamos_webhook_deliveries_total')).toEqual({
      'outcome=delivered': 2,
      'outcome=failed': 0,
      'outcome=rate_limited': 0,
      'outcome=gone': 1,
      'outcome=abandoned': 0,
      'outcome=other': 1,
    });
    expect(s.text).not.toContain('whsec_');
    expect(s.text).not.toContain('hooks.example');
  });

  it('answers valid Prometheus text: every sample under a TYPE and a HELP, no id in any label', async () => {
    const withProcess = createMetrics(ws);
    try {
      const { a } = await playBoard();
      await feed(withProcess);
      const s = await scrape(withProcess);
      expect(s.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(s.samples.length).toBeGreaterThan(0);
      for (const sample of s.samples) {
        const family = [...s.types.keys()].find(
          (name) => sample.name === name || /^_(bucket|sum|count)$/.test(sample.name.slice(name.length)),
        );
        expect(family, sample.name).toBeDefined();
        expect(s.helps.has(family!), family).toBe(true);
        if (sample.name !== family) expect(s.types.get(family!)).toMatch(/^(histogram|summary)$/);
        expect(sample.raw, sample.name).toMatch(/^(nan|[+-]inf|[+-]?\d+(\.\d+)?(e[+-]?\d+)?)$/i);
      }
      for (const [name, type] of s.types) {
        if (type === 'counter') expect(name).toMatch(/_total$/);
        if (name.startsWith('dreamos_') && type === 'histogram') expect(name).toMatch(/_seconds$/);
      }
      // The process's own figures, under their usual names.
      expect(s.types.get('process_cpu_user_seconds_total')).toBe('counter');
      expect(s.text).not.toContain(a.id);
      expect(s.text).not.toContain('agent-1');
      // Two servers in one process keep apart: each has its own registry.
      expect(sampleOf(await scrape(), 'dreamos_events_total', { type: 'task.created' })).toBe(0);
    } finally {
      withProcess.close();
    }
  });
});

function setAgent(id: string, patch: Partial<AgentState>) {
  return ws.apply((ctx) => ({
    change: {
      op: 'test-agent',
      by: 'test',
      agents: [
        {
          ...(ctx.view.agentState(id) ?? defaultAgentState(id, ctx.now)),
          ...patch,
          updatedAt: ctx.now.toISOString(),
          rev: 0,
        },
      ],
    },
    result: undefined,
  }));
}
