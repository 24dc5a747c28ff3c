/**
 * The state database: an in-memory view of the workspace, advanced from the journal tail, with
 * board files written as snapshots. One narrow interface (`StateBackend`) so that a PostgreSQL
 * backend for multi-machine fleets can stand behind the same lifecycle code.
 *
 * A transaction: in-process mutex → journal lock → catch up from the journal (re-read inside the
 * lock) → plan the change against the fresh state → validate → append + fdatasync → apply → unlock.
 * One journal line holds the whole change, so a task moving between two stores is atomic.
 */
import fs from 'node:fs';
import { crc32 } from 'node:zlib';
import { DreamError } from '../src/errors.js';
import { Journal, type JournalDamage, listSegments } from './journal.js';
import { acquireLock } from './lock.js';
import { STORES, type StoreName, type WorkspacePaths } from './paths.js';
import {
  type Alert,
  AlertsFile,
  BoardFile,
  JournalEntry,
  type JournalPosition,
  PRIORITIES,
  type Priority,
  SCHEMA_VERSION,
  storeOf,
  type Task,
} from './schemas.js';
import { CorruptFileError, quarantineFile, ValidatedJsonFile } from './store.js';

export interface Counters {
  task: number;
  alert: number;
}

/** What a transaction wants to record. Objects are whole new states; `rev` is filled in here. */
export interface Change {
  op: string;
  by: string;
  tasks?: Task[];
  archived?: string[];
  alerts?: Alert[];
  config?: unknown;
  counters?: Partial<Counters>;
}

export interface Plan<T> {
  change: Change | null;
  result: T;
}

/** A notice for the user: something was found wrong and handled (quarantined, rebuilt, repaired). */
export interface RecoveryNotice {
  kind: 'quarantined' | 'rebuilt' | 'torn-tail' | 'journal-damage' | 'missing-store';
  path: string;
  message: string;
}

export interface StateView {
  readonly seq: number;
  readonly counters: Readonly<Counters>;
  readonly config: unknown;
  task(id: string): Task | undefined;
  tasks(): Iterable<Task>;
  inStore(store: StoreName): Iterable<Task>;
  /** Ready tasks of one priority, oldest first. */
  readyByPriority(priority: Priority): Iterable<Task>;
  storeSize(store: StoreName): number;
  alert(id: string): Alert | undefined;
  alerts(): Iterable<Alert>;
}

export interface StateBackend {
  readonly view: StateView;
  readonly notices: RecoveryNotice[];
  /** Catch up with changes made by other processes. */
  refresh(): void;
  transact<T>(plan: (view: StateView, now: Date) => Plan<T>): Promise<T>;
  /** Bring the snapshot files up to date. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface DbOptions {
  /** Write snapshots once this many entries have accumulated since the last. */
  snapshotEvery?: number;
  lockTimeoutMs?: number;
  /** Ignore snapshot files and rebuild everything from the journal (doctor). */
  fromJournalOnly?: boolean;
  /** Never write (doctor's comparison replay). */
  readOnly?: boolean;
}

type Snapshotted = StoreName | 'alerts';

class Memory implements StateView {
  seq = 0;
  counters: Counters = { task: 0, alert: 0 };
  config: unknown = undefined;
  readonly byId = new Map<string, Task>();
  readonly stores: Record<StoreName, Map<string, Task>> = {
    backlog: new Map(),
    ready: new Map(),
    working: new Map(),
    completed: new Map(),
  };
  readonly readyQueues = Object.fromEntries(PRIORITIES.map((p) => [p, new Map<string, Task>()])) as Record<
    Priority,
    Map<string, Task>
  >;
  readonly alertsById = new Map<string, Alert>();
  readonly dirty = new Set<Snapshotted>();

  task(id: string) {
    return this.byId.get(id);
  }
  tasks() {
    return this.byId.values();
  }
  inStore(store: StoreName) {
    return this.stores[store].values();
  }
  readyByPriority(priority: Priority) {
    return this.readyQueues[priority].values();
  }
  storeSize(store: StoreName) {
    return this.stores[store].size;
  }
  alert(id: string) {
    return this.alertsById.get(id);
  }
  alerts() {
    return this.alertsById.values();
  }

  private remove(task: Task): void {
    const store = storeOf(task.status);
    this.stores[store].delete(task.id);
    if (task.status === 'ready') this.readyQueues[task.priority].delete(task.id);
    this.byId.delete(task.id);
    this.dirty.add(store);
  }

  putTask(task: Task): void {
    const current = this.byId.get(task.id);
    if (current && current.rev >= task.rev) return;
    if (current) this.remove(current);
    const store = storeOf(task.status);
    this.byId.set(task.id, task);
    this.stores[store].set(task.id, task);
    if (task.status === 'ready') this.readyQueues[task.priority].set(task.id, task);
    this.dirty.add(store);
  }

  archive(id: string, seq: number): void {
    const current = this.byId.get(id);
    if (current && current.rev < seq) this.remove(current);
  }

  putAlert(alert: Alert): void {
    const current = this.alertsById.get(alert.id);
    if (current && current.rev >= alert.rev) return;
    this.alertsById.set(alert.id, alert);
    this.dirty.add('alerts');
  }

  apply(entry: JournalEntry): void {
    for (const { task } of entry.tasks ?? []) this.putTask(task);
    for (const id of entry.archived ?? []) this.archive(id, entry.seq);
    for (const alert of entry.alerts ?? []) this.putAlert(alert);
    if (entry.config !== undefined) this.config = entry.config;
    this.counters = {
      task: Math.max(this.counters.task, entry.counters.task),
      alert: Math.max(this.counters.alert, entry.counters.alert),
    };
    this.seq = Math.max(this.seq, entry.seq);
  }
}

export const digestOf = (items: unknown[]) => crc32(JSON.stringify(items)).toString(16).padStart(8, '0');

const readySince = (task: Task) => task.history[task.history.length - 1]?.at ?? task.updatedAt;

export class JournalDb implements StateBackend {
  readonly notices: RecoveryNotice[] = [];
  private readonly mem = new Memory();
  private readonly journal: Journal;
  private readonly damage: JournalDamage[] = [];
  private readonly snapshotEvery: number;
  private readonly lockTimeoutMs: number;
  private readonly readOnly: boolean;
  private sinceSnapshot = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Alerts to raise with the next write (recovery found something on open). */
  private pendingAlerts: Array<Omit<Alert, 'id' | 'rev' | 'count' | 'createdAt' | 'updatedAt' | 'status'>> =
    [];

  private constructor(
    readonly paths: WorkspacePaths,
    start: JournalPosition,
    options: DbOptions,
  ) {
    this.journal = new Journal(paths, start);
    this.snapshotEvery = options.snapshotEvery ?? 2000;
    this.lockTimeoutMs = options.lockTimeoutMs ?? 15_000;
    this.readOnly = options.readOnly ?? false;
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
   * Open the state: load the snapshot files, quarantine any that is corrupt, replay the journal from
   * the oldest snapshot's position (from the start when a snapshot is missing or was quarantined),
   * then record what recovery did as alerts and rewrite the rebuilt snapshots.
   */
  static async open(paths: WorkspacePaths, options: DbOptions = {}): Promise<JournalDb> {
    const loaded: Array<{
      seq: number;
      journal: JournalPosition;
      counters: Counters;
      tasks?: Task[];
      alerts?: Alert[];
    }> = [];
    const notices: RecoveryNotice[] = [];
    let fullReplay = options.fromJournalOnly ?? false;
    const hasJournal = listSegments(paths).length > 0;
    if (!fullReplay) {
      const files: Array<[Snapshotted, string]> = [
        ...STORES.map((store): [Snapshotted, string] => [store, paths.board(store)]),
        ['alerts', paths.alerts],
      ];
      for (const [kind, path] of files) {
        const file = new ValidatedJsonFile(path, kind === 'alerts' ? AlertsFile : BoardFile);
        const data = (await readOrQuarantine(file, paths, notices, options.readOnly ?? false)) as
          | BoardFile
          | AlertsFile
          | null;
        if (data === null) {
          if (hasJournal && !notices.some((n) => n.path === file.path)) {
            notices.push({
              kind: 'missing-store',
              path: file.path,
              message: `${file.path} was missing; it is rebuilt from the journal`,
            });
          }
          fullReplay = true;
          continue;
        }
        const items = 'tasks' in data ? data.tasks : data.alerts;
        if (digestOf(items) !== data.digest) {
          if (options.readOnly) throw new DreamError('E_CORRUPT', `${path} was edited outside Dream.OS`);
          const moved = await quarantineUnderLock(paths, path);
          notices.push({
            kind: 'quarantined',
            path,
            message: `${path} was changed outside Dream.OS (digest mismatch); moved to ${moved} and rebuilt from the journal`,
          });
          fullReplay = true;
          continue;
        }
        if ('tasks' in data) {
          const misplaced = data.tasks.find((t) => storeOf(t.status) !== kind);
          if (misplaced || data.store !== kind) {
            if (!options.readOnly) {
              const moved = await quarantineUnderLock(paths, file.path);
              notices.push({
                kind: 'quarantined',
                path: file.path,
                message: `${file.path} held a task of another store; moved to ${moved} and rebuilt from the journal`,
              });
            }
            fullReplay = true;
            continue;
          }
          loaded.push({ seq: data.seq, journal: data.journal, counters: data.counters, tasks: data.tasks });
        } else {
          loaded.push({ seq: data.seq, journal: data.journal, counters: data.counters, alerts: data.alerts });
        }
      }
    }
    const start =
      fullReplay || loaded.length === 0
        ? { segment: listSegments(paths)[0] ?? 1, offset: 0 }
        : loaded.reduce(
            (min, s) =>
              s.journal.segment < min.segment ||
              (s.journal.segment === min.segment && s.journal.offset < min.offset)
                ? s.journal
                : min,
            loaded[0]!.journal,
          );
    const db = new JournalDb(paths, start, options);
    db.notices.push(...notices);
    if (!fullReplay) {
      for (const snap of loaded) {
        for (const task of snap.tasks ?? []) db.mem.putTask(task);
        for (const alert of snap.alerts ?? []) db.mem.putAlert(alert);
      }
      // Snapshots tell the journal where replay starts; entries before that were applied already.
      const minSeq = Math.min(...loaded.map((s) => s.seq));
      db.journal.lastSeq = minSeq;
      db.mem.seq = minSeq;
      db.mem.counters = {
        task: Math.max(...loaded.map((s) => s.counters.task)),
        alert: Math.max(...loaded.map((s) => s.counters.alert)),
      };
    }
    db.catchUp();
    db.sortReadyQueues();
    db.mem.dirty.clear();
    for (const n of db.notices) {
      if (n.kind === 'quarantined' || n.kind === 'missing-store') {
        db.pendingAlerts.push({
          kind: n.kind === 'quarantined' ? 'corrupt-state' : 'missing-store',
          severity: 'critical',
          key: `${n.kind}:${n.path}:${db.mem.seq}`,
          subject: n.path,
          message: n.message,
          evidence: { path: n.path },
          action: 'quarantined and rebuilt from the journal; inspect quarantine/ and run `dreamos doctor`',
        });
      }
    }
    if (fullReplay && hasJournal && !options.readOnly && !options.fromJournalOnly) {
      for (const store of STORES) db.mem.dirty.add(store);
      db.mem.dirty.add('alerts');
      await db.transact(() => ({ change: null, result: undefined }));
      await db.flush();
    }
    return db;
  }

  private sortReadyQueues(): void {
    for (const p of PRIORITIES) {
      const queue = this.mem.readyQueues[p];
      const sorted = [...queue.values()].sort(
        (a, b) => readySince(a).localeCompare(readySince(b)) || a.id.localeCompare(b.id),
      );
      queue.clear();
      for (const t of sorted) queue.set(t.id, t);
    }
  }

  private catchUp(): void {
    this.journal.readNew(
      (entry) => this.mem.apply(entry),
      (damage) => {
        if (!this.damage.some((d) => d.segment === damage.segment && d.offset === damage.offset))
          this.damage.push(damage);
      },
    );
  }

  refresh(): void {
    if (!this.closed) this.catchUp();
  }

  transact<T>(plan: (view: StateView, now: Date) => Plan<T>): Promise<T> {
    if (this.readOnly) return Promise.reject(new DreamError('E_IO', 'this state was opened read-only'));
    const run = this.queue.then(() => this.transactNow(plan));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async transactNow<T>(plan: (view: StateView, now: Date) => Plan<T>): Promise<T> {
    if (this.closed) throw new DreamError('E_IO', 'the workspace is closed');
    const lock = await acquireLock(this.paths.journalLock, { timeoutMs: this.lockTimeoutMs });
    let result: T;
    try {
      this.catchUp();
      const torn = this.journal.repairTornTail();
      if (torn) {
        this.notices.push({
          kind: 'torn-tail',
          path: torn,
          message: `an unfinished journal line from a crashed writer was moved to ${torn}`,
        });
      }
      this.recordDamageAndRecovery();
      const now = new Date();
      const planned = plan(this.mem, now);
      result = planned.result;
      if (planned.change) this.commit(planned.change, now);
      if (lock.compromised) {
        throw new DreamError(
          'E_LOCK_COMPROMISED',
          `the journal lock was taken over while held: ${lock.compromised.message}`,
        );
      }
    } finally {
      await lock.release();
    }
    if (this.sinceSnapshot >= this.snapshotEvery) await this.flushNow();
    return result;
  }

  private recordDamageAndRecovery(): void {
    const alerts: Alert[] = [];
    const now = new Date().toISOString();
    const raise = (draft: (typeof this.pendingAlerts)[number]) => {
      if ([...this.mem.alerts()].some((a) => a.key === draft.key)) return;
      this.mem.counters.alert += 1;
      alerts.push({
        ...draft,
        id: `A-${this.mem.counters.alert.toString(36).toUpperCase().padStart(5, '0')}`,
        status: 'open',
        count: 1,
        createdAt: now,
        updatedAt: now,
        rev: 0,
      });
    };
    for (const draft of this.pendingAlerts) raise(draft);
    this.pendingAlerts = [];
    for (const d of this.damage) {
      const key = `journal-damage:${d.segment}:${d.offset}`;
      if ([...this.mem.alerts()].some((a) => a.key === key)) continue;
      const copy = this.journal.quarantineDamage(d);
      this.notices.push({
        kind: 'journal-damage',
        path: copy,
        message: `a damaged journal line (${d.reason}) was skipped; a copy is in ${copy}`,
      });
      raise({
        kind: 'journal-damage',
        severity: 'critical',
        key,
        subject: `journal segment ${d.segment}`,
        message: `journal line at segment ${d.segment} offset ${d.offset} is damaged (${d.reason}) and was skipped`,
        evidence: { ...d, copy },
        action: 'skipped; a copy is in quarantine/. If it was written by hand, use the CLI instead.',
      });
    }
    if (alerts.length > 0) this.commit({ op: 'recovery', by: 'dreamos', alerts }, new Date());
  }

  private commit(change: Change, now: Date): void {
    const seq = this.journal.lastSeq + 1;
    const counters = {
      task: Math.max(this.mem.counters.task, change.counters?.task ?? 0),
      alert: Math.max(this.mem.counters.alert, change.counters?.alert ?? 0),
    };
    const draft = {
      schemaVersion: SCHEMA_VERSION,
      seq,
      at: now.toISOString(),
      by: change.by,
      op: change.op,
      ...(change.tasks?.length
        ? { tasks: change.tasks.map((task) => ({ task: { ...task, rev: seq } })) }
        : {}),
      ...(change.archived?.length ? { archived: change.archived } : {}),
      ...(change.alerts?.length ? { alerts: change.alerts.map((alert) => ({ ...alert, rev: seq })) } : {}),
      ...(change.config !== undefined ? { config: change.config } : {}),
      counters,
      crc: '00000000',
    };
    // Every write is validated: a change that does not fit the schema is refused before it is journaled.
    const checked = JournalEntry.safeParse(draft);
    if (!checked.success) {
      throw new DreamError(
        'E_INVALID_INPUT',
        `refused to record an invalid change: ${checked.error.issues[0]?.path.join('.')}: ${checked.error.issues[0]?.message}`,
      );
    }
    const { schemaVersion: _v, seq: _s, crc: _c, ...body } = draft;
    const entry = this.journal.append(body);
    this.mem.apply(entry);
    this.sinceSnapshot += 1;
  }

  flush(): Promise<void> {
    if (this.readOnly) return Promise.resolve();
    const run = this.queue.then(() => this.flushNow());
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Write the snapshot of every store that changed. Under the snapshot lock, the state is first
   * brought to the journal's end under the journal lock, so a snapshot never runs ahead of what is
   * durable and never goes back behind one written by another process.
   */
  private async flushNow(): Promise<void> {
    if (this.closed) return;
    const snapLock = await acquireLock(this.paths.snapshotLock, { timeoutMs: this.lockTimeoutMs });
    try {
      const journalLock = await acquireLock(this.paths.journalLock, { timeoutMs: this.lockTimeoutMs });
      try {
        this.catchUp();
      } finally {
        await journalLock.release();
      }
      const pos = this.journal.pos;
      const seq = this.mem.seq;
      for (const kind of [...this.mem.dirty]) {
        if (kind === 'alerts') {
          const alerts = [...this.mem.alerts()];
          new ValidatedJsonFile(this.paths.alerts, AlertsFile).writeSync({
            schemaVersion: SCHEMA_VERSION,
            seq,
            journal: pos,
            counters: { ...this.mem.counters },
            digest: digestOf(alerts),
            alerts,
          });
        } else {
          const tasks = [...this.mem.inStore(kind)];
          new ValidatedJsonFile(this.paths.board(kind), BoardFile).writeSync({
            schemaVersion: SCHEMA_VERSION,
            store: kind,
            seq,
            journal: pos,
            counters: { ...this.mem.counters },
            digest: digestOf(tasks),
            tasks,
          });
        }
        this.mem.dirty.delete(kind);
      }
      this.sinceSnapshot = 0;
    } finally {
      await snapLock.release();
    }
  }

  /** Have the next flush rewrite this snapshot even if nothing changed in it. */
  markDirty(kind: Snapshotted): void {
    this.mem.dirty.add(kind);
  }

  get dirtyStores(): readonly string[] {
    return [...this.mem.dirty];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue;
    if (!this.readOnly && this.mem.dirty.size > 0) await this.flushNow();
    this.closed = true;
    this.journal.close();
  }
}

async function readOrQuarantine(
  file: { path: string; readSync(): unknown },
  paths: WorkspacePaths,
  notices: RecoveryNotice[],
  readOnly: boolean,
): Promise<unknown> {
  try {
    return file.readSync();
  } catch (error) {
    if (!(error instanceof CorruptFileError)) throw error;
    if (readOnly) throw new DreamError('E_CORRUPT', error.message);
    // Re-check under the lock: a concurrent snapshot writer may have replaced it with a good file.
    const lock = await acquireLock(paths.snapshotLock);
    try {
      try {
        return file.readSync();
      } catch (again) {
        if (!(again instanceof CorruptFileError)) throw again;
        const moved = quarantineFile(file.path, paths.quarantineDir);
        notices.push({
          kind: 'quarantined',
          path: file.path,
          message: `${again.message}; moved to ${moved} and rebuilt from the journal`,
        });
        return null;
      }
    } finally {
      await lock.release();
    }
  }
}

async function quarantineUnderLock(paths: WorkspacePaths, path: string): Promise<string> {
  const lock = await acquireLock(paths.snapshotLock);
  try {
    return fs.existsSync(path) ? quarantineFile(path, paths.quarantineDir) : path;
  } finally {
    await lock.release();
  }
}
