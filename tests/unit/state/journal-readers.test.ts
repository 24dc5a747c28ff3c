/**
 * The one journal reader (state/journal-reader.ts): the tail reader reads backwards in chunks and the
 * forward reader and cursor in chunks, and they agree with a whole-file read whatever the chunk
 * size, across segments, lines longer than a chunk, multi-byte characters cut by a chunk, damaged
 * lines and a line still being written.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JournalHistory } from '../../../state/history.js';
import { Journal } from '../../../state/journal.js';
import {
  type EntryHead,
  forEachEntry,
  JournalCursor,
  type JournalDamage,
  SegmentModes,
  tailEntries,
} from '../../../state/journal-reader.js';
import { workspacePaths } from '../../../state/paths.js';
import type { JournalEntry } from '../../../state/schemas.js';
import { tempDir } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
let paths: ReturnType<typeof workspacePaths>;

beforeEach(() => {
  tmp = tempDir();
  paths = workspacePaths(path.join(tmp.dir, '.dreamos'));
  fs.mkdirSync(paths.journalDir, { recursive: true });
});
afterEach(() => tmp.cleanup());

/**
 * Entries 1..n in one segment, with ops of varied length (one longer than any chunk used here) and
 * multi-byte characters, so that chunk boundaries fall inside lines and inside characters.
 */
function write(n: number): void {
  const journal = new Journal(paths);
  journal.readNew(
    () => {},
    () => {},
  );
  for (let i = 1; i <= n; i++) {
    const op = i % 7 === 0 ? `op-${'x'.repeat(50)}` : i % 5 === 0 ? `tâche-∑-🚀-${i}` : `op-${i}`;
    journal.append(
      {
        at: new Date(0).toISOString(),
        by: 'operator',
        op,
        counters: { task: 0, alert: 0, mail: 0, checkpoint: 0 },
      },
      false,
    );
  }
  journal.syncAppended();
  journal.close();
}

/** The lines of segment 1, split into segments holding `counts` lines each (segment 1 rewritten). */
function splitInto(counts: number[]): string[] {
  const lines = fs.readFileSync(paths.journalSegment(1), 'utf8').split('\n').slice(0, -1);
  let at = 0;
  counts.forEach((count, i) => {
    fs.writeFileSync(paths.journalSegment(i + 1), `${lines.slice(at, at + count).join('\n')}\n`);
    at += count;
  });
  return lines;
}

const seqs = (entries: JournalEntry[]) => entries.map((e) => e.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const sizeOf = (segment: number) => fs.statSync(paths.journalSegment(segment)).size;
const CHUNKS = [1, 7, 64, 1000, 4 * 1024 * 1024];

describe('tailEntries', () => {
  it('returns the last entries, oldest first, whatever the chunk size', () => {
    write(40);
    for (const chunkBytes of CHUNKS) {
      expect(seqs(tailEntries(paths, { limit: 5, chunkBytes }).entries)).toEqual(range(36, 40));
      expect(seqs(tailEntries(paths, { limit: 100, chunkBytes }).entries)).toEqual(range(1, 40));
      const long = (e: JournalEntry) => e.op.length > 10;
      expect(seqs(tailEntries(paths, { limit: 3, matches: long, chunkBytes }).entries)).toEqual([30, 35, 40]);
    }
  });

  it('gives the end of the journal for no entries at all, as for one', () => {
    write(12);
    splitInto([8, 4]);
    for (const chunkBytes of CHUNKS) {
      const none = tailEntries(paths, { limit: 0, chunkBytes });
      expect(none.entries).toEqual([]);
      expect(none.end).toEqual(tailEntries(paths, { limit: 1, chunkBytes }).end);
      expect(none.end).toEqual({ pos: { segment: 2, offset: sizeOf(2) }, lastSeq: 12 });
    }
  });

  it('goes back across segments, skips damaged lines and a line still being written', () => {
    write(10);
    const lines = splitInto([6, 4]);
    // Entries 1-6 in segment 1 (the fifth damaged), 7-10 in segment 2 with half a line after them.
    fs.writeFileSync(
      paths.journalSegment(1),
      `${lines
        .slice(0, 6)
        .map((l, i) => (i === 4 ? l.replace('"op"', '"oq"') : l))
        .join('\n')}\n`,
    );
    fs.appendFileSync(paths.journalSegment(2), '{"schemaVersion":1,"seq":11');
    for (const chunkBytes of [5, 100, 4096]) {
      const tail = tailEntries(paths, { limit: 7, chunkBytes });
      expect(seqs(tail.entries)).toEqual([2, 3, 4, 6, 7, 8, 9, 10].slice(-7));
      expect(tail.end).toEqual({ pos: { segment: 2, offset: sizeOf(2) - 27 }, lastSeq: 10 });
      // Following from there reads nothing until the line is complete.
      const more: number[] = [];
      const next = forEachEntry(paths, { from: tail.end, onEntry: (e) => more.push(e.seq), chunkBytes });
      expect(next).toEqual(tail.end);
      expect(more).toEqual([]);
    }
  });

  it('reads no further back than its byte budget, and leaves out a line the budget cuts', () => {
    write(20);
    const lines = splitInto([12, 8]);
    const last3 = Buffer.byteLength(`${lines.slice(-3).join('\n')}\n`);
    for (const chunkBytes of [3, 64, 4096]) {
      expect(seqs(tailEntries(paths, { maxBytes: last3, chunkBytes }).entries)).toEqual([18, 19, 20]);
      expect(seqs(tailEntries(paths, { maxBytes: last3 + 5, chunkBytes }).entries)).toEqual([18, 19, 20]);
      // Past the start of segment 2, into segment 1.
      const last10 = Buffer.byteLength(`${lines.slice(-10).join('\n')}\n`);
      expect(seqs(tailEntries(paths, { maxBytes: last10, chunkBytes }).entries)).toEqual(range(11, 20));
    }
  });

  it('leaves out an entry whose sequence number does not go above the ones before it', () => {
    write(5);
    const lines = splitInto([5]);
    // Entry 3 written again after entry 5: the store skips it, so does the tail.
    fs.appendFileSync(paths.journalSegment(1), `${lines[2]}\n`);
    expect(seqs(tailEntries(paths, { limit: 3, chunkBytes: 10 }).entries)).toEqual([3, 4, 5]);
    expect(seqs(tailEntries(paths, {}).entries)).toEqual(range(1, 5));
  });

  it('is empty on an empty journal', () => {
    expect(tailEntries(paths, { limit: 3 })).toEqual({
      entries: [],
      end: { pos: { segment: 1, offset: 0 }, lastSeq: 0 },
    });
  });
});

describe('forEachEntry', () => {
  it('reads every entry in order, whatever the chunk size, and returns where to go on from', () => {
    write(30);
    for (const chunkBytes of CHUNKS) {
      const seen: JournalEntry[] = [];
      const end = forEachEntry(paths, { onEntry: (e) => seen.push(e), chunkBytes });
      expect(seqs(seen)).toEqual(range(1, 30));
      expect(seen[4]!.op).toBe('tâche-∑-🚀-5');
      expect(end).toEqual({ pos: { segment: 1, offset: sizeOf(1) }, lastSeq: 30 });
    }
  });

  it('reports a torn tail as nothing, and a crc mismatch or a repeated entry through onDamage', () => {
    write(6);
    const lines = splitInto([6]);
    const tampered = lines[1]!.replace('"op-2"', '"op-X"');
    fs.writeFileSync(
      paths.journalSegment(1),
      `${[lines[0], tampered, ...lines.slice(2), lines[3]].join('\n')}\n${lines[5]!.slice(0, 30)}`,
    );
    for (const chunkBytes of [7, 4096]) {
      const seen: number[] = [];
      const damage: JournalDamage[] = [];
      const end = forEachEntry(paths, {
        onEntry: (e) => seen.push(e.seq),
        onDamage: (d) => damage.push(d),
        chunkBytes,
      });
      expect(seen).toEqual([1, 3, 4, 5, 6]);
      expect(damage.map(({ kind, reason }) => ({ kind, reason }))).toEqual([
        { kind: 'unreadable', reason: 'checksum mismatch' },
        { kind: 'out-of-order', reason: 'sequence 4 repeats or goes back (last was 6)' },
      ]);
      const offset = Buffer.byteLength(`${lines[0]}\n`);
      expect(damage[0]).toMatchObject({ segment: 1, offset, length: Buffer.byteLength(tampered) });
      // The torn line is not read, and the next read starts at it.
      expect(end.pos.offset).toBe(sizeOf(1) - 30);
    }
  });

  it('hands over only the head of the entries the reader does not look into', () => {
    write(10);
    const heads: EntryHead[] = [];
    const seen: number[] = [];
    forEachEntry(paths, {
      onEntry: (e) => seen.push(e.seq),
      heads: { decode: (h) => h.seq % 2 === 0, onHead: (h) => heads.push(h) },
    });
    expect(seen).toEqual([2, 4, 6, 8, 10]);
    expect(heads.map((h) => h.seq)).toEqual([1, 3, 5, 7, 9]);
    expect(heads[2]).toEqual({ seq: 5, at: new Date(0).toISOString(), op: 'tâche-∑-🚀-5', hasTasks: false });
  });
});

describe('JournalCursor', () => {
  it('follows the journal across a segment boundary, and reads each entry once', () => {
    write(12);
    const lines = splitInto([5]);
    const cursor = new JournalCursor(paths, { segment: 1, offset: 0 }, 0, SegmentModes.WHEN_NEXT_EXISTS, 16);
    try {
      expect(seqs(cursor.readNew())).toEqual(range(1, 5));
      expect(cursor.readNew()).toEqual([]);
      fs.writeFileSync(paths.journalSegment(2), `${lines.slice(5, 9).join('\n')}\n${lines[9]!.slice(0, 9)}`);
      expect(seqs(cursor.readNew())).toEqual(range(6, 9));
      expect(cursor.pos).toEqual({ segment: 2, offset: sizeOf(2) - 9 });
      fs.appendFileSync(paths.journalSegment(2), `${lines[9]!.slice(9)}\n`);
      fs.writeFileSync(paths.journalSegment(3), `${lines.slice(10).join('\n')}\n`);
      expect(seqs(cursor.readNew())).toEqual(range(10, 12));
      expect(cursor.lastSeq).toBe(12);
    } finally {
      cursor.close();
    }
  });

  it("stays in a segment cut short of its full size, as the store's reader does", () => {
    write(8);
    splitInto([5, 3]);
    const store = new JournalCursor(paths);
    try {
      expect(seqs(store.readNew())).toEqual(range(1, 5));
      expect(store.pos).toEqual({ segment: 1, offset: sizeOf(1) });
    } finally {
      store.close();
    }
  });
});

describe('JournalHistory', () => {
  it('follows from the mark of a tail across segments, with entries only', async () => {
    write(9);
    const lines = splitInto([4, 3]);
    const history = new JournalHistory(paths);
    const { entries, mark } = await history.tail(2);
    expect(seqs(entries)).toEqual([6, 7]);
    const follower = history.follow(mark);
    expect(await follower.readNew()).toEqual([]);
    fs.writeFileSync(paths.journalSegment(3), `${lines.slice(7).join('\n')}\n`);
    expect(seqs(await follower.readNew())).toEqual([8, 9]);
    expect(seqs(await history.follow().readNew())).toEqual(range(1, 9));
    const unreadable: string[] = [];
    fs.appendFileSync(paths.journalSegment(3), 'not json\n');
    await history.forEach(() => {}, { onUnreadable: (why) => unreadable.push(why) });
    expect(unreadable).toEqual(['not valid JSON']);
  });
});
