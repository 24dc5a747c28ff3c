/**
 * The state database: an in-memory view of the workspace (state-index.ts), advanced from the journal
 * tail, with snapshot files (snapshots.ts) written from it: the core of the JSON backend
 * (json-backend.ts), behind the `StateBackend` seam (backend.ts).
 *
 * A transaction: in-process mutex → journal lock → catch up from the journal (re-read inside the
 * lock) → plan the change against the fresh state → validate → append + fdatasync → apply → unlock.
 * One journal line holds the whole change, so a task moving between two stores is atomic.
 *
 * Beside it: the change and its entry (change.ts), how the journal lock is held (journal-lock.ts),
 * recovery from damage (recovery.ts) and snapshot upkeep (snapshot-sync.ts).
 */
import { loadArchiveKeys, readArchivedTask } from './archive-keys.js';
import type { StateStore } from './backend.js';
import {
  type BatchItem,
  type Change,
  type EntryObserver,
  entryBody,
  type ObservedDb,
  type Outcome,
  type Plan,
  settleBatch,
  type Transact,
} from './change.js';
import { DreamError } from './errors.js';
import { Journal, type JournalDamage, listSegments } from './journal.js';
import { JournalLock } from './journal-lock.js';
import type { WorkspacePaths } from './paths.js';
import { loadSnapshots, Recovery, type RecoveryNotice } from './recovery.js';
import { checkLayout } from './safe-files.js';
import type { JournalPosition, Task } from './schemas.js';
import { boardsBehind, closeFailure, replayStart, SnapshotSync } from './snapshot-sync.js';
import { loadSnapshot, REQUIRED_KINDS } from './snapshots.js';
import { type SnapshotKind, StateIndex, type StateView } from './state-index.js';

export type { BatchItem, Change, EntryObserver, ObservedDb, Outcome, Plan, Transact } from './change.js';
export type { RecoveryNotice } from './recovery.js';
export { digestOf } from './snapshots.js';
export type { Counters, SnapshotKind, StateView } from './state-index.js';

export interface DbOptions {
  /** Write snapshots once this many entries have accumulated since the last. */
  snapshotEvery?: number;
  lockTimeoutMs?: number;
  /** Ignore snapshot files and rebuild everything from the journal (doctor). */
  fromJournalOnly?: boolean;
  /**
   * Never write (commands that only read, doctor's comparison replay): what recovery would do is
   * done in memory and reported, and left on disk for the next process that writes.
   */
  readOnly?: boolean;
}

/**
 * How long closing waits for the locks to bring the snapshot files up to date after this process's
 * changes, and opening to record what recovery found (ms).
 */
const CLOSE_FLUSH_WAIT_MS = 2000;

export class JournalDb implements StateStore {
  readonly notices: RecoveryNotice[] = [];
  private readonly mem = new StateIndex();
  private readonly journal: Journal;
  private readonly damage: JournalDamage[] = [];
  private readonly snapshotEvery: number;
  readonly lockTimeoutMs: number;
  private readonly readOnly: boolean;
  /** This process has appended to the journal (what closing may then say was saved). */
  private journaled = false;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** What opening and writing do about damage they find (recovery.ts). */
  private readonly recovery = new Recovery({
    view: this.mem,
    notices: this.notices,
    damage: this.damage,
    repairTornTail: () => this.journal.repairTornTail(),
    quarantineDamage: (damage) => this.journal.quarantineDamage(damage),
    commit: (change) => this.commit(change, new Date()),
  });
  /** Sees every entry read or written (the shared writer's request log), once one is attached. */
  private observer: EntryObserver | null = null;
  /** Snapshot upkeep (snapshot-sync.ts). */
  private readonly snapshots: SnapshotSync;

  private constructor(
    readonly paths: WorkspacePaths,
    start: JournalPosition,
    options: DbOptions,
  ) {
    this.journal = new Journal(paths, start);
    this.snapshotEvery = options.snapshotEvery ?? 2000;
    this.lockTimeoutMs = options.lockTimeoutMs ?? 15_000;
    this.journalLock = new JournalLock(paths.journalLock, this.lockTimeoutMs, () => this.readAhead());
    this.readOnly = options.readOnly ?? false;
    this.snapshots = new SnapshotSync({
      paths,
      mem: this.mem,
      snapshotEvery: this.snapshotEvery,
      end: () => this.journal.pos,
      catchUp: () => this.catchUp(),
      letGoOfJournalLock: () => this.journalLock.letGo(),
    });
  }

  get view(): StateView {
    return this.mem;
  }

  get position(): JournalPosition {
    return { ...this.journal.pos };
  }

  get journalDamage(): readonly JournalDamage[] {
    return this.damage;
  }

  /**
   * Open the state: load the snapshot files, quarantine any that cannot be trusted, replay the
   * journal from the oldest snapshot's position (from the start when one is missing or was
   * quarantined), then record what recovery did as alerts and rewrite the rebuilt snapshots.
   */
  static async open(paths: WorkspacePaths, options: DbOptions = {}): Promise<JournalDb> {
    const readOnly = options.readOnly ?? false;
    checkLayout(paths);
    const hasJournal = listSegments(paths).length > 0;
    const { loaded, notices, fullReplay } = options.fromJournalOnly
      ? { loaded: [], notices: [], fullReplay: true }
      : await loadSnapshots(paths, hasJournal, readOnly);
    const first = { segment: listSegments(paths)[0] ?? 1, offset: 0 };
    const db = new JournalDb(paths, fullReplay ? first : replayStart(loaded, first), options);
    if (!fullReplay && loaded.length > 0) {
      for (const snapshot of loaded) {
        loadSnapshot(db.mem, snapshot);
        db.snapshots.loaded(snapshot);
      }
      // Replay starts after the oldest snapshot; entries before it are in every snapshot already.
      const minSeq = Math.min(...loaded.map((s) => s.seq));
      db.journal.lastSeq = minSeq;
      db.mem.seq = minSeq;
    }
    loadArchiveKeys(paths, db.mem);
    db.catchUp();
    db.mem.sortReadyQueues();
    db.mem.dirty.clear();
    db.mem.archivedPending.clear();
    for (const kind of fullReplay ? [] : boardsBehind(loaded, db.mem)) db.mem.dirty.add(kind);
    db.recovery.report(notices);
    // Damaged journal lines are copied to quarantine/ and alerted by the next write: make it now, so
    // that the command that found them tells the user, even one that only reads.
    const unrecorded = db.recovery.unrecordedDamage();
    if (readOnly && !options.fromJournalOnly) db.recovery.leaveForRepair(paths);
    if (((fullReplay && hasJournal) || unrecorded.length > 0) && !readOnly && !options.fromJournalOnly) {
      if (fullReplay) for (const kind of [...REQUIRED_KINDS, ...db.collectionKinds()]) db.mem.dirty.add(kind);
      // Opening is also how reads start: they never wait long for a lock held elsewhere. Left
      // pending, what recovery found is recorded by the next write (this process's or the next opener's).
      const wait = Math.min(db.lockTimeoutMs, CLOSE_FLUSH_WAIT_MS);
      await db
        .enqueue(async () => {
          await db.transactNow(() => ({ change: null, result: undefined }), wait);
          await db.flushNow(wait);
        })
        .catch((error: unknown) => {
          if (!(error instanceof DreamError && error.code === 'E_LOCK_TIMEOUT')) throw error;
        });
    }
    return db;
  }

  /** The task with this dedupe key: on the board, or read from the archive file that holds it. */
  dedupedTask(key: string): Task | null {
    const id = this.mem.dedupe(key);
    if (id === undefined) return null;
    const live = this.mem.task(id);
    if (live) return live;
    const seq = this.mem.archivedKeyed.get(id);
    return seq === undefined ? null : readArchivedTask(this.paths, id, seq);
  }

  private collectionKinds(): SnapshotKind[] {
    return [
      ...this.mem.mailboxIds().map((id): SnapshotKind => `mailbox:${id}`),
      ...this.mem.checkpointAgentIds().map((id): SnapshotKind => `checkpoints:${id}`),
    ];
  }

  private catchUp(): void {
    this.journal.readNew(
      (entry) => {
        this.mem.apply(entry);
        this.observer?.onEntry(entry);
      },
      (damage) => {
        if (!this.damage.some((d) => d.segment === damage.segment && d.offset === damage.offset)) {
          this.damage.push(damage);
        }
      },
    );
  }

  /**
   * The journal lock, kept between this process's transactions while it keeps coming back for it
   * (see KeptLock). New entries are read without the lock before taking it and while waiting for
   * it, so that the catch-up left to do inside the lock is short.
   */
  private readonly journalLock: JournalLock;

  private readAhead(): void {
    try {
      this.catchUp();
    } catch {
      // read again inside the lock, where errors are reported
    }
  }

  refresh(): void {
    if (!this.closed) this.catchUp();
  }

  transact<T>(plan: (view: StateView, now: Date) => Plan<T>): Promise<T> {
    if (this.readOnly) return Promise.reject(new DreamError('E_IO', 'this state was opened read-only'));
    return this.enqueue(() => this.transactNow(plan));
  }

  /** Run `work` after everything this process asked of the state before it (one at a time). */
  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Run `work` in this process's turn: after every transaction asked for before it, and before
   * any asked for after it. `transact` makes a transaction inside that turn.
   */
  exclusive<T>(work: (transact: Transact) => Promise<T>): Promise<T> {
    return this.enqueue(() => work((plan) => this.transactNow(plan)));
  }

  /** Resolves once every transaction asked for so far has ended. */
  async idle(): Promise<void> {
    await this.queue;
  }

  /**
   * Have `observer` see every entry this process reads or writes from now on (one observer per db),
   * and give it the few knobs it may turn.
   */
  observe(observer: EntryObserver): ObservedDb {
    if (this.observer) throw new Error('this state has an observer already');
    this.observer = observer;
    return {
      syncJournal: () => this.journal.syncCurrent(),
      setLinger: (ms) => this.journalLock.setLinger(ms),
      setSnapshotScale: (scale) => {
        this.snapshots.scale = scale;
      },
    };
  }

  private async transactNow<T>(
    plan: (view: StateView, now: Date) => Plan<T>,
    lockWaitMs = this.lockTimeoutMs,
  ): Promise<T> {
    if (this.closed) throw new DreamError('E_IO', 'the workspace is closed');
    const result = await this.inJournalLock(() => {
      const now = new Date();
      const planned = plan(this.mem, now);
      if (planned.change) this.commit(planned.change, now);
      return planned.result;
    }, lockWaitMs);
    if (this.snapshots.due) await this.flushAfterCommit();
    return result;
  }

  /** `work` holding the journal lock, after catching up and recording what recovery found. */
  private inJournalLock<T>(work: () => T | Promise<T>, lockWaitMs = this.lockTimeoutMs): Promise<T> {
    return this.journalLock.hold(() => {
      this.settleInLock();
      return work();
    }, lockWaitMs);
  }

  /**
   * Group commit: the plans of several callers (this process's and those the shared writer runs
   * for others) in one lock hold, each planned against the state the ones before it left, their
   * entries made durable by one fdatasync. A plan that throws records nothing and fails alone.
   * The items are taken when the batch starts, so callers can join it while it waits its turn.
   */
  transactBatch(take: () => BatchItem[]): Promise<void> {
    return this.enqueue(() => settleBatch(take, (items) => this.batchNow(items)));
  }

  /**
   * The lock is held until the batch is on disk, so that no other process builds on (or writes a
   * snapshot of) entries that a power cut could still take back. The fdatasync is made on this
   * thread: handing it to a background thread let the event loop read requests meanwhile, but waking
   * that thread and being woken by it cost more than it gained on a machine whose cores are busy with
   * the writer's clients (docs/decisions/shared-writer.md, Measured benefit).
   */
  private async batchNow(items: BatchItem[]): Promise<Outcome<unknown>[]> {
    if (this.readOnly) throw new DreamError('E_IO', 'this state was opened read-only');
    if (this.closed) throw new DreamError('E_IO', 'the workspace is closed');
    const outcomes = await this.inJournalLock(() => {
      const now = new Date();
      const all = items.map((item): Outcome<unknown> => {
        try {
          const planned = item.plan(this.mem, now);
          if (planned.change) this.commit(planned.change, now, false);
          return { ok: true, value: planned.result };
        } catch (error) {
          return { ok: false, error };
        }
      });
      this.journal.syncAppended();
      return all;
    });
    if (this.snapshots.due) await this.flushAfterCommit();
    return outcomes;
  }

  /**
   * The changes are made and durable: a snapshot that cannot be written now is written later, and
   * the caller is told its change was made (a lock timeout here must not read as a refused change).
   */
  private async flushAfterCommit(): Promise<void> {
    await this.flushNow().catch((error: Error) => {
      this.notices.push({
        kind: 'rebuilt',
        path: this.paths.boardsDir,
        message: `the state files could not be brought up to date (${error.message}); the journal has every change`,
      });
    });
  }

  /** Inside the journal lock, before planning: catch up, cut a torn tail, record what recovery found. */
  private settleInLock(): void {
    this.catchUp();
    this.recovery.settle();
  }

  private commit(change: Change, now: Date, durable = true): void {
    const seq = this.journal.lastSeq + 1;
    const body = entryBody(change, seq, now, this.mem.counters);
    const entry = this.journal.append(body as Parameters<Journal['append']>[0], durable);
    this.journaled = true;
    this.mem.apply(entry);
    this.observer?.onEntry(entry);
    this.snapshots.counted();
  }

  flush(): Promise<void> {
    if (this.readOnly) return Promise.resolve();
    return this.enqueue(() => this.flushNow());
  }

  /** Write the snapshot of everything that changed (SnapshotSync.write). */
  private async flushNow(lockWaitMs = this.lockTimeoutMs): Promise<void> {
    if (!this.closed) await this.snapshots.write(lockWaitMs);
  }

  /**
   * For long-running processes: find snapshot files changed by anything but a snapshot writer (an
   * agent editing state files directly). A file that no longer validates is quarantined and rebuilt
   * from memory (the journal's state), with an alert; a missing one is rewritten. Cheap when nothing
   * changed: one stat per file.
   */
  verifySnapshots(): Promise<RecoveryNotice[]> {
    if (this.readOnly) return Promise.resolve([]);
    return this.enqueue(() => this.verifyNow());
  }

  private async verifyNow(): Promise<RecoveryNotice[]> {
    if (this.closed) return [];
    const found = await this.snapshots.check();
    if (found.length === 0) return found;
    this.recovery.report(found);
    await this.transactNow(() => ({ change: null, result: undefined }));
    await this.flushNow();
    return found;
  }

  /** Have the next flush rewrite this snapshot even if nothing changed in it. */
  markDirty(kind: SnapshotKind): void {
    this.mem.dirty.add(kind);
  }

  get dirtyStores(): readonly string[] {
    return [...this.mem.dirty];
  }

  /**
   * Bring the snapshot files up to date if the locks allow it soon, then let go of everything. The
   * files are a cache of the journal: a process that changed nothing never waits for a lock here,
   * and a lock held elsewhere leaves them to a later flush rather than fail the command.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.idle();
    try {
      if (!this.readOnly && this.mem.dirty.size > 0)
        await this.flushNow(this.journaled ? Math.min(this.lockTimeoutMs, CLOSE_FLUSH_WAIT_MS) : 0);
    } catch (error) {
      const failure = closeFailure(error, this.journaled);
      if (failure) throw failure;
    } finally {
      this.closed = true;
      this.journalLock.close();
      this.journal.close();
    }
  }
}
