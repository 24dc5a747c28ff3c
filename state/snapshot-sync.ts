/**
 * Snapshot upkeep: the board, alert, agent, mailbox and checkpoint files (snapshots.ts) are a cache
 * of the journal, rewritten from memory when they changed or fell far behind, and checked in
 * long-running processes for edits made by anything but a snapshot writer.
 */

import fs from 'node:fs';
import { writeArchiveKeys } from './archive-keys.js';
import { DreamError } from './errors.js';
import { acquireLock } from './lock/index.js';
import { STORES, type StoreName, type WorkspacePaths } from './paths.js';
import { type RecoveryNotice, readOrQuarantine } from './recovery.js';
import type { JournalPosition, Task } from './schemas.js';
import { REQUIRED_KINDS, type Snapshot, snapshotKinds, snapshotPath, writeSnapshot } from './snapshots.js';
import type { SnapshotKind, StateIndex, StateView } from './state-index.js';
import { writeFileDurable } from './store.js';

/** A snapshot this far behind the journal (bytes, and at least its own size) is rewritten at the next flush. */
const LAG_BYTES = 64 * 1024;

/** What snapshot upkeep uses of the db (JournalDb gives it these, and nothing else). */
export interface SnapshotSyncContext {
  readonly paths: WorkspacePaths;
  /** The state in memory, with what changed since the last write (`dirty`, `archivedPending`). */
  readonly mem: StateIndex;
  /** Write snapshots once this many entries have accumulated since the last. */
  readonly snapshotEvery: number;
  /** The journal's end, as far as this process has read it. */
  end(): JournalPosition;
  /** Read the journal's new entries into memory. */
  catchUp(): void;
  /** Let go of a journal lock kept from the last transaction. */
  letGoOfJournalLock(): void;
}

export class SnapshotSync {
  /** The journal entry and position each snapshot file was last known to reflect. */
  private readonly written = new Map<SnapshotKind, { seq: number; pos: JournalPosition }>();
  /** Size and mtime of each snapshot file as this process last wrote or checked it. */
  private readonly seenFiles = new Map<string, string>();
  /** Entries this process recorded since it last wrote snapshots. */
  private sinceSnapshot = 0;
  /** Snapshots are due after this many times `snapshotEvery` entries (a writer serving others). */
  scale = 1;

  constructor(private readonly db: SnapshotSyncContext) {}

  /** Opening read this snapshot file. */
  loaded(snapshot: Snapshot): void {
    this.written.set(snapshot.kind, { seq: snapshot.seq, pos: snapshot.journal });
  }

  /** This process recorded an entry. */
  counted(): void {
    this.sinceSnapshot += 1;
  }

  /** Enough entries since the last snapshot (counted for every process this one writes for). */
  get due(): boolean {
    return this.sinceSnapshot >= this.db.snapshotEvery * this.scale;
  }

  /**
   * Write the snapshot of everything that changed. Under the snapshot lock, the state is first
   * brought to the journal's end under the journal lock, so a snapshot never runs ahead of what is
   * durable and never goes back behind one written by another process.
   */
  async write(lockWaitMs: number): Promise<void> {
    const { paths, mem } = this.db;
    // Locks are taken snapshot first, then journal: a journal lock kept from the last transaction
    // is let go before waiting for the snapshot lock.
    this.db.letGoOfJournalLock();
    const snapLock = await acquireLock(paths.snapshotLock, { timeoutMs: lockWaitMs });
    try {
      const journalLock = await acquireLock(paths.journalLock, { timeoutMs: lockWaitMs });
      try {
        this.db.catchUp();
      } finally {
        await journalLock.release();
      }
      const pos = this.db.end();
      // Archived tasks are written to archive/ before the board that no longer holds them.
      for (const [seq, tasks] of mem.archivedPending) {
        writeFileDurable(paths.archiveFile(seq), `${tasks.map((t) => JSON.stringify(t)).join('\n')}\n`);
        writeArchiveKeys(paths, seq, tasks);
      }
      mem.archivedPending.clear();
      for (const kind of this.kindsToWrite()) {
        writeSnapshot(paths, mem, kind, pos);
        mem.dirty.delete(kind);
        this.written.set(kind, { seq: mem.seq, pos });
        const path = snapshotPath(paths, kind);
        const signature = fileSignature(path);
        if (signature) this.seenFiles.set(path, signature);
      }
      this.sinceSnapshot = 0;
    } finally {
      await snapLock.release();
    }
  }

  /**
   * Snapshots that changed, and those lagging far behind the journal even if unchanged: opening
   * replays from the oldest snapshot, so none may stay behind, or every open would grow with history.
   * "Far" is counted in entries, and in bytes: once the journal after a snapshot is longer than the
   * snapshot itself, replaying it costs more than rewriting the file (one big import is one entry).
   */
  private kindsToWrite(): SnapshotKind[] {
    const { mem } = this.db;
    const kinds = new Set(mem.dirty);
    const end = this.db.end();
    for (const [kind, { seq, pos }] of this.written) {
      if (kinds.has(kind)) continue;
      if (mem.seq - seq >= this.db.snapshotEvery) kinds.add(kind);
      else if (mem.seq > seq) {
        const behind = pos.segment === end.segment ? end.offset - pos.offset : Number.POSITIVE_INFINITY;
        // The file's size is looked up only when the lag could pass it (one stat less per file).
        if (behind >= LAG_BYTES && behind >= fileSize(snapshotPath(this.db.paths, kind))) kinds.add(kind);
      }
    }
    return [...kinds];
  }

  /**
   * Find the snapshot files changed by anything but a snapshot writer (an agent editing state files
   * directly): one that no longer validates is quarantined, and it and any missing one are marked
   * for the next write. Cheap when nothing changed: one stat per file.
   */
  async check(): Promise<RecoveryNotice[]> {
    const { paths, mem } = this.db;
    const found: RecoveryNotice[] = [];
    for (const kind of [...snapshotKinds(paths), ...REQUIRED_KINDS]) {
      const path = snapshotPath(paths, kind);
      const signature = fileSignature(path);
      if (signature !== null && this.seenFiles.get(path) === signature) continue;
      if (signature !== null) {
        const notices: RecoveryNotice[] = [];
        const snapshot = await readOrQuarantine(paths, kind, notices, false);
        found.push(...notices);
        if (snapshot) {
          this.seenFiles.set(path, signature);
          continue;
        }
      }
      if (signature === null && REQUIRED_KINDS.includes(kind) && !found.some((n) => n.path === path)) {
        found.push({
          kind: 'missing-store',
          path,
          message: `${path} was removed; it is rewritten from the journal`,
        });
      }
      if (signature !== null || REQUIRED_KINDS.includes(kind)) mem.dirty.add(kind);
    }
    return found;
  }
}

/**
 * Why closing could not bring the snapshot files up to date, when the user must hear it: what was
 * journaled stays done (the files are only behind it), so say so, not just "ENOSPC". Null when
 * nothing needs saying (the locks were busy, or this process changed nothing).
 */
export function closeFailure(error: unknown, journaled: boolean): DreamError | null {
  const busy = error instanceof DreamError && error.code === 'E_LOCK_TIMEOUT';
  if (busy || !journaled) return null;
  // A state too large to serialise (RangeError) is not fixed by trying again: say what shrinks it.
  const next =
    error instanceof RangeError
      ? 'the state is too large to write: acknowledge mail (`dreamos mail ack --all --agent ID`) or cancel the tasks nobody needs (`dreamos task cancel ID`; finished tasks are archived) (docs/security.md, Limits on inputs)'
      : 'a later command brings them up to date';
  return new DreamError(
    'E_IO',
    `every change is saved in the journal, but the state files could not be rewritten (${(error as Error).message}); ${next}`,
  );
}

const before = (a: JournalPosition, b: JournalPosition) =>
  a.segment < b.segment || (a.segment === b.segment && a.offset < b.offset);

/** Where replay starts: at the oldest loaded snapshot's position, or at `first` when none was loaded. */
export function replayStart(loaded: readonly Snapshot[], first: JournalPosition): JournalPosition {
  if (loaded.length === 0) return first;
  return loaded.reduce((min, s) => (before(s.journal, min) ? s.journal : min), loaded[0]!.journal);
}

/**
 * The boards that disagree with the replayed state. A writer killed between two snapshot writes
 * leaves boards of different ages (a moved task on both); the journal settles the state, and the
 * next flush rewrites every board that disagrees.
 */
export function boardsBehind(loaded: readonly Snapshot[], view: StateView): StoreName[] {
  const behind: StoreName[] = [];
  for (const snapshot of loaded) {
    if (!(STORES as readonly string[]).includes(snapshot.kind)) continue;
    const kind = snapshot.kind as StoreName;
    const tasks = snapshot.items as Task[];
    if (tasks.length !== view.storeSize(kind) || tasks.some((t) => view.task(t.id)?.rev !== t.rev))
      behind.push(kind);
  }
  return behind;
}

function fileSize(path: string): number {
  try {
    return fs.statSync(path).size;
  } catch {
    return 0;
  }
}

function fileSignature(path: string): string | null {
  try {
    const st = fs.statSync(path);
    return `${st.mtimeMs}:${st.size}`;
  } catch {
    return null;
  }
}
