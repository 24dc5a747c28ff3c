/**
 * The seam between the workspace and where its state is kept. Everything above `state/` (the
 * workspace facade, the orchestrator, doctor, the console) reaches the state through `StateBackend`
 * and opens the one config.json names through `backendFactory` (state/backends.ts). The journaled
 * JSON store is the first implementation (state/json-backend.ts); a second one registers beside it.
 * See docs/decisions/state-backend.md.
 */
import type { BatchItem, Change, Plan } from './change.js';
import type { LockHolder } from './lock/index.js';
import type { WorkspacePaths } from './paths.js';
import type { RecoveryNotice } from './recovery.js';
import type { JournalEntry, Task } from './schemas.js';
import type { StateView } from './state-index.js';

export type { BatchItem, Change, Outcome, Plan } from './change.js';
export type { RecoveryNotice } from './recovery.js';
export type { StateView } from './state-index.js';

/** A plan as a backend runs it: against the state as of the transaction, with its clock. */
export type PlanFn<T> = (view: StateView, now: Date) => Plan<T>;

/**
 * One of the hot changes (claim, renew, complete, fail), which a backend may make for several
 * processes together: its JSON arguments travel, and are planned the same way on both sides.
 */
export interface HotRequest {
  op: string;
  args: unknown;
  actor: string;
}

/** The change a hot request stands for, as the asking process plans it, and how to check an answer. */
export interface HotChange<T> {
  plan: PlanFn<T>;
  /** Validates a value another process answered (every read is validated). */
  check: (value: unknown) => T;
}

/** Turns a hot request from another process into its change: checks its arguments, or throws. */
export type ResolveHot = (op: string, args: unknown, actor: string) => HotChange<unknown>;

/** How this process takes part in sharing writes with others: its role and what it has done so far. */
export interface WriterStatus {
  role: 'writer' | 'client' | 'none';
  /**
   * As the writer: requests served, batches made, requests refused because their asker had settled
   * them already. As a client: requests asked, settled without the writer's answer, made itself.
   */
  stats: Readonly<Record<'served' | 'batches' | 'stale' | 'asked' | 'recovered' | 'direct', number>>;
}

/** Something a backend's own check found wrong with the stored state, and whether it was fixed. */
export interface HealthProblem {
  code:
    | 'corrupt-file'
    | 'config'
    | 'duplicate'
    | 'two-stores'
    | 'journal-mismatch'
    | 'journal-damage'
    | 'stale-lock'
    | 'expired-lease'
    | 'stray-file'
    | 'recovered'
    /** The stored state's layout is not the one this Dream.OS reads. */
    | 'schema'
    /** Entries are missing from the middle or the start of the journal. */
    | 'journal-gap'
    /** A stored object that disagrees with itself, or that the journal says should not be there. */
    | 'orphan-row'
    /** A stored object that does not fit its schema. */
    | 'invalid-row'
    /** A git worktree in `.dreamos` that no task, merge or agent needs (doctor's own check). */
    | 'leftover-worktree'
    /** A tmux server of a `pty` agent's session left with no task of the agent to run. */
    | 'leftover-session';
  message: string;
  path?: string;
  task?: string;
  repaired?: boolean;
}

/** What a backend's check found (doctor shows it), and what it repaired. */
export interface HealthReport {
  problems: HealthProblem[];
  repaired: string[];
  /** A repair set stored state aside: opening the state again rebuilds it. */
  reopen: boolean;
}

/** The part of a backend that makes and reads changes: the journaled store (state/db.ts) is one. */
export interface StateStore {
  /** The state as of this process's last change or refresh. */
  readonly view: StateView;
  /** What recovery found and handled (quarantined, rebuilt, repaired), for the user. */
  readonly notices: readonly RecoveryNotice[];
  /** Catch up with changes made by other processes. */
  refresh(): void;
  /** One change, planned against the state as of the transaction: recorded whole, or not at all. */
  transact<T>(plan: PlanFn<T>): Promise<T>;
  /**
   * Several plans in one transaction, each planned against the state the ones before it left; a
   * plan that throws records nothing and fails alone. `take` is called when the batch starts.
   */
  transactBatch(take: () => BatchItem[]): Promise<void>;
  /** Make what has been recorded visible to readers that do not replay changes (cached files). */
  flush(): Promise<void>;
  /** Let go of everything (locks, connections), after bringing what readers see up to date. */
  close(): Promise<void>;
}

declare const opaque: unique symbol;

/**
 * How far a reader has read the history, to follow it from. Opaque: only the backend that made it
 * knows what it holds (a position in the journal, a sequence number).
 */
export interface HistoryMark {
  readonly [opaque]: 'HistoryMark';
}

/** What a reader learns of an entry without reading it whole: enough to decide whether to. */
export interface EntryHead {
  seq: number;
  at: string;
  op: string;
  /** The entry carries tasks (their whole new state). */
  hasTasks: boolean;
}

/**
 * Entries a reader needs only the head of. Reading an entry whole is most of the cost of reading
 * the history: a reader that sums it up skips that for the entries it does not look into.
 */
export interface HeadsOnly {
  /** Whether to read this entry whole (and hand it to onEntry); otherwise its head goes to onHead. */
  decode: (head: EntryHead) => boolean;
  onHead: (head: EntryHead) => void;
}

export interface ForEachOptions {
  /** Each entry that cannot be read, with the reason (it is skipped). */
  onUnreadable?: (reason: string) => void;
  heads?: HeadsOnly;
}

export interface TailOptions {
  matches?: (entry: JournalEntry) => boolean;
  /** A bound on how much of the history is looked through, in bytes; a backend may need less. */
  maxBytes?: number;
}

/** Something that calls back until it is closed. */
export interface Watching {
  close(): void;
}

export interface WatchOptions {
  /** Keep the process alive while watching (default true). */
  persistent?: boolean;
  /** Watching failed after it started; without it, the failure is thrown where it happens. */
  onError?: (error: Error) => void;
}

/** Entries a follower will never see: deleted (by the journal's retention) before it read them. */
export interface LostEntries {
  /** The first and last sequence number lost. */
  from: number;
  to: number;
}

export interface FollowOptions {
  /**
   * Called, before the entries that follow them, when entries after the mark were deleted before
   * they were read: the follower goes on from the first entry that is left. A backend whose journal
   * is never trimmed never calls it.
   */
  onLost?: (lost: LostEntries) => void;
}

/**
 * The entries written after a mark, each time `readNew()` is called. One read at a time: a caller
 * awaits each `readNew()` before the next, or the entries of two reads may come out of order.
 */
export interface HistoryFollower {
  /** The entries written since the last read, oldest first; the mark moves past them once they are read. */
  readNew(): Promise<JournalEntry[]>;
  readonly mark: HistoryMark;
}

/**
 * Every change ever made, as entries, oldest first, for what shows or sums it up (`dreamos log`,
 * `dreamos stats`, the console's journal view). Reading takes no lock and changes nothing. Reads
 * are asynchronous, as a backend over the network must make them; the history object itself is
 * made at once, and a backend that connects does so within its first read.
 */
export interface History {
  /**
   * Every entry, oldest first, streamed: `onEntry` is called as entries are read, never with the
   * whole history held. Resolves, once the last has been handed over, to a mark at the end.
   */
  forEach(onEntry: (entry: JournalEntry) => void, options?: ForEachOptions): Promise<HistoryMark>;
  /** The last `limit` entries that match, oldest first, and a mark at the end of the history. */
  tail(limit: number, options?: TailOptions): Promise<{ entries: JournalEntry[]; mark: HistoryMark }>;
  /** New entries after `mark` (default: from the start), as they are written. Reads nothing yet. */
  follow(mark?: HistoryMark, options?: FollowOptions): HistoryFollower;
  /**
   * Call `onMaybeChanged` whenever entries may have been added, by any process, until closed. It
   * may be called when nothing was added, and a change may be missed where the backend cannot
   * see it: readers that must not miss one check now and then as well.
   */
  watch(onMaybeChanged: () => void, options?: WatchOptions): Watching;
}

export interface StateBackend extends StateStore {
  /** The registered name this backend was opened by (state/backends.ts). */
  readonly name: string;
  /** Every change made to this state, as entries. */
  readonly history: History;
  /**
   * Call `onMaybeChanged` whenever any process may have changed the state, until closed (the same
   * wake-up as the history's, whose entries every change adds to). The view catches up on refresh.
   */
  watch(onMaybeChanged: () => void, options?: WatchOptions): Watching;
  /**
   * Make a hot change: the backend may hand it to another process that writes for many (the JSON
   * store's shared writer), or make it itself. The view shows it from the next look on.
   */
  hot<T>(request: HotRequest, local: HotChange<T>): Promise<T>;
  /** This process's part in shared writes, or null when it writes only for itself. */
  readonly writer: WriterStatus | null;
  /** Who holds the lock every write needs, and whether it can let go; null when nobody does or there is none. */
  writeLockHolder(): LockHolder | null;
  /**
   * For long-running processes, between their work: find and repair stored state changed behind
   * the backend's back (returns what was found), and bring cached files up to date.
   */
  upkeep(): Promise<RecoveryNotice[]>;
  /** doctor: check the stored state against itself; with `repair`, fix what can be fixed. */
  check(options: { repair: boolean }): Promise<HealthReport>;
  /**
   * Whether `holder` leads `role` until `ttlMs` from now: claims the role when nobody holds it or
   * its holder let it run out, renews it when `holder` has it, and answers false while another
   * holder's term runs. The work one process does for all (the orchestrator's sweeps) runs only
   * while this answers true (docs/decisions/sweep-leader.md). A holder that stops renewing loses
   * the role once its term has run out, judged by the backend's one clock; a term of 0 gives it up.
   */
  lead(role: string, holder: string, ttlMs: number): Promise<boolean>;
  /**
   * The task that has this dedupe key, on the board or archived (`view.dedupe(key)` names it);
   * null when no task has it, or its archived copy is no longer kept.
   */
  dedupedTask(key: string): Promise<Task | null>;
}

export interface BackendOptions {
  lockTimeoutMs?: number;
  /** How many changes between two rewrites of cached files (the JSON store's snapshots). */
  snapshotEvery?: number;
  /** Only read: nothing is written, not even recovery (what it would do is reported). */
  readOnly?: boolean;
  /**
   * Share writes with the other long-lived processes on this workspace: only processes whose
   * configuration has the same digest are served, and `resolve` plans what they ask.
   */
  share?: { config: string; resolve: ResolveHot } | null;
}

/** A kind of backend, as registered in state/backends.ts. */
export interface BackendFactory {
  /** Open the state of an existing workspace. */
  open(paths: WorkspacePaths, options: BackendOptions): Promise<StateBackend>;
  /**
   * Create the state of a new workspace (its folders, for one kept in files), whose first change is
   * `first` (the initial configuration). The workspace folder itself exists already.
   */
  create(paths: WorkspacePaths, first: Change): Promise<StateBackend>;
  /**
   * doctor, before the workspace is opened: problems that would stop it opening (stale locks),
   * and the configuration the state last recorded, from which a broken config.json is restored.
   */
  inspect(paths: WorkspacePaths, options: { repair: boolean }): Promise<HealthReport & { config: unknown }>;
  /**
   * Whether `paths.home`, whose config.json names this backend, holds its state: tells a workspace
   * folder from a project's folder with a config.json of its own.
   */
  looksLikeWorkspace(paths: WorkspacePaths): boolean;
  /** The history of an existing workspace, read without opening its state (`dreamos log`). */
  history(paths: WorkspacePaths): History;
}
