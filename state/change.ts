/**
 * What a transaction records: a change planned against the state, and how it becomes the body of
 * one journal entry. One entry holds the whole change, so a task moving between two stores is atomic.
 */
import { DreamError } from './errors.js';
import {
  type AgentState,
  type Alert,
  type Checkpoint,
  JournalEntry,
  type Mail,
  SCHEMA_VERSION,
  type Task,
} from './schemas.js';
import type { Counters, StateView } from './state-index.js';

/** What a transaction wants to record. Objects are whole new states; `rev` is filled in here. */
export interface Change {
  op: string;
  by: string;
  tasks?: Task[];
  archived?: string[];
  alerts?: Alert[];
  agents?: AgentState[];
  mail?: Mail[];
  checkpoints?: Checkpoint[];
  config?: unknown;
  counters?: Partial<Counters>;
  /** Set by the shared writer: whose request this change answers (docs/decisions/shared-writer.md). */
  req?: { id: string; task: string | null };
}

/** The outcome of one plan in a batch: its result, or why it was refused (nothing recorded for it). */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** A transaction, run inside a turn that JournalDb.exclusive() gave. */
export type Transact = <U>(plan: (view: StateView, now: Date) => Plan<U>) => Promise<U>;

/**
 * Sees every entry this process reads from the journal or appends to it, in order: the shared
 * writer's request log (state/writer/request-log.ts) follows requests this way, so that the state
 * (JournalDb, PgBackend) knows nothing of the writer's protocol.
 */
export interface EntryObserver {
  onEntry(entry: JournalEntry): void;
  /**
   * Where the state is loaded anew rather than read entry by entry (PostgreSQL, after a failed
   * commit or a crash that took back entries it had read): the first entry number the observer
   * needs to see again, or null for none.
   */
  reloadFrom(): number | null;
  /**
   * The state was loaded anew: what was seen from entry `from` on may have been taken back.
   * `entries` are the journal's entries from `from` on that carry a request id, in order (`from`
   * may be earlier than reloadFrom() asked, never later).
   */
  onReload(entries: readonly JournalEntry[], from: number): void;
}

/** What an observer may do to the db it watches (the narrow context it is given). */
export interface ObservedDb {
  /** Holding the journal lock: make the journal's last segment durable (entries a dead writer left). */
  syncJournal(): void;
  /** How long to keep the journal lock after a transaction when nobody waits for it (ms); null: the usual. */
  setLinger(ms: number | null): void;
  /** Write snapshots after `scale` times as many entries (this process writes for `scale` processes). */
  setSnapshotScale(scale: number): void;
}

/** One plan of a batch, and what to do with its outcome once the batch is durable. */
export interface BatchItem {
  plan: (view: StateView, now: Date) => Plan<unknown>;
  settle: (outcome: Outcome<unknown>) => void;
}

/**
 * A batch in its turn: one turn of the event loop first (requests that have arrived meanwhile are
 * read and join; a process could otherwise go from batch to batch on promises alone), then the
 * items taken, run together, and each settled with its outcome; when the batch fails whole, every
 * item fails with its error.
 */
export async function settleBatch(
  take: () => BatchItem[],
  run: (items: BatchItem[]) => Promise<Outcome<unknown>[]>,
): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  const items = take();
  if (items.length === 0) return;
  let outcomes: Outcome<unknown>[];
  try {
    outcomes = await run(items);
  } catch (error) {
    outcomes = items.map(() => ({ ok: false, error }));
  }
  for (const [i, item] of items.entries()) item.settle(outcomes[i]!);
}

export interface Plan<T> {
  change: Change | null;
  result: T;
}

/**
 * Every object of `change` stamped with `rev` = `seq`, in place: planners build fresh objects and
 * return some of them as their result, so what a caller gets back is exactly what was recorded.
 * Returns how many objects were stamped.
 */
export function stampRev(change: Change, seq: number): number {
  let stamped = 0;
  for (const items of [change.tasks, change.alerts, change.agents, change.mail, change.checkpoints]) {
    for (const item of items ?? []) item.rev = seq;
    stamped += items?.length ?? 0;
  }
  return stamped;
}

/**
 * The journal entry's body for `change` as entry `seq` (without its sequence number and crc): every
 * object stamped with `rev` = `seq`, and counters never going back. A change that does not fit the
 * schema is refused here, before it is journaled.
 */
export function entryBody(change: Change, seq: number, now: Date, current: Readonly<Counters>) {
  stampRev(change, seq);
  const withRev = <O extends { rev: number }>(items: O[] | undefined) =>
    items?.length ? items.map((item) => ({ ...item, rev: seq })) : undefined;
  const counters = { ...current };
  for (const [k, v] of Object.entries(change.counters ?? {}) as [keyof Counters, number][]) {
    counters[k] = Math.max(counters[k], v);
  }
  const body = {
    at: now.toISOString(),
    by: change.by,
    op: change.op,
    ...(change.tasks?.length ? { tasks: change.tasks.map((task) => ({ task: { ...task, rev: seq } })) } : {}),
    ...(change.archived?.length ? { archived: change.archived } : {}),
    ...(change.alerts?.length ? { alerts: withRev(change.alerts) } : {}),
    ...(change.agents?.length ? { agents: withRev(change.agents) } : {}),
    ...(change.mail?.length ? { mail: withRev(change.mail) } : {}),
    ...(change.checkpoints?.length ? { checkpoints: withRev(change.checkpoints) } : {}),
    ...(change.config !== undefined ? { config: change.config } : {}),
    ...(change.req ? { req: change.req } : {}),
    counters,
  };
  // Every write is validated: a change that does not fit the schema is refused before it is journaled.
  const checked = JournalEntry.safeParse({ schemaVersion: SCHEMA_VERSION, seq, ...body, crc: '00000000' });
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new DreamError(
      'E_INVALID_INPUT',
      `refused to record an invalid change: ${issue?.path.join('.')}: ${issue?.message}`,
    );
  }
  return body;
}
