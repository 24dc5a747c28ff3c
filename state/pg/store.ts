/**
 * The PostgreSQL backend: the same state, lifecycle and journal as the JSON store, kept in tables of
 * one schema, for fleets of processes on several hosts (docs/decisions/postgres-backend.md).
 *
 * Each process keeps the state in memory (the `StateIndex` the JSON store uses), loaded from the
 * tables and advanced from the journal table. A transaction: take the schema's write lock (an
 * advisory lock, so writers queue in the database and a dead client's lock dies with its
 * connection) → read the entries written since this process last looked → plan against that state
 * with the database's clock → record the entries and every object they carry (one call of
 * `record_entries`) → commit. Numbers are handed out under the lock, so the committed journal is
 * always a prefix without gaps: a reader that reads past its last number misses nothing.
 *
 * Hot changes (claim, renew, complete, fail) of the long-lived processes of one host go through the
 * host's shared writer (state/writer/), which gathers them into one transaction while the previous
 * one commits, and sends each asker the entries it has not read with its answer (EntryRelay). A
 * change alone (hot or not), or changes that go together and can be planned one on another (tasks,
 * agents, alerts, checkpoints: PendingView), are planned before the lock and recorded in one round
 * trip if nothing came after the entry they were planned on, or, for a lone hot change (and an
 * expiry), if nothing that came after wrote what its plan read (recordInOneTrip,
 * state/pg/conflicts.ts). Other processes hear of changes through the doorbell
 * (state/pg/doorbell.ts) and read them from the journal. The state is loaded from the tables by
 * state/pg/load.ts.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type {
  BackendOptions,
  HealthReport,
  HotChange,
  HotRequest,
  PlanFn,
  StateBackend,
  Watching,
  WatchOptions,
  WriterStatus,
} from '../backend.js';
import {
  type BatchItem,
  type EntryObserver,
  entryBody,
  type ObservedDb,
  type Outcome,
  settleBatch,
  type Transact,
} from '../change.js';
import { DreamError } from '../errors.js';
import { decodeLine, sealEntry } from '../journal-reader.js';
import type { LockHolder } from '../lock/index.js';
import type { WorkspacePaths } from '../paths.js';
import type { RecoveryNotice } from '../recovery.js';
import { privateDir } from '../safe-files.js';
import { type JournalEntry, Task } from '../schemas.js';
import {
  KEEP_ACKED_MAIL,
  KEEP_CHECKPOINTS,
  PendingView,
  pendable,
  StateIndex,
  type StateView,
} from '../state-index.js';
import { type EntryRelay, type SharedWriter, sharedWriterFor } from '../writer/index.js';
import { checkSchema } from './check.js';
import { DbClock } from './clock.js';
import { KEY_SEPARATOR, writes } from './conflicts.js';
import {
  IDLE_IN_TRANSACTION_MS,
  isConnectionError,
  type PgLocation,
  pgError,
  shownUrl,
  WRITER_IDLE_SQL,
} from './connection.js';
import { Doorbell } from './doorbell.js';
import { PgHistory } from './history.js';
import { type Loaded, loadState } from './load.js';
import { RETENTION, type RetentionBounds, retain } from './retention.js';
import { checkVersion, LOCK_CLASS, schemaVersion, writeLockSql } from './schema.js';
import { Session } from './session.js';
import { type Alternative, atHeadArgs, sideBySide } from './side-by-side.js';

/**
 * Waits until everything committed so far is on disk: a transaction that writes to the log (a
 * message no one reads) and commits durably, which flushes the log up to its own commit and so past
 * every commit before it. Concurrent flushes from several processes share one disk write.
 */
const FLUSH_SQL = "SELECT pg_logical_emit_message(true, 'dreamos', '')";

/** How many entries one read of the journal brings at most. */
const PULL_PAGE = 5000;

/** How many of the latest journal lines a process keeps at hand, for its shared writer's askers. */
const RECENT_LINES = 2048;

/**
 * The lines of the latest entries this process read or recorded, by number (RECENT_LINES at most),
 * and each one's JSON string, encoded, once a shared writer's answer has needed it.
 */
class RecentLines {
  private readonly bySeq = new Map<number, { line: string; encoded?: Buffer }>();

  add(seq: number, line: string): void {
    this.bySeq.set(seq, { line });
    if (this.bySeq.size <= RECENT_LINES) return;
    for (const old of this.bySeq.keys()) {
      this.bySeq.delete(old);
      if (this.bySeq.size <= RECENT_LINES) return;
    }
  }

  /**
   * The JSON strings of entries `after` + 1 to `to`, encoded; null when one is not at hand, or when
   * entry `after` is not at hand with the crc `crc` (the asker's state and this one differ there).
   */
  encoded(after: number, crc: string | null, to: number): Buffer[] | null {
    if (to - after > RECENT_LINES) return null;
    if (after > 0) {
      const base = this.bySeq.get(after);
      if (base === undefined || crc === null || !base.line.endsWith(`"crc":"${crc}"}`)) return null;
    } else if (crc !== null) return null;
    const encoded: Buffer[] = [];
    for (let seq = after + 1; seq <= to; seq++) {
      const kept = this.bySeq.get(seq);
      if (kept === undefined) return null;
      kept.encoded ??= Buffer.from(JSON.stringify(kept.line));
      encoded.push(kept.encoded);
    }
    return encoded;
  }

  clear(): void {
    this.bySeq.clear();
  }
}

/**
 * The entries after `after` (at most `limit`), as one text: their lines in order, joined by U+001E,
 * which no JSON text holds unescaped (the json type refuses one that does). A text[] answer costs
 * the client about 50 µs per 1 KB line to parse (the array's quoting); one text is split at once.
 * `record_if_latest` answers the same way (migrations.ts).
 */
const linesAfter = (after: string | number, limit?: number) =>
  `(SELECT string_agg(entry::text, E'\\x1e' ORDER BY seq) FROM (SELECT seq, entry FROM journal WHERE seq > ${after} ORDER BY seq${limit === undefined ? '' : ` LIMIT ${limit}`}) page)`;

/** `list` as a text[] literal. */
const textArray = (client: pg.Client, list: readonly string[]) =>
  `ARRAY[${list.map((text) => client.escapeLiteral(text)).join(',')}]::text[]`;

/** The lines of a `linesAfter` answer. */
const splitLines = (joined: string | null): string[] => (joined === null ? [] : joined.split('\x1e'));

/**
 * Entries a transaction applies at most under the write lock, and how many times it lets the lock
 * go to catch up outside it before it catches up under it whatever the length (see catchUp).
 */
const CATCH_UP_IN_LOCK = 500;
const CATCH_UP_TRIES = 3;

/**
 * A change planned outside the lock is recorded only if its clock is not ahead of the database's
 * when the lock is had, nor more than this behind it (ms): leases are judged by the database's clock,
 * and this host's only carries it between two readings.
 */
const PLANNED_CLOCK_SLACK_MS = 100;
/**
 * Above this share of recent changes whose second one-round-trip try too found entries after its
 * plan's (a moving average), changes take the write lock at once, but for one in PROBE_EVERY.
 */
const CONTENDED = 0.5;
const PROBE_EVERY = 8;
/**
 * Below this share, this process writes alone (no other writer came between its last several
 * tries): its one-round-trip changes commit durably while holding the lock, which saves the flush's
 * round trip, rather than holding up writers that are not there.
 */
const ALONE = 0.05;
/** Bounds of how many numbers a lone hot change is sealed as (see PgBackend.candidates). */
const MIN_CANDIDATES = 4;
const MAX_CANDIDATES = 24;
/** How many claims of the best ready tasks one claim carries at most (see PgBackend.claims). */
const MAX_CLAIMS = 8;

export class PgBackend implements StateBackend {
  readonly name = 'postgres';
  readonly notices: RecoveryNotice[] = [];
  readonly history: PgHistory;
  private mem = new StateIndex();
  /**
   * The crc of the entry the in-memory state is as of. A commit is visible before it is on disk, so
   * a server that crashed may have lost entries this process read: before each change the journal
   * must still hold this entry at this number, else the state is reloaded.
   */
  private head: string | null = null;
  /** When that entry was recorded, by the database's clock (ms). */
  private headAt = 0;
  /** Transactions, one at a time. */
  private readonly main: Session;
  /** Reads outside transactions: the journal's new entries, the history. */
  private readonly reads: Session;
  /**
   * doctor's checks and retention: their transactions are their own, beside this process's changes
   * (a connection runs one transaction at a time), and run one at a time.
   */
  private readonly upkeepSession: Session;
  private upkeeping: Promise<unknown> = Promise.resolve();
  private readonly bell: Doorbell;
  private readonly lockTimeoutMs: number;
  private readonly readOnly: boolean;
  private queue: Promise<unknown> = Promise.resolve();
  /** Entries read from the journal and not yet applied (refresh applies them). */
  private fetched: JournalEntry[] = [];
  private fetchedTo = 0;
  private pulling: Promise<void> | null = null;
  private pullNext: Promise<void> | null = null;
  /** The in-memory state may hold a change whose commit failed: reloaded before the next plan. */
  private stale = false;
  private hotItems: BatchItem[] = [];
  private hotQueued = false;
  private closed = false;
  /** When this process last ran retention, and the bounds it keeps (state/pg/retention.ts). */
  private retainedAt = 0;
  retention: RetentionBounds = { ...RETENTION };
  /** Entries a transaction applies at most while it holds the write lock (see catchUp). */
  catchUpInLock = CATCH_UP_IN_LOCK;
  /** The most entries one transaction of this process applied while holding the write lock. */
  lockedCatchUp = 0;
  private readonly clock = new DbClock();
  /** The host's shared writer (state/writer/), unless this process writes only for itself. */
  private writes: SharedWriter | null = null;
  /** Sees every entry this process applies (the shared writer's request log). */
  private observer: EntryObserver | null = null;
  /** An entry found by a request's asker must be on disk before the asker reports it made. */
  private flushOwed = false;
  /** The lines of the latest entries, which the shared writer sends its askers with its answers. */
  private readonly recent = new RecentLines();
  /** The entries of this state travel with the shared writer's answers (state/writer/protocol.ts). */
  readonly relay: EntryRelay = {
    seen: () => {
      const seq = Math.max(this.mem.seq, this.fetchedTo);
      // Entries read ahead may be behind the state already (its own change went past them).
      const last = this.fetched.at(-1);
      const crc = last?.seq === seq ? last.crc : seq === this.mem.seq ? this.head : null;
      return { seq, crc };
    },
    entriesAfter: (seen, crc) => (this.stale ? null : this.recent.encoded(seen, crc, this.mem.seq)),
    absorb: (lines) => {
      // A state that may be wrong takes nothing on top: it is loaded again before its next change.
      if (this.stale) return;
      this.readStats.relayed += this.fetchLines(lines);
      this.applyFetched();
    },
  };
  /** How many times the state was loaded anew: a read that started before one is dropped. */
  private loads = 0;
  /**
   * Changes (alone, or that go together) recorded in one round trip (`latest`), the tries that found
   * entries after their plan's or a clock too far off (`again`), those not sent because their
   * planning took longer than the clock allows (`slow`), and the changes and batches that took the
   * write lock for their plan (also a plan that found nothing to do, made again there).
   */
  readonly hotStats = { latest: 0, again: 0, slow: 0, locked: 0 };
  /**
   * Reads of the journal that followed others' changes (`pulls`), and entries the shared writer sent
   * with its answers, which this process took without reading them (`relayed`).
   */
  readonly readStats = { pulls: 0, relayed: 0 };
  private contention = 0;
  private probes = 0;
  /** The most entries recorded lately between a plan of this process and its record (decaying). */
  private lag = 0;
  /** How many of the best ready tasks other claims took lately between a claim's plan and its record (decaying). */
  private race = 0;

  private constructor(
    readonly location: PgLocation,
    options: BackendOptions,
  ) {
    this.lockTimeoutMs = options.lockTimeoutMs ?? 15_000;
    this.readOnly = options.readOnly ?? false;
    this.main = new Session(location, 'state', true, true);
    this.reads = new Session(location, 'reader', false);
    this.upkeepSession = new Session(location, 'upkeep', false, true);
    this.bell = new Doorbell(location);
    this.history = new PgHistory(this.reads, this.bell);
  }

  /**
   * The state of `location`. With `paths` (the workspace folder of this host) and `options.share`,
   * the long-lived processes of this host share one writer for their hot changes, as on the JSON
   * store (docs/decisions/shared-writer.md): its socket and election lock are in the folder.
   */
  static async open(
    location: PgLocation,
    options: BackendOptions = {},
    paths?: WorkspacePaths,
  ): Promise<PgBackend> {
    const backend = new PgBackend(location, options);
    try {
      await backend.main.use(async (client) => {
        checkVersion(await schemaVersion((sql) => client.query(sql)), location);
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        try {
          backend.loaded(await loadState((sql, values) => client.query(sql, values), location));
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw error;
        }
      });
      backend.fetchedTo = backend.mem.seq;
      backend.writes = paths ? sharedWriterFor(paths, backend, options, backend.lockTimeoutMs) : null;
      // Folders made before the shared writer came to this backend have no locks/ yet.
      if (paths && backend.writes) privateDir(paths.locksDir);
    } catch (error) {
      await backend.close();
      throw error;
    }
    return backend;
  }

  get view(): StateView {
    return this.mem;
  }

  get writer(): WriterStatus | null {
    return this.writes?.status ?? null;
  }

  /** Apply the entries read since the last look, then read more in the background. */
  refresh(): void {
    if (this.closed) return;
    this.applyFetched();
    void this.pull().catch(() => undefined);
  }

  private applyEntry(entry: JournalEntry): void {
    this.mem.apply(entry);
    this.head = entry.crc;
    this.headAt = Date.parse(entry.at);
    this.observer?.onEntry(entry);
  }

  /** Apply an entry read from the journal, and keep its line at hand (RecentLines). */
  private applyLine(entry: JournalEntry, line: string): void {
    this.applyEntry(entry);
    this.recent.add(entry.seq, line);
  }

  /** The state as loaded from the tables replaces the one in memory. */
  private loaded({ mem, head, headAt, requests, requestsFrom }: Loaded): void {
    this.mem = mem;
    this.head = head;
    this.headAt = headAt;
    this.stale = false;
    this.fetched = [];
    this.fetchedTo = mem.seq;
    this.recent.clear();
    this.loads += 1;
    this.observer?.onReload(requests, requestsFrom);
  }

  /** The state loaded from the tables, with the request entries the observer needs (loaded). */
  private loadFrom(client: pg.Client): Promise<Loaded> {
    return loadState(
      (sql, values) => client.query(sql, values),
      this.location,
      this.observer?.reloadFrom() ?? null,
    );
  }

  /**
   * Journal lines (read, or sent by the shared writer) kept for the next look, those that follow on
   * from what was read before; the first that is not a valid entry, or that leaves a gap, ends them.
   * Returns how many were kept.
   */
  private fetchLines(lines: readonly string[]): number {
    let kept = 0;
    for (const line of lines) {
      const decoded = decodeLine(line);
      if ('error' in decoded || decoded.entry.seq > this.fetchedTo + 1) break;
      if (decoded.entry.seq <= this.fetchedTo) continue;
      this.fetched.push(decoded.entry);
      this.fetchedTo = decoded.entry.seq;
      this.recent.add(decoded.entry.seq, line);
      kept += 1;
    }
    return kept;
  }

  private applyFetched(): void {
    while (this.fetched.length > 0) {
      const entry = this.fetched[0]!;
      if (entry.seq > this.mem.seq + 1) {
        // The state moved past where these were read from (a reload): read again from there.
        this.fetched = [];
        this.fetchedTo = this.mem.seq;
        break;
      }
      this.fetched.shift();
      if (entry.seq === this.mem.seq + 1) this.applyEntry(entry);
    }
    this.settleIndex();
  }

  /**
   * Read the entries after what this process has seen, for the next refresh. The promise settles
   * after a read that started after the call: a read already under way may have missed the change
   * the caller heard of, so another follows it.
   */
  private pull(): Promise<void> {
    if (this.pulling) {
      this.pullNext ??= this.pulling.then(
        () => this.startPull(),
        () => this.startPull(),
      );
      return this.pullNext;
    }
    return this.startPull();
  }

  private startPull(): Promise<void> {
    this.pullNext = null;
    const read = this.pullOnce().finally(() => {
      if (this.pulling === read) this.pulling = null;
    });
    this.pulling = read;
    return read;
  }

  private async pullOnce(): Promise<void> {
    const from = Math.max(this.mem.seq, this.fetchedTo);
    // What the state is as of, when the read starts from there: the journal must still hold it.
    const mine = from === this.mem.seq ? this.head : undefined;
    const loads = this.loads;
    this.readStats.pulls += 1;
    const { rows } = await this.reads.query<{ head: string | null; lines: string | null }>(
      `SELECT (SELECT entry->>'crc' FROM journal WHERE seq = $1) AS head, ${linesAfter('$1', PULL_PAGE)} AS lines`,
      [from],
    );
    // The state was loaded anew meanwhile: what this read brings may not follow on from it.
    if (this.loads !== loads) return;
    const head = rows[0]!.head;
    const lines = splitLines(rows[0]!.lines);
    const first = lines[0] === undefined ? null : decodeLine(lines[0]);
    const gap = first !== null && !('error' in first) && first.entry.seq > from + 1;
    // Retention deleted entries this process had not read, or a server crash took back entries it
    // had read (others were written at their numbers since): the tables have what is true now.
    if (gap || (mine !== undefined && head !== mine)) {
      await this.enqueue(() => this.reload());
      return;
    }
    this.fetchLines(lines);
  }

  private settleIndex(): void {
    // Snapshot files are the JSON store's; here the tables are written in the transaction.
    this.mem.dirty.clear();
    this.mem.archivedPending.clear();
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** A lone change: tried in one round trip as a hot one is (runHot), else under the write lock. */
  async transact<T>(plan: PlanFn<T>): Promise<T> {
    const [outcome] = await this.enqueue(() => this.runHot([{ plan, settle: () => undefined }]));
    if (!outcome!.ok) throw outcome!.error;
    return outcome!.value as T;
  }

  /** Changes that go together: tried in one round trip as a lone change is (runHot), else under the lock. */
  transactBatch(take: () => BatchItem[]): Promise<void> {
    return this.enqueue(() => settleBatch(take, (items) => this.runHot(items)));
  }

  /**
   * A hot change, through the host's shared writer when there is one (state/writer/): the writer
   * makes the changes of the host's processes in batches, one transaction each.
   */
  async hot<T>(request: HotRequest, local: HotChange<T>): Promise<T> {
    if (!this.writes) return this.hotHere(local);
    const result = await this.writes.run(request.op, request.args, request.actor, local);
    // Made by the writer in another process: the entries up to its own came with the answer
    // (EntryRelay); when they did not, this process reads the journal up to its entry (the task's
    // rev). Either way its view shows the change from the next look on, as it shows its own.
    await this.readUpTo((result as Task | null)?.rev ?? 0);
    return result;
  }

  /** Read the journal and apply it until the state is as of entry `seq` or later. */
  private async readUpTo(seq: number): Promise<void> {
    while (this.mem.seq < seq && !this.closed) {
      const before = this.fetchedTo;
      // The change is made: a read that fails only leaves the view behind until the next look.
      if (
        !(await this.pull().then(
          () => true,
          () => false,
        ))
      )
        return;
      this.applyFetched();
      // Nothing more came (the state is being loaded again from the tables): the next look has it.
      if (this.fetchedTo === before) return;
    }
  }

  /**
   * Run `work` in this process's turn (the shared writer's asker, state/writer/client.ts): its
   * transactions are planned under the write lock, on the latest state, and what they found that a
   * dead writer left is on disk before they return.
   */
  exclusive<T>(work: (transact: Transact) => Promise<T>): Promise<T> {
    return this.enqueue(() =>
      work(async (plan) => {
        const [outcome] = await this.run([{ plan, settle: () => undefined }]);
        if (this.flushOwed) {
          this.flushOwed = false;
          await this.reads.query(FLUSH_SQL);
        }
        if (!outcome!.ok) throw outcome!.error;
        return outcome!.value as ReturnType<typeof plan>['result'];
      }),
    );
  }

  /** The shared writer's request log sees every entry applied from now on (one observer). */
  observe(observer: EntryObserver): ObservedDb {
    if (this.observer) throw new Error('this state has an observer already');
    this.observer = observer;
    return {
      syncJournal: () => {
        this.flushOwed = true;
      },
      // The write lock is the database's, taken per transaction; there are no snapshot files.
      setLinger: () => undefined,
      setSnapshotScale: () => undefined,
    };
  }

  /** Resolves once every transaction asked for so far has ended. */
  async idle(): Promise<void> {
    await this.queue;
  }

  /**
   * Hot changes of this process wait for the transaction before them, and go together. One alone
   * is first planned outside the write lock and recorded in one round trip (recordInOneTrip).
   */
  private hotHere<T>(local: HotChange<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.hotItems.push({
        plan: local.plan,
        settle: (outcome) => (outcome.ok ? resolve(outcome.value as T) : reject(outcome.error)),
      });
      if (this.hotQueued) return;
      this.hotQueued = true;
      void this.enqueue(() =>
        settleBatch(
          () => {
            this.hotQueued = false;
            return this.hotItems.splice(0);
          },
          (items) => this.runHot(items),
        ),
      );
    });
  }

  private async runHot(items: readonly BatchItem[]): Promise<Outcome<unknown>[]> {
    // While other processes write as fast, a plan made outside the lock is mostly out of date by the
    // time it is sent: the lock is taken at once then, and the one-round-trip path tried now and then.
    const contended = this.contention >= CONTENDED && ++this.probes % PROBE_EVERY !== 0;
    // A refused try brings back what was recorded since the plan's entry: a process that had not
    // looked for a while (it does not watch the journal) is then up to date, and tries once more.
    for (let tries = 0; tries < 2 && !this.readOnly && !this.closed && !contended; tries++) {
      const outcome = await this.recordInOneTrip(items);
      if (outcome === 'lock') break;
      if (outcome !== 'again') {
        this.contention *= 0.8;
        this.hotStats.latest += 1;
        return outcome;
      }
      this.hotStats.again += 1;
      // Only a second refusal, of a plan made on what the first brought back, says that others
      // write as fast: the first may only say that this process had not looked for a while.
      if (tries === 1) this.contention = this.contention * 0.8 + 0.2;
    }
    this.hotStats.locked += 1;
    return this.run(items);
  }

  /**
   * A change (or changes that go together) in one round trip: planned against the state in memory
   * with the database's clock as last read (carried by this host's), then recorded by one call that
   * takes the write lock on the server, which is held there only.
   *
   * - A lone hot change (SIDE_BY_SIDE_OPS) goes to `record_at_head`, sealed as each of the next few
   *   entries (candidates(): an entry's number is in its line and its crc), a claim with the claims
   *   of the next best tasks once claims have met (claims()). It is recorded as the next
   *   entry, whatever its number, if none of the entries recorded since the one it was planned on
   *   wrote what its plan read (state/pg/conflicts.ts): so changes of several processes that do not
   *   meet are recorded side by side, none refused for the others'.
   * - Another goes to `record_if_latest`, which records it only if the journal still ends at the entry
   *   it was planned on: a recorded change was planned on the latest state, as under the lock.
   *
   * Both check the clock: not ahead of the database's nor more than PLANNED_CLOCK_SLACK_MS behind it.
   * Entries recorded meanwhile come back and are applied, before this process's own when it was
   * recorded ('again': the caller plans again, once more so, then under the write lock). 'lock': plan
   * it under the write lock (run) at once: the state may be wrong, or a plan found nothing to do or
   * refused, which only the latest state may say, or changes that go together cannot be planned one
   * on another outside the state (see PendingView).
   */
  private async recordInOneTrip(items: readonly BatchItem[]): Promise<Outcome<unknown>[] | 'again' | 'lock'> {
    if (this.stale) return 'lock';
    this.applyFetched();
    const after = this.mem.seq;
    const head = this.head;
    // Never before the entry it follows (changes recorded side by side aside, the journal's times go
    // forward, as under the lock).
    const now = this.clock.now(this.headAt);
    if (now === null) return 'lock';
    const values: unknown[] = [];
    const sealed: { entry: JournalEntry; line: string }[] = [];
    const touched: string[] = [];
    let aside: Alternative[] | null = null;
    const started = DbClock.mark();
    // Each change is planned on the state with the ones before it on top, which are not applied
    // until they are recorded (a shared writer's batch: claims and completions of several agents;
    // an agent's checkpoint with its state): a batch with an archive, mail or configuration before
    // its last takes the lock.
    let pending: PendingView | null = null;
    try {
      for (const [i, item] of items.entries()) {
        if (i > 0) {
          pending ??= new PendingView(this.mem);
          pending.add(sealed[i - 1]!.entry);
        }
        const view: StateView = pending?.view ?? this.mem;
        const planned = item.plan(view, now);
        if (!planned.change || (i < items.length - 1 && !pendable(planned.change))) return 'lock';
        if (items.length === 1)
          aside = sideBySide(item.plan, planned, view, now, after, this.candidates(), this.claims());
        if (aside) break;
        touched.push(writes(planned.change, view).join(KEY_SEPARATOR));
        const seq = after + 1 + i;
        sealed.push(sealEntry(entryBody(planned.change, seq, now, view.counters), seq));
        values.push(planned.result);
      }
    } catch {
      return 'lock';
    }
    // A change that took longer to plan than the clock's slack (an import of many tasks) would be
    // refused for its clock: it is not sent, and is planned under the lock, as before this path.
    if (DbClock.mark() - started > PLANNED_CLOCK_SLACK_MS / 2) {
      this.hotStats.slow += 1;
      return 'lock';
    }
    const txn = randomUUID();
    // Alone, the commit waits for the disk in the same round trip; else it does not, and the flush
    // that follows waits outside the lock, so that the next writer does not wait for this one's disk.
    const durable = this.contention < ALONE && this.lag < 1;
    // Set while the change may have been committed without this process knowing: a connection lost
    // after the call went out, or a flush that failed after the commit.
    let unsure = false;
    let answer: {
      status: 'ok' | 'behind' | 'lost' | 'clock';
      db_now: Date;
      missed: string | null;
      seq?: string | null;
      chosen?: number | null;
    };
    try {
      answer = await this.main.use(async (client) => {
        const headCrc = head === null ? 'NULL' : client.escapeLiteral(head);
        const texts = (list: readonly string[]) => textArray(client, list);
        const planned = client.escapeLiteral(now.toISOString());
        const call = aside
          ? `SELECT status, db_now, missed, seq, chosen FROM record_at_head(${LOCK_CLASS}, ${after}, ${headCrc}, ${atHeadArgs(
              aside,
            )
              .map((arg) => client.escapeLiteral(arg))
              .join(
                ', ',
              )}, '${txn}', ${KEEP_ACKED_MAIL}, ${KEEP_CHECKPOINTS}, ${planned}, ${PLANNED_CLOCK_SLACK_MS}, ${this.catchUpInLock})`
          : `SELECT status, db_now, missed FROM record_if_latest(${LOCK_CLASS}, ${after}, ${headCrc}, ${texts(sealed.map((s) => s.line))}, ${texts(touched)}, '${txn}', ${KEEP_ACKED_MAIL}, ${KEEP_CHECKPOINTS}, ${planned}, ${PLANNED_CLOCK_SLACK_MS}, ${this.catchUpInLock})`;
        let results: pg.QueryResult[];
        try {
          results = (await client.query(
            `BEGIN; SET LOCAL lock_timeout = '${this.lockTimeoutMs}ms'; SET LOCAL synchronous_commit = ${durable ? 'on' : 'off'}; ${WRITER_IDLE_SQL}; ${call}; COMMIT`,
          )) as unknown as pg.QueryResult[];
        } catch (error) {
          // A failed statement ends the string there: its transaction recorded nothing.
          if (isConnectionError(error)) unsure = true;
          else await client.query('ROLLBACK').catch(() => undefined);
          throw error;
        }
        const row = results[results.length - 2]!.rows[0] as typeof answer;
        this.clock.read(row.db_now, DbClock.mark());
        // As in run: the change is reported made once the log is on disk past its commit.
        if (row.status === 'ok' && !durable) {
          unsure = true;
          await client.query(FLUSH_SQL);
          unsure = false;
        }
        return row;
      }, true);
    } catch (error) {
      // Only the journal can say whether the change was made then.
      const found = unsure
        ? await this.committed(after + 1, after + (aside ? aside[0]!.crcs.length : 1), txn)
        : null;
      if (found !== null) {
        if (!aside) return this.applyRecorded(sealed, values);
        // Recorded on top of entries this process has not read: the tables have them all, and the
        // journal which alternative it was.
        this.stale = true;
        const chosen = await this.chosenAlternative(found, aside);
        chosen.settle(found);
        return this.recorded([{ ok: true, value: chosen.result }]);
      }
      throw pgError(error, this.location);
    }
    if (answer.status === 'lost') {
      this.stale = true;
      return 'lock';
    }
    // What was recorded after the plan's entry, up to the change's own when it was recorded.
    const missed = splitLines(answer.missed);
    if (aside) this.lag = Math.max(this.lag * 0.9, Math.min(missed.length, MAX_CANDIDATES));
    for (const line of missed) {
      const entry = this.decoded(line);
      if (entry.seq <= this.mem.seq) continue; // a refresh meanwhile applied it
      if (entry.seq !== this.mem.seq + 1) {
        // Retention went past this state: the tables have what those entries made.
        this.stale = true;
        break;
      }
      this.applyLine(entry, line);
    }
    this.fetchedTo = Math.max(this.fetchedTo, this.mem.seq);
    this.settleIndex();
    // Every claim sent was taken meanwhile (not only more entries than it was sealed for): send more
    // of the next best ones next time.
    if (answer.status === 'behind' && aside?.[0]?.claim && missed.length < aside[0].crcs.length)
      this.race = Math.max(this.race, aside.length);
    if (answer.status !== 'ok') return this.stale ? 'lock' : 'again';
    if (!aside) return this.applyRecorded(sealed, values);
    const chosen = aside[answer.chosen!]!;
    if (aside[0]!.claim) this.race = Math.max(this.race * 0.9, answer.chosen!);
    const seq = Number(answer.seq);
    return this.applyRecorded([{ entry: chosen.settle(seq), line: chosen.line(seq) }], [chosen.result]);
  }

  /**
   * How many numbers a lone hot change is sealed as: a few more than the most entries recorded
   * lately between a plan of this process and its record (decaying), within bounds.
   */
  private candidates(): number {
    return Math.min(MAX_CANDIDATES, Math.max(MIN_CANDIDATES, Math.ceil(this.lag * 1.5) + 2));
  }

  /** How many claims of the best ready tasks a claim carries: one more than others took lately. */
  private claims(): number {
    return Math.min(MAX_CLAIMS, 1 + Math.round(this.race));
  }

  /** Which alternative the entry `seq`, recorded by this process, is: the one whose line it holds. */
  private async chosenAlternative(seq: number, aside: Alternative[]): Promise<Alternative> {
    const { rows } = await this.reads.query<{ line: string }>(
      'SELECT entry::text AS line FROM journal WHERE seq = $1',
      [seq],
    );
    const line = rows[0]?.line ?? '';
    const chosen = aside.find((alternative) => alternative.line(seq) === line);
    if (!chosen)
      throw new DreamError(
        'E_CORRUPT',
        `entry ${seq} of schema ${this.location.schema} is not the change this process recorded there`,
      );
    return chosen;
  }

  /** This process's entries, recorded: into the state, and rung; each plan's outcome. */
  private applyRecorded(
    sealed: readonly { entry: JournalEntry; line?: string }[],
    values: unknown[],
  ): Outcome<unknown>[] {
    // A refresh meanwhile may have applied them already, read back from the journal.
    for (const { entry, line } of sealed) {
      if (this.mem.seq === entry.seq - 1) this.applyEntry(entry);
      if (line !== undefined) this.recent.add(entry.seq, line);
    }
    return this.recorded(values.map((value) => ({ ok: true, value })));
  }

  /**
   * One transaction: the write lock, the entries since the last look, the plans with the database's
   * clock, their entries recorded, commit. Each plan's outcome, in order; throws when nothing was
   * recorded for any of them.
   *
   * Two round trips hold the lock: the lock with the catch-up and the clock, then the record and the
   * commit. The commit does not wait for the disk while the lock is held (synchronous_commit off);
   * the flush that follows, outside the lock, does, and only then is the change reported made. The
   * next writer sees it at once; a crash before the flush takes back this change and nothing
   * recorded after it, since the log is flushed in order (docs/decisions/postgres-backend.md).
   */
  private async run(items: readonly BatchItem[]): Promise<Outcome<unknown>[]> {
    if (this.closed) throw new DreamError('E_IO', 'the workspace is closed');
    if (this.readOnly) throw new DreamError('E_IO', 'this state was opened read-only');
    const txn = randomUUID();
    const lines: string[] = [];
    const touched: string[] = [];
    let firstSeq = 0;
    let outcomes: Outcome<unknown>[] = [];
    let committed = false;
    try {
      await this.main.use(async (client) => {
        try {
          const now = await this.catchUp(client);
          firstSeq = this.mem.seq + 1;
          outcomes = items.map((item): Outcome<unknown> => {
            try {
              const planned = item.plan(this.mem, now);
              if (planned.change) {
                const keys = writes(planned.change, this.mem).join(KEY_SEPARATOR);
                const seq = this.mem.seq + 1;
                const { entry, line } = sealEntry(
                  entryBody(planned.change, seq, now, this.mem.counters),
                  seq,
                );
                touched.push(keys);
                this.applyEntry(entry);
                lines.push(line);
              }
              return { ok: true, value: planned.result };
            } catch (error) {
              return { ok: false, error };
            }
          });
          const texts = (list: readonly string[]) => textArray(client, list);
          const record = lines.length
            ? `SELECT record_entries(${texts(lines)}, '${txn}', ${KEEP_ACKED_MAIL}, ${KEEP_CHECKPOINTS}, ${texts(touched)}); `
            : '';
          await client.query(`${record}COMMIT`);
          committed = true;
          for (const [i, line] of lines.entries()) this.recent.add(firstSeq + i, line);
        } catch (error) {
          if (!isConnectionError(error)) await client.query('ROLLBACK').catch(() => undefined);
          throw error;
        }
        if (lines.length) await client.query(FLUSH_SQL);
      }, true);
    } catch (error) {
      if (lines.length > 0) {
        this.stale = true;
        // Once COMMIT has answered, or if the connection went in the middle, only the journal can say
        // whether the change was made: a flush that failed must not read as a change not made.
        if (
          (committed || isConnectionError(error)) &&
          (await this.committed(firstSeq, firstSeq, txn)) !== null
        ) {
          this.stale = false;
          return this.recorded(outcomes);
        }
        void this.enqueue(() => this.reload()).catch(() => undefined);
      }
      throw pgError(error, this.location);
    }
    return this.recorded(outcomes, lines.length > 0);
  }

  private recorded(outcomes: Outcome<unknown>[], changed = true): Outcome<unknown>[] {
    this.settleIndex();
    this.fetchedTo = Math.max(this.fetchedTo, this.mem.seq);
    if (changed) this.bell.ring();
    return outcomes;
  }

  /**
   * Begin the transaction and take the write lock, then bring the in-memory state up to the journal,
   * and read the database's clock, which every lease is judged by.
   *
   * What can be done without the lock is done before it: a state that may be wrong (a failed commit)
   * is loaded again from the tables, and what the doorbell has read is applied. Under the lock at
   * most `catchUpInLock` entries are applied: a process further behind (or whose state the journal
   * no longer reaches back to: a crash took back a tail it had read, or retention went past it)
   * lets the lock go, reads the journal (or loads the tables) outside it, and takes the lock again.
   * After CATCH_UP_TRIES such turns, a process that still finds itself behind (the board writes
   * faster than it reads) catches up under the lock, whatever the length: it must make progress.
   */
  private async catchUp(client: pg.Client): Promise<Date> {
    for (let turn = 1; ; turn++) {
      if (this.stale) await this.loadOn(client);
      else this.applyFetched();
      const capped = turn <= CATCH_UP_TRIES;
      const after = this.mem.seq;
      // Each statement of the string sees what was committed before it: the last one, what was
      // committed before the lock was had.
      const results = (await client.query(
        `BEGIN; SET LOCAL lock_timeout = '${this.lockTimeoutMs}ms'; SET LOCAL synchronous_commit = off; ${WRITER_IDLE_SQL}; SELECT pg_advisory_xact_lock(${LOCK_CLASS}, hashtext(current_schema())); SELECT clock_timestamp() AS now, (SELECT entry->>'crc' FROM journal WHERE seq = ${after}) AS head, ${linesAfter(after, capped ? this.catchUpInLock + 1 : undefined)} AS lines`,
      )) as unknown as pg.QueryResult[];
      const row = results[results.length - 1]!.rows[0] as {
        now: Date;
        head: string | null;
        lines: string | null;
      };
      this.clock.read(row.now, DbClock.mark());
      const lines = splitLines(row.lines);
      const entries = lines.map((line) => this.decoded(line));
      const lost = row.head !== this.head || (entries.length > 0 && entries[0]!.seq !== after + 1);
      if (capped && (lost || entries.length > this.catchUpInLock)) {
        await client.query('ROLLBACK');
        if (lost) this.stale = true;
        else await this.readAhead(client);
        continue;
      }
      if (lost) this.loaded(await this.loadFrom(client));
      else for (const [i, entry] of entries.entries()) this.applyLine(entry, lines[i]!);
      this.lockedCatchUp = Math.max(this.lockedCatchUp, lost ? this.mem.seq - after : entries.length);
      return row.now;
    }
  }

  private decoded(line: string): JournalEntry {
    const decoded = decodeLine(line);
    if ('error' in decoded)
      throw new DreamError('E_CORRUPT', `a journal entry in schema ${this.location.schema} ${decoded.error}`);
    return decoded.entry;
  }

  /**
   * The journal after this process's state, read on the transactions' connection outside any
   * transaction and applied, page by page. Entries that do not follow on (retention went past this
   * state) leave the state to be loaded again from the tables.
   */
  private async readAhead(client: pg.Client): Promise<void> {
    for (;;) {
      const { rows } = await client.query<{ line: string }>(
        `SELECT entry::text AS line FROM journal WHERE seq > $1 ORDER BY seq LIMIT ${PULL_PAGE}`,
        [this.mem.seq],
      );
      for (const { line } of rows) {
        const entry = this.decoded(line);
        if (entry.seq !== this.mem.seq + 1) {
          this.stale = true;
          return;
        }
        this.applyLine(entry, line);
      }
      this.fetchedTo = Math.max(this.fetchedTo, this.mem.seq);
      if (rows.length < PULL_PAGE) return;
    }
  }

  /**
   * After a commit whose answer was lost (or whose flush failed): the number of this transaction's
   * first entry, looked for from `from` to `to`, or null if it was not recorded. Asked holding the
   * write lock, which the transaction holds until it has ended, so the answer cannot come while it
   * may still commit (a transaction left open by a lost client is ended by the server's idle
   * timeout). A recorded change is flushed before it is reported made.
   */
  private async committed(from: number, to: number, txn: string): Promise<number | null> {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const found = await this.reads.use(async (client) => {
          await client.query(
            `BEGIN; SET LOCAL lock_timeout = '${IDLE_IN_TRANSACTION_MS + 5_000}ms'; SET LOCAL statement_timeout = '${IDLE_IN_TRANSACTION_MS + 8_000}ms'`,
          );
          try {
            await client.query(writeLockSql(this.location.schema));
            const { rows } = await client.query(
              'SELECT min(seq) AS seq FROM journal WHERE seq BETWEEN $1 AND $2 AND txn = $3',
              [from, to, txn],
            );
            await client.query('COMMIT');
            return rows[0].seq === null ? null : Number(rows[0].seq);
          } catch (error) {
            await client.query('ROLLBACK').catch(() => undefined);
            throw error;
          }
        });
        if (found !== null) await this.reads.query(FLUSH_SQL);
        return found;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 200 * (attempt + 1)));
      }
    }
    throw new DreamError(
      'E_IO',
      `PostgreSQL at ${shownUrl(this.location.url)} (schema ${this.location.schema}) could not be asked whether a change was made after its commit went unanswered: check with \`dreamos log\``,
    );
  }

  /** Reload the in-memory state from the tables (after a failed commit). */
  private async reload(): Promise<void> {
    await this.main.use((client) => this.loadOn(client));
  }

  /** The state loaded from the tables, in a snapshot of its own on `client`. */
  private async loadOn(client: pg.Client): Promise<void> {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      this.loaded(await this.loadFrom(client));
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  /** Every change is in the journal table: the doorbell rings for it, then the view catches up. */
  watch(onMaybeChanged: () => void, options?: WatchOptions): Watching {
    return this.bell.subscribe(() => {
      void this.pull().then(onMaybeChanged, onMaybeChanged);
    }, options);
  }

  /** Writers queue in the database: there is no lock file a stopped process could be holding. */
  writeLockHolder(): LockHolder | null {
    return null;
  }

  /**
   * Retention (state/pg/retention.ts), at most once per `retention.everyMs` in this process: old
   * journal entries and old archived tasks are deleted in short batches. It repairs nothing, so it
   * has nothing to tell.
   */
  async upkeep(): Promise<RecoveryNotice[]> {
    if (this.readOnly || this.closed) return [];
    const now = Date.now();
    if (now - this.retainedAt < this.retention.everyMs) return [];
    this.retainedAt = now;
    await this.upkeepTurn(() => retain(this.upkeepSession, this.location, this.retention, () => this.closed));
    return [];
  }

  private upkeepTurn<T>(work: () => Promise<T>): Promise<T> {
    const run = this.upkeeping.then(work);
    this.upkeeping = run.catch(() => undefined);
    return run;
  }

  /** What this process recorded is committed when its transaction returns: wait for those in flight. */
  async flush(): Promise<void> {
    await this.queue;
  }

  /** doctor: the schema, the journal and every row (state/pg/check.ts); a repair is a journal entry. */
  async check(options: { repair: boolean }): Promise<HealthReport> {
    const report = await this.upkeepTurn(() =>
      checkSchema(this.upkeepSession, this.location, options.repair),
    );
    if (report.repaired.length > 0) {
      this.bell.ring();
      // This process's view takes the repair as it takes any change.
      await this.pull();
      this.applyFetched();
    }
    return report;
  }

  /**
   * One statement on the readers' session, outside any transaction: a row per role with its holder
   * and the end of its term, claimed when free or run out and renewed by its holder. The term is
   * set and judged by the database's clock only, so a host whose clock is off can neither steal the
   * role early nor keep it late; and it is a row, not an advisory lock, so a holder whose
   * connection drops and comes back keeps it, and one whose process hangs loses it when it runs out.
   */
  async lead(role: string, holder: string, ttlMs: number): Promise<boolean> {
    const { rows } = await this.reads.query(
      `INSERT INTO leaders (role, holder, expires_at)
         VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3::double precision / 1000))
       ON CONFLICT (role) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
         WHERE leaders.holder = excluded.holder OR leaders.expires_at < clock_timestamp()
       RETURNING holder`,
      [role, holder, ttlMs],
    );
    return rows.length > 0;
  }

  async dedupedTask(key: string): Promise<Task | null> {
    const id = this.mem.dedupe(key);
    if (id === undefined) return null;
    const live = this.mem.task(id);
    if (live) return live;
    const { rows } = await this.reads.query('SELECT doc::text AS doc FROM archive WHERE id = $1', [id]);
    const doc = rows[0]?.doc as string | undefined;
    if (doc === undefined) return null;
    const parsed = Task.safeParse(JSON.parse(doc));
    return parsed.success ? parsed.data : null;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.writes?.close();
    await this.queue;
    this.closed = true;
    await this.upkeeping;
    await Promise.all([this.main.close(), this.reads.close(), this.upkeepSession.close(), this.bell.close()]);
  }
}
