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
  /** Agents the change names: its author, the agents whose state it records, mail senders and recipients. */
  agents: string[];
}

/**
 * Journal operations that only say "still alive": heartbeats (which also renew the leases of running
 * tasks) and lease renewals. The journal view hides them unless asked (docs/console.md, "Journal").
 */
export const NOISE_OPS: ReadonlySet<string> = new Set(['heartbeat', 'renew']);
export const isNoise = (row: Pick<JournalRow, 'op'>) => NOISE_OPS.has(row.op);

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
  const agents = new Set<string>([entry.by]);
  for (const a of entry.agents ?? []) agents.add(a.id);
  for (const m of entry.mail ?? []) for (const id of [m.from, m.to]) agents.add(id);
  for (const p of entry.tasks ?? []) if (p.task.agent) agents.add(p.task.agent);
  return {
    seq: entry.seq,
    at: entry.at,
    op: oneLine(entry.op, 20),
    by: oneLine(entry.by, 20),
    summary: oneLine(parts.join('  ·  '), 400),
    tasks,
    agents: [...agents].map((id) => oneLine(id, 40)),
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
    this.rows = keepRows([...this.rows, ...fresh.map(summarise)], this.keep);
    return true;
  }
}

/**
 * The last `keep` changes, and of the heartbeats and renewals among them only the last quarter as
 * many: over a long night they would otherwise push every real change out of the view.
 */
export function keepRows(rows: readonly JournalRow[], keep: number): JournalRow[] {
  const noiseKeep = Math.max(1, Math.floor(keep / 4));
  let noise = 0;
  let other = 0;
  const kept: JournalRow[] = [];
  for (let i = rows.length - 1; i >= 0; i--) {
    const row = rows[i]!;
    if (isNoise(row) ? noise++ < noiseKeep : other++ < keep) kept.push(row);
  }
  return kept.reverse();
}

/**
 * A journal filter: `task:ID`, `agent:ID` and `kind:OP` (or `op:OP`) pick rows by what the change
 * touched (an id or an operation, from its start: `kind:drift` is every drift alert); the other
 * words must all appear in the row. Several values of one field are alternatives.
 */
export interface JournalFilter {
  task: string[];
  agent: string[];
  kind: string[];
  words: string;
}

const FIELDS: Record<string, keyof Omit<JournalFilter, 'words'>> = {
  task: 'task',
  agent: 'agent',
  kind: 'kind',
  op: 'kind',
};

export function parseJournalFilter(text: string): JournalFilter {
  const filter: JournalFilter = { task: [], agent: [], kind: [], words: '' };
  const words: string[] = [];
  for (const word of text.trim().split(/\s+/).filter(Boolean)) {
    const at = word.indexOf(':');
    const field = at > 0 ? FIELDS[word.slice(0, at).toLowerCase()] : undefined;
    const value = word.slice(at + 1).toLowerCase();
    if (field && value) filter[field].push(value);
    else words.push(word);
  }
  filter.words = words.join(' ');
  return filter;
}

const anyStarts = (values: readonly string[], wanted: readonly string[]) =>
  !wanted.length || values.some((v) => wanted.some((w) => v.toLowerCase().startsWith(w)));

export function journalMatches(row: JournalRow, filter: string | JournalFilter): boolean {
  const f = typeof filter === 'string' ? parseJournalFilter(filter) : filter;
  return (
    anyStarts(row.tasks, f.task) &&
    anyStarts(row.agents, f.agent) &&
    anyStarts([row.op], f.kind) &&
    hasWords(`${row.seq} ${row.op} ${row.by} ${row.summary}`, f.words)
  );
}

/** A filter that names a heartbeat or renewal kind shows them, whether they are hidden or not. */
const asksForNoise = (f: JournalFilter) => f.kind.some((k) => [...NOISE_OPS].some((op) => op.startsWith(k)));

/** The rows the journal view lists: filtered, heartbeats and renewals left out unless `noise`. */
export function journalRows(
  rows: readonly JournalRow[],
  text: string,
  noise: boolean,
): readonly JournalRow[] {
  const f = parseJournalFilter(text);
  const withNoise = noise || asksForNoise(f);
  if (withNoise && !text.trim()) return rows;
  return rows.filter((r) => (withNoise || !isNoise(r)) && journalMatches(r, f));
}
