/**
 * The journal view's feed: the last entries of the workspace's history, read from its end (a
 * workspace with a long history opens as fast as a new one), then followed from where the last
 * read stopped whenever the workspace watcher reports a change. Each entry becomes
 * one summary row; control sequences are stripped.
 */
import { oneLine } from '../../src/sanitize.js';
import type { Workspace } from '../../src/workspace.js';
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

/** How far back from the end the first read looks, whatever the journal's size. */
const TAIL_BYTES = 4 * 1024 * 1024;

type History = Workspace['history'];

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
  /** Follows the journal from where the last read stopped; none before the first read. */
  private follower: ReturnType<History['follow']> | null = null;
  /** The last update asked for: each waits for the one before, so no two read at once. */
  private last: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly history: History,
    private readonly keep = 2000,
  ) {}

  /**
   * Bring the rows up to date; resolves to whether anything was added. Updates run one after the
   * other, in the order asked: two at once would both read the tail, or the same new entries.
   */
  update(): Promise<boolean> {
    const next = this.last.then(() => this.read());
    // A failed read rejects its own update only: the next reads again from where the last one stopped.
    this.last = next.catch(() => undefined);
    return next;
  }

  private async read(): Promise<boolean> {
    let fresh: JournalEntry[];
    if (this.follower) fresh = await this.follower.readNew();
    else {
      const tail = await this.history.tail(this.keep, { maxBytes: TAIL_BYTES });
      this.follower = this.history.follow(tail.mark);
      fresh = tail.entries;
    }
    if (!fresh.length) return false;
    this.rows = [...this.rows, ...fresh.map(summarise)].slice(-this.keep);
    return true;
  }
}

export function journalMatches(row: JournalRow, filter: string): boolean {
  return hasWords(`${row.seq} ${row.op} ${row.by} ${row.summary}`, filter);
}
