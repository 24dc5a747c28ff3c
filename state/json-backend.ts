/**
 * The journaled JSON store as a `StateBackend`: the transactional core (JournalDb, state/db.ts),
 * the shared writer that makes hot changes for other processes (state/writer/), doctor's checks
 * of the files (state/json-check.ts) and the journal read as history (state/history.ts). Nothing
 * above `state/` sees any of them.
 */
import fs from 'node:fs';
import type {
  BackendFactory,
  BackendOptions,
  HealthReport,
  HotChange,
  HotRequest,
  PlanFn,
  StateBackend,
  Watching,
  WatchOptions,
  WriterStatus,
} from './backend.js';
import { type BatchItem, type Change, JournalDb, type RecoveryNotice, type StateView } from './db.js';
import { JournalHistory } from './history.js';
import { checkFiles, inspectFiles } from './json-check.js';
import { leadByFile } from './leader-file.js';
import { type LockHolder, lockHolder } from './lock/index.js';
import { jsonStoreFolders, type WorkspacePaths } from './paths.js';
import { privateDir } from './safe-files.js';
import type { Task } from './schemas.js';
import { REQUIRED_KINDS } from './snapshots.js';
import { type SharedWriter, sharedWriterFor } from './writer/index.js';

export class JsonBackend implements StateBackend {
  readonly name = 'json';
  readonly history: JournalHistory;
  /** The shared writer, unless this process writes only for itself. */
  private readonly writes: SharedWriter | null;
  /** A shared writer in another process made a change for this one since the view was last read. */
  private behind = false;

  constructor(
    readonly db: JournalDb,
    options: BackendOptions = {},
  ) {
    this.history = new JournalHistory(db.paths);
    this.writes = sharedWriterFor(db.paths, db, options, db.lockTimeoutMs);
  }

  /**
   * The state as of this process's last change or refresh. A change the shared writer made for this
   * process is not in it yet: the next look reads it from the journal first.
   */
  get view(): StateView {
    if (this.behind) this.refresh();
    return this.db.view;
  }

  get notices(): readonly RecoveryNotice[] {
    return this.db.notices;
  }

  get writer(): WriterStatus | null {
    return this.writes?.status ?? null;
  }

  refresh(): void {
    this.behind = false;
    this.db.refresh();
  }

  transact<T>(plan: PlanFn<T>): Promise<T> {
    return this.db.transact(plan);
  }

  transactBatch(take: () => BatchItem[]): Promise<void> {
    return this.db.transactBatch(take);
  }

  async hot<T>(request: HotRequest, local: HotChange<T>): Promise<T> {
    if (!this.writes) return this.db.transact(local.plan);
    const result = await this.writes.run(request.op, request.args, request.actor, local);
    if (this.writes.role !== 'writer') this.behind = true;
    return result;
  }

  /** Resolves once every transaction asked for so far has ended (the shared writer's tests wait on it). */
  idle(): Promise<void> {
    return this.db.idle();
  }

  /** Every change appends to the journal, so the journal's watcher is the state's. */
  watch(onMaybeChanged: () => void, options?: WatchOptions): Watching {
    return this.history.watch(onMaybeChanged, options);
  }

  writeLockHolder(): LockHolder | null {
    return lockHolder(this.db.paths.journalLock);
  }

  async upkeep(): Promise<RecoveryNotice[]> {
    // State files edited behind Dream.OS's back are found here, quarantined and rebuilt with an alert.
    const found = await this.db.verifySnapshots();
    // Keep the board files close to the journal for anyone reading them.
    if (this.db.dirtyStores.length > 0) await this.db.flush();
    return found;
  }

  flush(): Promise<void> {
    return this.db.flush();
  }

  check(options: { repair: boolean }): Promise<HealthReport> {
    return checkFiles(this.db, options);
  }

  /** A record under a lock in locks/ (state/leader-file.ts), judged by this machine's clock. */
  lead(role: string, holder: string, ttlMs: number): Promise<boolean> {
    return leadByFile(this.db.paths, role, holder, ttlMs, this.db.lockTimeoutMs);
  }

  async dedupedTask(key: string): Promise<Task | null> {
    return this.db.dedupedTask(key);
  }

  async close(): Promise<void> {
    await this.writes?.close();
    await this.db.close();
  }
}

export const jsonBackend: BackendFactory = {
  async open(paths: WorkspacePaths, options: BackendOptions) {
    const db = await JournalDb.open(paths, {
      ...(options.lockTimeoutMs !== undefined ? { lockTimeoutMs: options.lockTimeoutMs } : {}),
      ...(options.snapshotEvery !== undefined ? { snapshotEvery: options.snapshotEvery } : {}),
      ...(options.readOnly ? { readOnly: true } : {}),
    });
    return new JsonBackend(db, options);
  },

  async create(paths: WorkspacePaths, first: Change) {
    for (const dir of jsonStoreFolders(paths)) privateDir(dir);
    const db = await JournalDb.open(paths);
    await db.transact(() => ({ change: first, result: undefined }));
    for (const kind of REQUIRED_KINDS) db.markDirty(kind);
    await db.flush();
    return new JsonBackend(db);
  },

  inspect: inspectFiles,

  /** Every change is in the journal: a folder without journal/ holds no state of this store. */
  looksLikeWorkspace: (paths: WorkspacePaths) => fs.existsSync(paths.journalDir),

  history: (paths: WorkspacePaths) => new JournalHistory(paths),
};
