/**
 * The journal view's feed: the last entries of the append-only journal, read from the end of the
 * newest segments (a workspace with a long history opens as fast as a new one), then followed from
 * where the last read stopped whenever the workspace watcher reports a change. Each entry becomes
 * one summary row; control sequences are stripped.
 */
import fs from 'node:fs';
import { oneLine } from '../../src/sanitize.js';
import { decodeLine, listSegments } from '../../state/journal.js';
import type { WorkspacePaths } from '../../state/paths.js';
import type { JournalEntry } from '../../state/schemas.js';
import { hasWords } from '../text.js';

export interface JournalRow {
  seq: number;
  at: string;
  op: string;
  by: string;
  summary: string;
  tasks: string[];
}

const TAIL_BYTES = 4 * 1024 * 1024;

export function summarise(entry: JournalEntry): JournalRow {
  const parts: string[] = [];
  const tasks = (entry.tasks ?? []).map((p) => p.task.id);
  const shown = (entry.tasks ?? []).slice(0, 3).map((p) => `${p.task.id}→${p.task.status}`);
  if (shown.length) parts.push(shown.join(' ') + (tasks.length > 3 ? ` +${tasks.length - 3} more` : ''));
  if (entry.tasks?.length === 1) parts.push(oneLine(entry.tasks[0]!.task.title, 60));
  for (const a of entry.agents ?? []) parts.push(`${a.id} ${a.status}${a.task ? ` ${a.task}` : ''}`);
  for (const m of (entry.mail ?? []).slice(0, 2))
    parts.push(`mail ${m.from}→${m.to}${m.directive ? ` ${m.directive}` : ''}`);
  for (const a of entry.alerts ?? []) parts.push(`alert ${a.kind} ${a.status}`);
  if (entry.checkpoints?.length) parts.push(`${entry.checkpoints.length} checkpoint(s)`);
  if (entry.archived?.length) parts.push(`archived ${entry.archived.length}`);
  return {
    seq: entry.seq,
    at: entry.at,
    op: oneLine(entry.op, 20),
    by: oneLine(entry.by, 20),
    summary: oneLine(parts.join('  ·  '), 400),
    tasks,
  };
}

export class JournalFeed {
  rows: readonly JournalRow[] = [];
  private segment = 0;
  private offset = 0;
  private loaded = false;

  constructor(
    private readonly paths: WorkspacePaths,
    private readonly keep = 2000,
  ) {}

  /** Bring the rows up to date; returns whether anything was added. */
  update(): boolean {
    const segments = listSegments(this.paths);
    if (!segments.length) return false;
    const fresh: JournalRow[] = [];
    if (!this.loaded) {
      this.loaded = true;
      // Newest segments first, until enough bytes are read.
      const picked: number[] = [];
      let bytes = 0;
      for (const s of [...segments].reverse()) {
        picked.unshift(s);
        bytes += this.size(s);
        if (bytes >= TAIL_BYTES) break;
      }
      for (const s of picked) {
        const size = this.size(s);
        this.readRange(s, Math.max(0, size - TAIL_BYTES), fresh, size > TAIL_BYTES);
      }
    } else {
      for (const s of segments.filter((n) => n >= this.segment)) {
        this.readRange(s, s === this.segment ? this.offset : 0, fresh, false);
      }
    }
    if (!fresh.length) return false;
    this.rows = [...this.rows, ...fresh].slice(-this.keep);
    return true;
  }

  private size(segment: number): number {
    try {
      return fs.statSync(this.paths.journalSegment(segment)).size;
    } catch {
      return 0;
    }
  }

  private readRange(segment: number, start: number, out: JournalRow[], skipFirst: boolean): void {
    let fd: number;
    try {
      fd = fs.openSync(this.paths.journalSegment(segment), 'r');
    } catch {
      return;
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size <= start) {
        this.segment = segment;
        this.offset = Math.min(start, size);
        return;
      }
      const buf = Buffer.alloc(size - start);
      fs.readSync(fd, buf, 0, buf.length, start);
      const end = buf.lastIndexOf(10) + 1;
      this.segment = segment;
      this.offset = start + end;
      const lines = buf.toString('utf8', 0, end).split('\n');
      if (skipFirst) lines.shift();
      for (const line of lines) {
        if (!line) continue;
        const decoded = decodeLine(line);
        if ('entry' in decoded) out.push(summarise(decoded.entry));
      }
    } finally {
      fs.closeSync(fd);
    }
  }
}

export function journalMatches(row: JournalRow, filter: string): boolean {
  return hasWords(`${row.seq} ${row.op} ${row.by} ${row.summary}`, filter);
}
