/**
 * The journal readers of `dreamos log` (state/journal.ts): the tail reader reads backwards in chunks
 * and the forward reader in chunks, and both agree with a whole-file read whatever the chunk size,
 * across segments, lines longer than a chunk, damaged lines and a line still being written.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Journal, readJournalFrom, readJournalTail } from '../../state/journal.js';
import { workspacePaths } from '../../state/paths.js';
import type { JournalEntry } from '../../state/schemas.js';
import { tempDir } from '../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
let paths: ReturnType<typeof workspacePaths>;

beforeEach(() => {
  tmp = tempDir();
  paths = workspacePaths(path.join(tmp.dir, '.dreamos'));
  fs.mkdirSync(paths.journalDir, { recursive: true });
});
afterEach(() => tmp.cleanup());

/** Entries 1..n in one segment, with ops of varied length (one longer than any chunk used here). */
function write(n: number): void {
  const journal = new Journal(paths);
  journal.readNew(
    () => {},
    () => {},
  );
  for (let i = 1; i <= n; i++) {
    const op = i % 7 === 0 ? `op-${'x'.repeat(50)}` : `op-${i}`;
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

const seqs = (entries: JournalEntry[]) => entries.map((e) => e.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('readJournalTail', () => {
  it('returns the last entries, oldest first, whatever the chunk size', () => {
    write(40);
    for (const chunk of [1, 7, 64, 1000, 4 * 1024 * 1024]) {
      expect(seqs(readJournalTail(paths, 5, undefined, chunk).entries)).toEqual(range(36, 40));
      expect(seqs(readJournalTail(paths, 100, undefined, chunk).entries)).toEqual(range(1, 40));
      expect(seqs(readJournalTail(paths, 3, (e) => e.op.length > 10, chunk).entries)).toEqual([21, 28, 35]);
    }
  });

  it('goes back across segments, skips damaged lines and a line still being written', () => {
    write(10);
    const one = paths.journalSegment(1);
    const lines = fs.readFileSync(one, 'utf8').split('\n');
    // Entries 1-6 in segment 1 (the fifth damaged), 7-10 in segment 2 with half a line after them.
    fs.writeFileSync(
      one,
      `${lines
        .slice(0, 6)
        .map((l, i) => (i === 4 ? l.replace('"op"', '"oq"') : l))
        .join('\n')}\n`,
    );
    fs.writeFileSync(
      paths.journalSegment(2),
      `${lines.slice(6, 10).join('\n')}\n{"schemaVersion":1,"seq":11`,
    );
    for (const chunk of [5, 100, 4096]) {
      const tail = readJournalTail(paths, 7, undefined, chunk);
      expect(seqs(tail.entries)).toEqual([2, 3, 4, 6, 7, 8, 9, 10].slice(-7));
      expect(tail.end).toEqual({ segment: 2, offset: fs.statSync(paths.journalSegment(2)).size - 27 });
      // Following from there reads nothing until the line is complete.
      const more: number[] = [];
      expect(readJournalFrom(paths, tail.end, (e) => more.push(e.seq), chunk)).toEqual(tail.end);
      expect(more).toEqual([]);
    }
  });

  it('is empty on an empty journal', () => {
    expect(readJournalTail(paths, 3)).toEqual({ entries: [], end: { segment: 1, offset: 0 } });
  });
});

describe('readJournalFrom', () => {
  it('reads every entry in order, whatever the chunk size, and returns where to go on from', () => {
    write(30);
    for (const chunk of [1, 9, 4096]) {
      const seen: number[] = [];
      const end = readJournalFrom(paths, { segment: 1, offset: 0 }, (e) => seen.push(e.seq), chunk);
      expect(seen).toEqual(range(1, 30));
      expect(end).toEqual({ segment: 1, offset: fs.statSync(paths.journalSegment(1)).size });
    }
  });
});
