/**
 * Telemetry derived from the journal, the one record of everything that happened: how many
 * tasks get done per hour, how often work succeeds, how long it takes per role and per agent, how
 * busy each agent is, the tokens and money spent, and the failures by typed error code.
 *
 * Every journal entry carries the whole new state of the tasks it changed, history included, so
 * each transition is seen once, in order, as history entries the previous state of the task did not
 * have. The history is streamed, never held whole: memory grows with the number of tasks, not with
 * the size of the journal. An entry the store would skip (unreadable, or repeated) is skipped here
 * too; an unreadable one is counted.
 *
 * Definitions (all within the window `[since, until]`):
 * - done / failed / cancelled: tasks that reached that end (a task failed, retried, then done counts
 *   once in each).
 * - success rate: done / (done + failed); attempt success: attempts that ended ok / attempts that ended.
 * - an attempt runs from a claim (ready → working) to the end of the work (working → done, failed, or
 *   ready for a retry); a resume after a crash continues the attempt. Duration = claim → done.
 * - utilisation: the share of the window an agent held a task in working.
 * - tokens and cost: the usage of each attempt that ended; failures: each attempt that ended with an
 *   error, by `result.errorCode`, and each lease expiry (E_STALLED).
 */
import type { EntryHead, History } from '../state/backend.js';

/**
 * Changes that never move a task (leases renewed, agents' state, checkpoints): only their head is
 * read, never the whole entry, which is most of the cost.
 */
const NO_TRANSITION_OPS = new Set([
  'heartbeat',
  'renew',
  'agent-state',
  'agents-take',
  'agents-release',
  'checkpoint',
]);

/** Whether telemetry needs the whole entry: it may move a task. */
export const movesTasks = (head: EntryHead): boolean => head.hasTasks && !NO_TRANSITION_OPS.has(head.op);
const HOUR_MS = 3_600_000;

export interface Percentiles {
  count: number;
  /** Seconds. */
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

export interface AgentFigures {
  role: string | null;
  done: number;
  attempts: number;
  attemptsFailed: number;
  workingSeconds: number;
  /** Share of the window spent working, 0 to 1. */
  utilisation: number;
  inputTokens: number;
  outputTokens: number;
  usd: number;
  durations: Percentiles;
}

export interface Telemetry {
  /** The window: from `since` (or the first journal entry) to `until`. */
  since: string | null;
  until: string;
  hours: number;
  entries: number;
  unreadable: number;
  throughput: { done: number; perHour: number | null; lastHour: number };
  success: {
    done: number;
    failed: number;
    cancelled: number;
    rate: number | null;
    attempts: number;
    attemptsOk: number;
    attemptRate: number | null;
  };
  durations: { all: Percentiles; byRole: Record<string, Percentiles>; byAgent: Record<string, Percentiles> };
  agents: Record<string, AgentFigures>;
  usage: { inputTokens: number; outputTokens: number; usd: number };
  /** Attempts that used tokens at an unknown price (not in `usd`): overall and by agent. */
  unpriced: { attempts: number; byAgent: Record<string, number> };
  /** Failed attempts (and lease expiries) by typed error code. */
  failures: Record<string, number>;
}

export interface TelemetryOptions {
  /** Only what happened from then on (default: everything). */
  since?: Date;
  /** The end of the window (default: now). */
  until?: Date;
  /** Each agent's role, for the figures per role (from config.json). */
  roles?: ReadonlyMap<string, string>;
}

interface HistoryLike {
  from: string | null;
  to: string;
  by: string;
  at: string;
}

interface TaskLike {
  id: string;
  role?: string;
  agent: string | null;
  stalls?: number;
  result: {
    ok: boolean;
    errorCode?: string;
    usage?: { inputTokens?: number; outputTokens?: number; usd?: number };
  } | null;
  history: HistoryLike[];
}

interface EntryLike {
  seq: number;
  at: string;
  op?: string;
  tasks?: Array<{ task: TaskLike }>;
}

/** What is remembered of each task between entries. */
interface Seen {
  history: number;
  stalls: number;
  /** The agent holding it in working, since when, and when the attempt was claimed. */
  agent: string | null;
  since: number;
  claimedAt: number;
}

/** Nearest-rank percentiles, in seconds. */
export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { count: 0, p50: null, p90: null, p99: null };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  return { count: sorted.length, p50: at(0.5), p90: at(0.9), p99: at(0.99) };
}

const ratio = (a: number, b: number) => (b > 0 ? a / b : null);

/** Accumulates telemetry over journal entries given in order. */
/**
 * A cost for people: dollars, "unknown" when every attempt with tokens had no price, and a note
 * when only some had one (so that a partial sum is never read as the whole).
 */
export function costText(usd: number, unpriced: number, digits?: number): string {
  const dollars = `$${usd.toFixed(digits ?? (usd >= 1 ? 2 : 4))}`;
  if (unpriced === 0) return dollars;
  return usd > 0 ? `${dollars} + unknown` : 'unknown';
}

export class TelemetryBuilder {
  private readonly since: number;
  private readonly until: number;
  private first = Number.POSITIVE_INFINITY;
  private lastSeq = 0;
  private readonly tasks = new Map<string, Seen>();
  private readonly agents = new Map<string, { figures: AgentFigures; durations: number[] }>();
  private readonly durations: number[] = [];
  private readonly byRole = new Map<string, number[]>();
  private readonly failures = new Map<string, number>();
  private readonly usage = { inputTokens: 0, outputTokens: 0, usd: 0 };
  private readonly unpriced = new Map<string, number>();
  private unpricedAttempts = 0;
  private readonly ends = { done: 0, failed: 0, cancelled: 0 };
  private lastHour = 0;
  private attempts = 0;
  private attemptsOk = 0;
  entries = 0;
  unreadable = 0;

  constructor(private readonly options: TelemetryOptions = {}) {
    this.since = options.since?.getTime() ?? Number.NEGATIVE_INFINITY;
    this.until = (options.until ?? new Date()).getTime();
  }

  add(entry: EntryLike): void {
    // A line repeated or out of order (damage) was never applied by the store: skip it here too.
    if (entry.seq <= this.lastSeq) return;
    this.lastSeq = entry.seq;
    this.entries++;
    const at = Date.parse(entry.at);
    if (at < this.first) this.first = at;
    for (const put of entry.tasks ?? []) {
      if (put?.task && Array.isArray(put.task.history)) this.task(put.task, entry.op ?? '');
    }
  }

  private inWindow(t: number): boolean {
    return t >= this.since && t <= this.until;
  }

  private agent(id: string): { figures: AgentFigures; durations: number[] } {
    let a = this.agents.get(id);
    if (!a) {
      a = {
        figures: {
          role: this.options.roles?.get(id) ?? null,
          done: 0,
          attempts: 0,
          attemptsFailed: 0,
          workingSeconds: 0,
          utilisation: 0,
          inputTokens: 0,
          outputTokens: 0,
          usd: 0,
          durations: percentiles([]),
        },
        durations: [],
      };
      this.agents.set(id, a);
    }
    return a;
  }

  /** Working time from `from` to `to`, clipped to the window. */
  private work(agent: string | null, from: number, to: number): void {
    if (!agent) return;
    const start = Math.max(from, this.since);
    const end = Math.min(to, this.until);
    if (end > start) this.agent(agent).figures.workingSeconds += (end - start) / 1000;
  }

  private fail(code: string, agent: string | null): void {
    this.failures.set(code, (this.failures.get(code) ?? 0) + 1);
    if (agent) this.agent(agent).figures.attemptsFailed++;
  }

  private task(task: TaskLike, op: string): void {
    let seen = this.tasks.get(task.id);
    if (!seen) {
      seen = { history: 0, stalls: 0, agent: null, since: 0, claimedAt: 0 };
      this.tasks.set(task.id, seen);
    }
    const history = task.history;
    let attemptEnded: { at: number; agent: string | null; to: string } | null = null;
    for (let i = seen.history; i < history.length; i++) {
      const h = history[i]!;
      const at = Date.parse(h.at);
      if (h.from === 'working') {
        this.work(seen.agent, seen.since, at);
        if (h.to !== 'working' && h.to !== 'cancelled' && h.to !== 'backlog')
          attemptEnded = { at, agent: seen.agent, to: h.to };
        if (h.to === 'done' && this.inWindow(at) && seen.claimedAt > 0) {
          const seconds = (at - seen.claimedAt) / 1000;
          this.durations.push(seconds);
          if (seen.agent) this.agent(seen.agent).durations.push(seconds);
          const role = (seen.agent ? this.options.roles?.get(seen.agent) : undefined) ?? task.role ?? 'any';
          const list = this.byRole.get(role) ?? [];
          list.push(seconds);
          this.byRole.set(role, list);
        }
      }
      if (h.to === 'working') {
        // A claim is made by the agent itself; a resume too. Others fall back to the task's agent.
        const agent = this.options.roles?.has(h.by) ? h.by : (task.agent ?? h.by);
        if (h.from !== 'working') seen.claimedAt = at;
        seen.agent = agent;
        seen.since = at;
      } else if (h.from === 'working') {
        seen.agent = null;
      }
      if (this.inWindow(at)) {
        if (h.to === 'done') {
          this.ends.done++;
          if (at > this.until - HOUR_MS) this.lastHour++;
          const agent = attemptEnded?.agent;
          if (agent && h.from === 'working') this.agent(agent).figures.done++;
        } else if (h.to === 'failed') this.ends.failed++;
        else if (h.to === 'cancelled') this.ends.cancelled++;
      }
    }
    seen.history = Math.max(seen.history, history.length);

    // The attempt's result comes with the transition that ended it: to done or failed, or back to ready
    // by a reported failure (op "fail"). A lease expiry or a requeue keeps the result of an earlier attempt.
    const reported = attemptEnded !== null && (attemptEnded.to !== 'ready' || op === 'fail');
    let counted = false;
    if (attemptEnded && task.result && reported) {
      counted = true;
      if (this.inWindow(attemptEnded.at)) {
        const agent = attemptEnded.agent;
        this.attempts++;
        if (agent) this.agent(agent).figures.attempts++;
        if (task.result.ok) this.attemptsOk++;
        else this.fail(task.result.errorCode ?? 'E_UNTYPED', agent);
        const u = task.result.usage;
        if (u) {
          const input = u.inputTokens ?? 0;
          const output = u.outputTokens ?? 0;
          const usd = u.usd ?? 0;
          if (u.usd === undefined && input + output > 0) {
            this.unpricedAttempts++;
            if (agent) this.unpriced.set(agent, (this.unpriced.get(agent) ?? 0) + 1);
          }
          this.usage.inputTokens += input;
          this.usage.outputTokens += output;
          this.usage.usd += usd;
          if (agent) {
            const f = this.agent(agent).figures;
            f.inputTokens += input;
            f.outputTokens += output;
            f.usd += usd;
          }
        }
      }
    }
    // Lease expiries: each is a stall; the last one, which fails the task, is already counted above.
    const stalls = typeof task.stalls === 'number' ? task.stalls : seen.stalls;
    if (stalls > seen.stalls && attemptEnded && this.inWindow(attemptEnded.at)) {
      const extra = stalls - seen.stalls - (counted && task.result?.errorCode === 'E_STALLED' ? 1 : 0);
      for (let i = 0; i < extra; i++) {
        this.attempts++;
        this.fail('E_STALLED', attemptEnded.agent);
        if (attemptEnded.agent) this.agent(attemptEnded.agent).figures.attempts++;
      }
    }
    seen.stalls = Math.max(seen.stalls, stalls);
  }

  result(): Telemetry {
    const start = Number.isFinite(this.since) ? this.since : Math.min(this.first, this.until);
    const windowMs = Math.max(0, this.until - start);
    const hours = windowMs / HOUR_MS;
    // Tasks still held in working count up to the end of the window.
    const open = new Map<string, number>();
    for (const seen of this.tasks.values()) {
      if (!seen.agent) continue;
      this.agent(seen.agent);
      const from = Math.max(seen.since, this.since);
      if (this.until > from) open.set(seen.agent, (open.get(seen.agent) ?? 0) + (this.until - from) / 1000);
    }
    const agents: Record<string, AgentFigures> = {};
    for (const [id, { figures, durations }] of [...this.agents].sort(([a], [b]) => a.localeCompare(b))) {
      const working = figures.workingSeconds + (open.get(id) ?? 0);
      agents[id] = {
        ...figures,
        workingSeconds: round(working),
        utilisation: windowMs > 0 ? round(Math.min(1, (working * 1000) / windowMs)) : 0,
        usd: round(figures.usd, 6),
        durations: percentiles(durations),
      };
    }
    const byAgent = Object.fromEntries(Object.entries(agents).map(([id, a]) => [id, a.durations]));
    return {
      since: Number.isFinite(this.since) ? new Date(this.since).toISOString() : null,
      until: new Date(this.until).toISOString(),
      hours: round(hours, 4),
      entries: this.entries,
      unreadable: this.unreadable,
      throughput: {
        done: this.ends.done,
        perHour: hours > 0 ? round(this.ends.done / hours) : null,
        lastHour: this.lastHour,
      },
      success: {
        ...this.ends,
        rate: ratio(this.ends.done, this.ends.done + this.ends.failed),
        attempts: this.attempts,
        attemptsOk: this.attemptsOk,
        attemptRate: ratio(this.attemptsOk, this.attempts),
      },
      durations: {
        all: percentiles(this.durations),
        byRole: Object.fromEntries(
          [...this.byRole].sort(([a], [b]) => a.localeCompare(b)).map(([r, d]) => [r, percentiles(d)]),
        ),
        byAgent,
      },
      agents,
      usage: { ...this.usage, usd: round(this.usage.usd, 6) },
      unpriced: {
        attempts: this.unpricedAttempts,
        byAgent: Object.fromEntries([...this.unpriced].sort(([a], [b]) => a.localeCompare(b))),
      },
      failures: Object.fromEntries([...this.failures].sort(([, a], [, b]) => b - a)),
    };
  }
}

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Telemetry over the whole history, read once, in order, one entry at a time. */
export async function collectTelemetry(history: History, options: TelemetryOptions = {}): Promise<Telemetry> {
  const builder = new TelemetryBuilder(options);
  await history.forEach(
    (entry) => {
      builder.add(entry);
    },
    {
      onUnreadable: () => {
        builder.unreadable++;
      },
      heads: { decode: movesTasks, onHead: (head) => builder.add(head) },
    },
  );
  return builder.result();
}
