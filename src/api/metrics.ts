/**
 * `GET /metrics`: the swarm as Prometheus metrics (docs/metrics.md), in prom-client's text format.
 *
 * Two kinds of figures. What the board is now (tasks by stage, agents by status, open alerts, the
 * journal's sequence number) is read from the workspace at each scrape, so it is right whoever
 * made the changes and however long this process has run. What happened (events, transitions,
 * attempt durations, webhook deliveries) is counted from the events this process is handed, from
 * zero when it starts: Prometheus's `rate()` and `increase()` treat the drop at a restart as a
 * reset (docs/decisions/metrics.md).
 *
 * No label carries a task, agent or alert id, a title or a URL: every label takes a value from a
 * short fixed list, so the number of series stays bounded however large the board grows.
 */
import type { Context } from 'hono';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { AGENT_STATUSES, ALERT_KINDS, Alert, STATUSES, type Task } from '../../state/schemas.js';
import { type DreamEvent, EVENT_TYPES } from '../events.js';
import type { Workspace } from '../workspace.js';

/** What the metrics read of the workspace: its view, kept fresh, and the board's summaries. */
export type MetricsSource = Pick<Workspace, 'refresh' | 'view' | 'summary' | 'agentStates' | 'alerts'>;

export interface MetricsOptions {
  /** The process's own figures (CPU, memory, event loop, heap) under their usual names. Default true. */
  processMetrics?: boolean;
}

/**
 * How a webhook delivery attempt ended: `delivered` (a 2xx answer), `failed` (another answer or no
 * answer: it will be retried), `rate_limited` (429 or 503: retried after the receiver's
 * `Retry-After`), `gone` (410: the subscription is disabled), `abandoned` (given up: retries
 * exhausted, or the subscription disabled for failing). Anything else is counted as `other`.
 */
export const WEBHOOK_OUTCOMES = [
  'delivered',
  'failed',
  'rate_limited',
  'gone',
  'abandoned',
  'other',
] as const;
export type WebhookOutcome = (typeof WEBHOOK_OUTCOMES)[number];

export interface Metrics {
  /** This server's own registry (never prom-client's global one). */
  readonly registry: Registry;
  /** The `GET /metrics` handler: every metric in the Prometheus text format. */
  handler(c: Context): Promise<Response>;
  /** Count one event; each is counted once, those at or below the last sequence number seen are ignored. */
  observe(event: DreamEvent): void;
  /** Count one webhook delivery attempt by how it ended (one of WEBHOOK_OUTCOMES, else `other`). */
  webhookOutcome(outcome: string): void;
  /** Drop every metric of the registry, when the server stops. */
  close(): void;
}

/** From a second to eight hours: a shell step to a long agent run. */
const DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14_400, 28_800];
const SEVERITIES = Alert.shape.severity.options;
type HistoryEntry = Task['history'][number];
/** The `from` of a task's first transition, when it is created. */
const CREATED = 'none';

export function createMetrics(workspace: MetricsSource, options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  let lastSeq = 0;

  new Gauge({
    name: 'dreamos_tasks',
    help: 'Tasks on the board by stage (archived tasks are not counted).',
    labelNames: ['stage'],
    registers: [registry],
    collect() {
      const { counts } = workspace.summary();
      for (const stage of STATUSES) this.set({ stage }, counts[stage]);
    },
  });

  new Gauge({
    name: 'dreamos_agents',
    help: 'Configured agents by status.',
    labelNames: ['status'],
    registers: [registry],
    collect() {
      const counts = new Map<string, number>(AGENT_STATUSES.map((s) => [s, 0]));
      for (const agent of workspace.agentStates())
        counts.set(agent.status, (counts.get(agent.status) ?? 0) + 1);
      for (const [status, n] of counts) this.set({ status }, n);
    },
  });

  new Gauge({
    name: 'dreamos_agents_paused',
    help: 'Configured agents paused by the operator, whatever they are doing.',
    registers: [registry],
    collect() {
      this.set(workspace.agentStates().filter((a) => a.paused).length);
    },
  });

  new Gauge({
    name: 'dreamos_alerts_open',
    help: 'Open alerts (neither acknowledged nor resolved) by kind and severity.',
    labelNames: ['kind', 'severity'],
    registers: [registry],
    collect() {
      const counts = new Map<string, number>();
      for (const alert of workspace.alerts('open')) {
        const key = `${alert.kind} ${alert.severity}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      for (const kind of ALERT_KINDS)
        for (const severity of SEVERITIES)
          this.set({ kind, severity }, counts.get(`${kind} ${severity}`) ?? 0);
    },
  });

  new Gauge({
    name: 'dreamos_journal_sequence',
    help: 'The sequence number of the last journal entry this process has seen.',
    registers: [registry],
    collect() {
      workspace.refresh();
      this.set(Math.max(workspace.view.seq, lastSeq));
    },
  });

  const events = new Counter({
    name: 'dreamos_events_total',
    help: 'Events (journal entries) this process has seen since it started, by type.',
    labelNames: ['type'],
    registers: [registry],
  });
  for (const type of EVENT_TYPES) events.inc({ type }, 0);

  const transitions = new Counter({
    name: 'dreamos_task_transitions_total',
    help: `Task moves between stages this process has seen since it started (from "${CREATED}": created).`,
    labelNames: ['from', 'to'],
    registers: [registry],
  });

  const durations = new Histogram({
    name: 'dreamos_task_attempt_duration_seconds',
    help: 'How long attempts took, from the claim to done or failed, among those that ended since this process started.',
    labelNames: ['outcome'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  for (const outcome of ['done', 'failed']) durations.zero({ outcome });

  const webhooks = new Counter({
    name: 'dreamos_webhook_deliveries_total',
    help: 'Webhook delivery attempts this process has made since it started, by outcome.',
    labelNames: ['outcome'],
    registers: [registry],
  });
  for (const outcome of WEBHOOK_OUTCOMES) webhooks.inc({ outcome }, 0);

  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });

  /** The transitions an event made to a task: the history entries written at the event's instant. */
  function stepsOf(id: string, event: DreamEvent): { task: Task; steps: HistoryEntry[] } | null {
    // The view may be behind the history this process follows; a task archived since has left it.
    if (workspace.view.seq < event.seq) workspace.refresh();
    const task = workspace.view.task(id);
    if (!task) return null;
    return { task, steps: task.history.filter((h) => h.at === event.at) };
  }

  /** An attempt that ended with `end`: ran from the claim it continues (a resume is no new claim). */
  function observeAttempt(task: Task, end: HistoryEntry, event: DreamEvent): void {
    // A reported failure ends the attempt even when the task goes back to ready for a retry; a
    // lease expiry or a requeue stops it without an outcome.
    const outcome = end.to === 'done' ? 'done' : end.to === 'failed' || event.op === 'fail' ? 'failed' : null;
    if (end.from !== 'working' || outcome === null) return;
    const index = task.history.lastIndexOf(end);
    for (let i = index - 1; i >= 0; i--) {
      const h = task.history[i]!;
      if (h.to === 'working' && h.from !== 'working') {
        const seconds = (Date.parse(end.at) - Date.parse(h.at)) / 1000;
        if (seconds >= 0) durations.observe({ outcome }, seconds);
        return;
      }
    }
  }

  return {
    registry,
    async handler(c) {
      const text = await registry.metrics();
      return c.body(text, 200, { 'content-type': registry.contentType });
    },
    observe(event) {
      if (event.seq <= lastSeq) return;
      lastSeq = event.seq;
      events.inc({ type: event.type });
      for (const brief of event.tasks ?? []) {
        const found = stepsOf(brief.id, event);
        if (!found) continue;
        for (const step of found.steps) {
          transitions.inc({ from: step.from ?? CREATED, to: step.to });
          observeAttempt(found.task, step, event);
        }
      }
    },
    webhookOutcome(outcome) {
      const known = (WEBHOOK_OUTCOMES as readonly string[]).includes(outcome);
      webhooks.inc({ outcome: known ? outcome : 'other' });
    },
    close() {
      registry.clear();
    },
  };
}
