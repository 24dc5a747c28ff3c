/**
 * The append-only transaction journal: JSON lines in numbered segments, one entry per state change,
 * each with a sequence number and a crc32. An entry is appended and fdatasync'ed before the change it
 * records is reported. It is the source of truth: board files are snapshots of it.
 *
 * Readers take only complete lines. A line that does not parse, validate or match its crc is reported
 * as damage and skipped (a copy goes to quarantine/, the journal itself is never rewritten). A torn
 * last line, left by a writer killed mid-append, was never acknowledged: the next writer, holding the
 * lock, moves those bytes to quarantine/ and truncates the segment back to its last complete line.
 */
import fs from 'node:fs';
import { DreamError, errnoCode } from './errors.js';
import {
  type EntryDraft,
  JournalCursor,
  type JournalDamage,
  SEGMENT_BYTES,
  sealEntry,
} from './journal-reader.js';
import type { WorkspacePaths } from './paths.js';
import { openRead, quarantineCopy } from './safe-files.js';
import type { JournalEntry, JournalPosition } from './schemas.js';
import { fsyncDir } from './store.js';

export type { EntryDraft } from './journal-reader.js';
export { decodeLine, type JournalDamage, listSegments, SEGMENT_BYTES } from './journal-reader.js';

export class Journal {
  /** Reads what any process appended; where it stands is where this process has read up to. */
  private readonly cursor: JournalCursor;
  private fd: number | null = null;
  private fdSegment = 0;
  /** Bytes written by append(…, false) and not yet fdatasync'ed. */
  private unsynced = false;
  /**
   * A failed fdatasync, kept: what it should have written may be lost even if a later one succeeds
   * (the kernel drops the dirty pages it could not write), so this process writes nothing more.
   */
  private flushFailed: DreamError | null = null;

  constructor(
    private readonly paths: WorkspacePaths,
    start: JournalPosition = { segment: 1, offset: 0 },
  ) {
    this.cursor = new JournalCursor(paths, start);
  }

  /** Where this process has read up to: the end of the last complete line it has seen. */
  get pos(): JournalPosition {
    return this.cursor.pos;
  }

  set pos(pos: JournalPosition) {
    this.cursor.pos = pos;
  }

  /** The sequence number of the last entry read or appended. */
  get lastSeq(): number {
    return this.cursor.lastSeq;
  }

  set lastSeq(seq: number) {
    this.cursor.lastSeq = seq;
  }

  close(): void {
    this.cursor.close();
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  private open(segment: number): number {
    if (this.fd !== null && this.fdSegment === segment) return this.fd;
    this.close();
    const path = this.paths.journalSegment(segment);
    try {
      // A segment is never opened through a link: a planted one would take the appends elsewhere.
      // O_APPEND: a write lands at the file's end whatever this process believes the end is, so a
      // writer whose lock was taken over can never write over a newer entry (see append()).
      this.fd = fs.openSync(
        path,
        fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW | fs.constants.O_APPEND,
        0o600,
      );
    } catch (error) {
      if (errnoCode(error) !== 'ELOOP') throw error;
      throw new DreamError(
        'E_CORRUPT',
        `${path} is a symbolic link, not a journal segment: Dream.OS reads and writes nothing through it`,
      );
    }
    this.fdSegment = segment;
    return this.fd;
  }

  private segmentSize(segment: number): number | null {
    try {
      return segment === this.fdSegment && this.fd !== null
        ? fs.fstatSync(this.fd).size
        : fs.statSync(this.paths.journalSegment(segment)).size;
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return null;
      throw error;
    }
  }

  /**
   * Read every complete entry after `this.pos`, in order, and advance. Entries at or below
   * `lastSeq` (duplicates) and invalid lines are reported as damage, not applied. Safe without the
   * lock: a line is complete once its newline is written, and a complete line is never taken back
   * (only a partial one, which no reader takes, is cut off).
   */
  readNew(apply: (entry: JournalEntry) => void, onDamage: (damage: JournalDamage) => void): number {
    return this.cursor.read({ onEntry: apply, onDamage });
  }

  /**
   * Holding the journal lock: bytes after the last complete line belong to a writer that died
   * mid-append. Move them to quarantine and truncate. Returns the quarantine path, if any.
   */
  repairTornTail(): string | null {
    const size = this.segmentSize(this.pos.segment);
    if (size === null || size <= this.pos.offset) return null;
    const fd = this.open(this.pos.segment);
    const torn = Buffer.alloc(size - this.pos.offset);
    fs.readSync(fd, torn, 0, torn.length, this.pos.offset);
    const target = quarantineCopy(
      this.paths,
      `journal-${this.pos.segment}-${this.pos.offset}-torn.bin`,
      torn,
    );
    fs.ftruncateSync(fd, this.pos.offset);
    fs.fdatasyncSync(fd);
    return target;
  }

  /**
   * Holding the journal lock, after readNew(): append one entry and make it durable (with
   * `durable` false, the caller makes a group of entries durable with one syncAppended() before reporting any).
   * On a write error the segment is truncated back and the error is reported; nothing half-written stays.
   */
  append(draft: EntryDraft, durable = true): JournalEntry {
    if (this.pos.offset >= SEGMENT_BYTES) {
      // The full segment is made durable before the next one starts, whoever wrote its last entries:
      // readers go on to the next segment only past SEGMENT_BYTES, so a segment cut short by a power
      // cut would hide every entry after it.
      this.syncCurrent();
      this.pos = { segment: this.pos.segment + 1, offset: 0 };
      this.open(this.pos.segment);
      fsyncDir(this.paths.journalDir);
    }
    const { entry, line } = sealEntry(draft, this.lastSeq + 1);
    const buf = Buffer.from(`${line}\n`, 'utf8');
    const fd = this.open(this.pos.segment);
    // The fence: the journal must end exactly where this process read it to, holding the lock. If
    // not, another process wrote meanwhile (the lock was taken over from this one): nothing is written.
    const size = fs.fstatSync(fd).size;
    if (size !== this.pos.offset)
      throw fenced(`it has ${size} bytes, this process expected ${this.pos.offset}`);
    try {
      let written = 0;
      while (written < buf.length) {
        written += fs.writeSync(fd, buf, written, buf.length - written, null);
      }
    } catch (error) {
      // A partial line (no newline yet) is never read by anyone: cut it off.
      try {
        fs.ftruncateSync(fd, this.pos.offset);
      } catch {
        // The next writer's repairTornTail() will finish the job.
      }
      throw new DreamError(
        'E_IO',
        `could not write the journal (${(error as Error).message}); the change was not made`,
      );
    }
    // Another writer appended between the fence and this write: the entry that comes first at this
    // offset is the one readers apply (the other repeats its sequence number and is skipped).
    if (fs.fstatSync(fd).size !== this.pos.offset + buf.length && !this.lineAt(fd, this.pos.offset, buf))
      throw fenced(
        'another process appended at the same time; this entry repeats its sequence number and is skipped',
      );
    // The whole line is in the file, and readers that do not hold the lock may apply it: if the
    // flush fails it stays (a complete line is never taken back), and this process reads it back
    // like any other entry.
    if (durable) this.syncCurrent();
    else this.unsynced = true;
    this.pos = { segment: this.pos.segment, offset: this.pos.offset + buf.length };
    this.lastSeq = entry.seq;
    return entry;
  }

  private lineAt(fd: number, offset: number, line: Buffer): boolean {
    const found = Buffer.alloc(line.length);
    return fs.readSync(fd, found, 0, line.length, offset) === line.length && found.equals(line);
  }

  /** fdatasync what append() wrote with `durable` false; nothing when it has written nothing since. */
  syncAppended(): void {
    // A flush that failed before fails this one too (syncCurrent throws it).
    if (this.unsynced || this.flushFailed) this.syncCurrent();
  }

  /**
   * fdatasync the segment being read or written, whatever this process wrote to it. On failure the
   * entries are recorded, but may not survive a power cut.
   */
  syncCurrent(): void {
    if (this.flushFailed) throw this.flushFailed;
    this.unsynced = false;
    try {
      fs.fdatasyncSync(this.open(this.pos.segment));
    } catch (error) {
      this.flushFailed = flushError(error);
      throw this.flushFailed;
    }
  }

  /** Copy one damaged line to quarantine/ (the journal itself is left as it is). */
  quarantineDamage(damage: JournalDamage): string {
    const fd = openRead(this.paths.journalSegment(damage.segment));
    try {
      const buf = Buffer.alloc(Math.min(damage.length, 1024 * 1024));
      fs.readSync(fd, buf, 0, buf.length, damage.offset);
      return quarantineCopy(this.paths, `journal-${damage.segment}-${damage.offset}-damaged.jsonl`, buf);
    } finally {
      fs.closeSync(fd);
    }
  }
}

const fenced = (why: string) =>
  new DreamError(
    'E_LOCK_COMPROMISED',
    `the journal lock was taken over while this process held it (stopped or frozen for longer than the stale period?): the journal does not end where this process read it (${why}); the change was not made, try again`,
  );

const flushError = (error: unknown) =>
  new DreamError(
    'E_IO',
    `the journal could not be flushed to disk (${(error as Error).message}); the change is recorded but may not survive a power cut`,
  );
