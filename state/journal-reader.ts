/**
 * The one reader of the journal's files. The framing lives here and nowhere else: numbered segments
 * (journal/NNNNNN.jsonl), one entry per line, each line sealed by a crc32 of what comes before it.
 * Everything above state/ sees JournalEntry values (through `History`, state/history.ts), never a
 * segment, an offset or a line.
 *
 * Every reader streams: it holds one chunk and the longest line in memory, whatever the size of a
 * segment. It takes only complete lines (a line without its newline is an append in progress, or a
 * torn one that the next writer cuts off). A line that does not decode, or whose sequence number
 * does not go up, is damage: it is reported and skipped, as the store skips it.
 */
import fs from 'node:fs';
import { crc32 } from 'node:zlib';
import type { EntryHead, HeadsOnly } from './backend.js';
import { DreamError, errnoCode } from './errors.js';
import type { WorkspacePaths } from './paths.js';
import { SEGMENT_RE } from './paths.js';
import { openRead } from './safe-files.js';
import { JournalEntry, type JournalPosition } from './schemas.js';

/** An entry as a transaction makes it, before it is numbered and sealed. */
export type EntryDraft = Omit<JournalEntry, 'seq' | 'crc' | 'schemaVersion'>;

import { describeZodError } from './zod-errors.js';

/** A writer starts a new segment once the current one passes this size. */
export const SEGMENT_BYTES = 64 * 1024 * 1024;
export const READ_CHUNK = 4 * 1024 * 1024;

export interface JournalDamage {
  segment: number;
  offset: number;
  length: number;
  reason: string;
  /** A line that does not decode, or a whole entry whose sequence number repeats or goes back. */
  kind: 'unreadable' | 'out-of-order';
}

// What a reader learns of an entry from its first and last fields, without decoding the line; heads
// are not checked against their crc, and a line that does not look like an entry is decoded.
export type { EntryHead, HeadsOnly };

export interface ReadHandlers {
  /** Each entry, with its line as stored (without the newline): copying a journal keeps it whole. */
  onEntry: (entry: JournalEntry, line: string) => void;
  onDamage?: (damage: JournalDamage) => void;
  heads?: HeadsOnly;
}

/** The crc of an entry: of its text without its last field (the crc itself), as 8 hex digits. */
const crcOf = (unsealed: string) => crc32(unsealed).toString(16).padStart(8, '0');

/**
 * An entry draft sealed as entry `seq`: the entry, and its line (without the newline) as it is
 * written, the crc covering everything before it. Every backend stores entries in this form.
 */
export function sealEntry(draft: EntryDraft, seq: number): { entry: JournalEntry; line: string } {
  const unsealed = { schemaVersion: 1 as const, ...draft, seq };
  const body = JSON.stringify(unsealed);
  const crc = crcOf(body);
  return { entry: { ...unsealed, crc }, line: `${body.slice(0, -1)},"crc":"${crc}"}` };
}

/**
 * The line of an entry sealed with `placeholder` as its number (and as every object's `rev`), to be
 * sealed as any number: its template (the line without its crc), and, for a number, its crc and its
 * line (the placeholder's digits replaced, the crc computed again). Null unless the digits appear
 * exactly `expected` times (the number and each stamped object), so that nothing else in the entry
 * that happens to hold them would be changed.
 */
export function sealAs(line: string, placeholder: number, expected: number) {
  const at = line.lastIndexOf(',"crc":"');
  const template = line.slice(0, at);
  const parts = template.split(String(placeholder));
  if (at < 0 || parts.length !== expected + 1) return null;
  return {
    template,
    crc: (seq: number) => crcOf(`${parts.join(String(seq))}}`),
    line: (seq: number) => {
      const body = parts.join(String(seq));
      return `${body},"crc":"${crcOf(`${body}}`)}"}`;
    },
  };
}

export function decodeLine(line: string): { entry: JournalEntry } | { error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return { error: 'not valid JSON' };
  }
  const parsed = JournalEntry.safeParse(raw);
  if (!parsed.success)
    return { error: `does not match the entry schema (${describeZodError(parsed.error)})` };
  // The checksum covers the entry as written, without its last field (the crc itself).
  const at = line.lastIndexOf(',"crc":"');
  if (at < 0 || crcOf(`${line.slice(0, at)}}`) !== (raw as JournalEntry).crc) {
    return { error: 'checksum mismatch' };
  }
  return { entry: parsed.data };
}

/** Every entry starts with these fields, in this order, and ends with its seq and crc. */
const ENTRY_HEAD_RE = /^\{"schemaVersion":\d+,"at":"([^"]*)","by":"(?:[^"\\]|\\.)*","op":"([^"\\]*)"/;
const ENTRY_TAIL_RE = /"seq":(\d+),"crc":"[0-9a-f]{8}"\}$/;

/** The head of a line, read without parsing it; null when the line does not look like an entry. */
export function entryHead(line: string): EntryHead | null {
  const head = ENTRY_HEAD_RE.exec(line);
  if (!head) return null;
  const seq = ENTRY_TAIL_RE.exec(line.slice(-100))?.[1];
  if (seq === undefined) return null;
  return { seq: Number(seq), at: head[1]!, op: head[2]!, hasTasks: line.includes('"tasks":[') };
}

export function listSegments(paths: WorkspacePaths): number[] {
  let names: string[];
  try {
    names = fs.readdirSync(paths.journalDir);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return [];
    throw error;
  }
  return names
    .map((name) => SEGMENT_RE.exec(name)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/** Open a segment to read, never through a link; null when it does not exist. */
export function openSegment(paths: WorkspacePaths, segment: number): number | null {
  const path = paths.journalSegment(segment);
  try {
    return openRead(path);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return null;
    if (errnoCode(error) !== 'ELOOP') throw error;
    throw new DreamError(
      'E_CORRUPT',
      `${path} is a symbolic link, not a journal segment: Dream.OS reads and writes nothing through it`,
    );
  }
}

export function readAt(fd: number, position: number, length: number): Buffer {
  return readInto(fd, Buffer.allocUnsafe(length), position, length);
}

/** Read `length` bytes at `position` into the start of `buf`; returns the part that was read. */
function readInto(fd: number, buf: Buffer, position: number, length: number): Buffer {
  let read = 0;
  while (read < length) {
    const n = fs.readSync(fd, buf, read, length - read, position + read);
    if (n <= 0) break;
    read += n;
  }
  return buf.subarray(0, read);
}

/**
 * When a cursor goes on from the segment it reads to the next one.
 * - WHEN_FULL: only once it has read past SEGMENT_BYTES, as the store does. A writer starts the next
 *   segment only then (after making this one durable), so until then more entries may still come
 *   in this one, and a shorter segment followed by another was damaged: what follows is not applied.
 * - WHEN_NEXT_EXISTS: as soon as a next segment exists. For readers that show the journal as it is
 *   on disk (`dreamos log`, the console, telemetry).
 */
export const SegmentModes = { WHEN_FULL: 'when-full', WHEN_NEXT_EXISTS: 'when-next-exists' } as const;
export type SegmentMode = (typeof SegmentModes)[keyof typeof SegmentModes];

/**
 * A position in the journal and the entries read up to it: `readNew()` (or `read()`) gives every
 * complete entry written after it, in order, and moves it on. Safe without the lock: a line is
 * complete once its newline is written, and a complete line is never taken back.
 */
export class JournalCursor {
  /** The end of the last complete line read. */
  pos: JournalPosition;
  /** The sequence number of the last entry read: an entry must go above it. */
  lastSeq: number;
  private fd: number | null = null;
  private fdSegment = 0;

  constructor(
    private readonly paths: WorkspacePaths,
    start: JournalPosition = { segment: 1, offset: 0 },
    lastSeq = 0,
    private readonly mode: SegmentMode = SegmentModes.WHEN_FULL,
    private readonly chunkBytes = READ_CHUNK,
  ) {
    this.pos = { ...start };
    this.lastSeq = lastSeq;
  }

  /** Every new entry, in order. */
  readNew(onDamage?: (damage: JournalDamage) => void): JournalEntry[] {
    const entries: JournalEntry[] = [];
    this.read({ onEntry: (entry) => entries.push(entry), ...(onDamage ? { onDamage } : {}) });
    return entries;
  }

  /** Stream every new entry to `handlers`, in order; returns how many went to onEntry. */
  read(handlers: ReadHandlers): number {
    let count = 0;
    for (;;) {
      const size = this.size(this.pos.segment);
      // A segment that is gone (or not there yet) has nothing to read.
      if (size === null) return count;
      if (size > this.pos.offset) count += this.readRange(size, handlers);
      if (!this.goesOn()) return count;
      this.pos = { segment: this.pos.segment + 1, offset: 0 };
    }
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  private goesOn(): boolean {
    if (this.mode === SegmentModes.WHEN_FULL && this.pos.offset < SEGMENT_BYTES) return false;
    return fs.existsSync(this.paths.journalSegment(this.pos.segment + 1));
  }

  /** The size of a segment, through the fd kept open on it. */
  private size(segment: number): number | null {
    if (this.fd === null || this.fdSegment !== segment) {
      this.close();
      this.fd = openSegment(this.paths, segment);
      this.fdSegment = segment;
      if (this.fd === null) return null;
    }
    return fs.fstatSync(this.fd).size;
  }

  private readRange(end: number, handlers: ReadHandlers): number {
    const fd = this.fd!;
    const segment = this.pos.segment;
    let count = 0;
    let offset = this.pos.offset;
    // One buffer for every chunk of this read: memory stays one chunk, however many are read.
    const buffer = Buffer.allocUnsafe(Math.min(this.chunkBytes, end - offset));
    // The start of a line whose end lies in a later chunk (copied out of the buffer), and its offset.
    let pieces: Buffer[] = [];
    let lineOffset = offset;
    while (offset < end) {
      const chunk = readInto(fd, buffer, offset, Math.min(buffer.length, end - offset));
      if (chunk.length === 0) break;
      let start = 0;
      for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
        const line =
          pieces.length > 0
            ? Buffer.concat([...pieces, chunk.subarray(start, nl)]).toString('utf8')
            : chunk.toString('utf8', start, nl);
        const length = offset + nl - lineOffset;
        const where = { segment, offset: lineOffset, length };
        pieces = [];
        start = nl + 1;
        lineOffset = offset + start;
        this.pos = { segment, offset: lineOffset };
        if (line.trim() === '') continue;
        if (this.take(line, where, handlers)) count++;
      }
      if (start < chunk.length) pieces.push(Buffer.from(chunk.subarray(start)));
      offset += chunk.length;
    }
    return count;
  }

  /** One complete line: to onEntry, onHead or onDamage. Returns whether it went to onEntry. */
  private take(
    line: string,
    where: { segment: number; offset: number; length: number },
    { onEntry, onDamage, heads }: ReadHandlers,
  ): boolean {
    const head = heads ? entryHead(line) : null;
    if (head && !heads!.decode(head)) {
      if (head.seq <= this.lastSeq) return false;
      this.lastSeq = head.seq;
      heads!.onHead(head);
      return false;
    }
    const decoded = decodeLine(line);
    if ('error' in decoded) {
      onDamage?.({ ...where, reason: decoded.error, kind: 'unreadable' });
      return false;
    }
    if (decoded.entry.seq <= this.lastSeq) {
      onDamage?.({
        ...where,
        reason: `sequence ${decoded.entry.seq} repeats or goes back (last was ${this.lastSeq})`,
        kind: 'out-of-order',
      });
      return false;
    }
    this.lastSeq = decoded.entry.seq;
    onEntry(decoded.entry, line);
    return true;
  }
}

/** Where forEachEntry starts: a position and the last sequence number before it. */
export interface ReadFrom {
  pos: JournalPosition;
  lastSeq: number;
}

/** The start of the journal: its first segment, before any entry. */
export function journalStart(paths: WorkspacePaths): ReadFrom {
  return { pos: { segment: listSegments(paths)[0] ?? 1, offset: 0 }, lastSeq: 0 };
}

/**
 * Every complete entry after `from` (default: the start of the journal), oldest first, to
 * `onEntry`, going through every segment there is. Returns where it stopped, to go on from.
 */
export function forEachEntry(
  paths: WorkspacePaths,
  options: ReadHandlers & { from?: ReadFrom; chunkBytes?: number },
): ReadFrom {
  const from = options.from ?? journalStart(paths);
  const cursor = new JournalCursor(
    paths,
    from.pos,
    from.lastSeq,
    SegmentModes.WHEN_NEXT_EXISTS,
    options.chunkBytes,
  );
  try {
    cursor.read(options);
    return { pos: cursor.pos, lastSeq: cursor.lastSeq };
  } finally {
    cursor.close();
  }
}

export interface TailOptions {
  /** At most this many entries (default: every entry read). */
  limit?: number;
  /** Read at most this many bytes back from the end of the journal (default: as far as needed). */
  maxBytes?: number;
  matches?: (entry: JournalEntry) => boolean;
  chunkBytes?: number;
}

/** Where the last complete line of a segment ends (0 when it has none). */
function completeEnd(fd: number, size: number, chunkBytes: number): number {
  for (let pos = size; pos > 0; ) {
    const length = Math.min(chunkBytes, pos);
    pos -= length;
    const nl = readAt(fd, pos, length).lastIndexOf(10);
    if (nl !== -1) return pos + nl + 1;
  }
  return 0;
}

/**
 * The last entries that `matches`, oldest first, read backwards from the end of the journal: only
 * the segments and chunks that hold them are read. Also returns where the journal's complete lines
 * end, for a cursor that follows it from there.
 */
export function tailEntries(
  paths: WorkspacePaths,
  {
    limit = Number.POSITIVE_INFINITY,
    maxBytes = Number.POSITIVE_INFINITY,
    matches,
    chunkBytes = READ_CHUNK,
  }: TailOptions,
): { entries: JournalEntry[]; end: ReadFrom } {
  // No entries asked for is still a mark at the end, which the last entry tells (its place and seq).
  if (limit < 1) return { entries: [], end: tailEntries(paths, { limit: 1, maxBytes, chunkBytes }).end };
  const segments = listSegments(paths);
  // Newest first; each holds a sequence number above those of the entries after it in `found`.
  const found: JournalEntry[] = [];
  let lastSeq = 0;
  let budget = maxBytes;
  const take = (pieces: Buffer[]) => {
    const text = (pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces)).toString('utf8');
    if (text.trim() === '') return;
    const decoded = decodeLine(text);
    if (!('entry' in decoded)) return;
    const entry = decoded.entry;
    lastSeq = Math.max(lastSeq, entry.seq);
    // An entry counts only if its sequence number goes above every earlier one: this earlier line
    // takes back the later ones that do not.
    while (found.length > 0 && found.at(-1)!.seq <= entry.seq) found.pop();
    if (!matches || matches(entry)) found.push(entry);
  };
  let endPos: JournalPosition = { segment: segments.at(-1) ?? 1, offset: 0 };
  for (let i = segments.length - 1; i >= 0 && found.length < limit && budget > 0; i--) {
    const segment = segments[i]!;
    const fd = openSegment(paths, segment);
    if (fd === null) continue;
    try {
      const complete = completeEnd(fd, fs.fstatSync(fd).size, chunkBytes);
      if (i === segments.length - 1) endPos = { segment, offset: complete };
      // Lines are read from the newline that ends the last one; `pieces` holds the end of a line
      // whose start lies in an earlier chunk. A line cut by the byte budget is left out.
      let pos = Math.max(0, complete - 1);
      let pieces: Buffer[] = [];
      while (pos > 0 && found.length < limit && budget > 0) {
        const length = Math.min(chunkBytes, pos, budget);
        pos -= length;
        budget -= length;
        const chunk = readAt(fd, pos, length);
        let lineEnd = chunk.length;
        while (found.length < limit) {
          const nl = lineEnd > 0 ? chunk.lastIndexOf(10, lineEnd - 1) : -1;
          if (nl === -1) {
            pieces.unshift(chunk.subarray(0, lineEnd));
            if (pos === 0) {
              take(pieces);
              pieces = [];
            }
            break;
          }
          take([chunk.subarray(nl + 1, lineEnd), ...pieces]);
          pieces = [];
          lineEnd = nl;
        }
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  return { entries: found.reverse(), end: { pos: endPos, lastSeq } };
}
