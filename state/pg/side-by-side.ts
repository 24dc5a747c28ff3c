/**
 * A lone hot change, sealed to be recorded on top of entries that other processes recorded after the
 * one it was planned on (`record_at_head`, docs/decisions/postgres-backend.md, "Changes side by
 * side"). An entry's number is in its line and in its crc, and the server cannot compute a crc: the
 * change is sealed as each of the next few numbers, and the server picks the line of the number it
 * gets. A claim of the best ready task comes with the claims of the next best ones, planned on the
 * state with the tasks before them hidden: the server records the first whose task nobody took
 * meanwhile, as a `FOR UPDATE SKIP LOCKED` claim skips the rows other claims hold.
 */
import { type Change, entryBody, type Plan, stampRev } from '../change.js';
import { sealAs, sealEntry } from '../journal-reader.js';
import type { JournalEntry, Task } from '../schemas.js';
import { type StateView, viewWith } from '../state-index.js';
import { KEY_SEPARATOR, reads, SIDE_BY_SIDE_OPS, writes } from './conflicts.js';

/** The number a change is first sealed as, then replaced by each candidate's: 16 digits of this process's. */
const PLACEHOLDER = 1e15 + Math.floor(Math.random() * 8e15);

/** One way to record the change: its plan's result, what it read and wrote, its lines. */
export interface Alternative {
  result: unknown;
  /** A claim of a task its plan chose (not one named by the caller): one of the next best may do. */
  claim: boolean;
  /** The keys of what its plan read and of what it writes (state/pg/conflicts.ts), joined by U+001F. */
  reads: string;
  touched: string;
  /**
   * Its line without the crc, with PLACEHOLDER for its number (`placeholder`), and the crc of the
   * line as entry after + 1, after + 2, ..., after + candidates: the line of entry `seq` is the
   * placeholder replaced by `seq`, then its crc.
   */
  template: string;
  crcs: string[];
  /** Its line as entry `seq`. */
  line(seq: number): string;
  /** Recorded as entry `seq`: its objects (its result among them) stamped so, and its entry. */
  settle(seq: number): JournalEntry;
}

/** The placeholder the lines' templates hold for their number. */
export const placeholder = String(PLACEHOLDER);

/**
 * The alternatives as `record_at_head` takes them (migrations.ts, version 5): the placeholder, the
 * templates, the crcs, how many numbers each was sealed for, the keys read, the keys written.
 */
export const atHeadArgs = (alternatives: readonly Alternative[]): string[] => [
  placeholder,
  alternatives.map((a) => a.template).join('\x1e'),
  alternatives.map((a) => a.crcs.join(',')).join('\x1e'),
  String(alternatives[0]!.crcs.length),
  alternatives.map((a) => a.reads).join('\x1e'),
  alternatives.map((a) => a.touched).join('\x1e'),
];

/**
 * `planned` (made by `plan` on `view`, as of entry `after`, at `now`) and, for a claim of the best
 * ready task, the claims of the next best (`claims` in all at most), each sealed as the next
 * `candidates` entries. Null when the change is not one that may go side by side, or its line
 * cannot be sealed so.
 */
export function sideBySide(
  plan: (view: StateView, now: Date) => Plan<unknown>,
  planned: Plan<unknown>,
  view: StateView,
  now: Date,
  after: number,
  candidates: number,
  claims: number,
): Alternative[] | null {
  // A change made for another process by the shared writer (state/writer/) is planned on the latest
  // state: its asker may have settled the request meanwhile, which none of the plan's keys would show.
  if (!planned.change || planned.change.req || !SIDE_BY_SIDE_OPS.has(planned.change.op)) return null;
  const first = seal(planned.change, planned.result, view, now, after, candidates);
  if (!first) return null;
  const alternatives = [first];
  const taken = new Set<string>();
  let claimed = planned.change.op === 'claim' ? claimedId(planned.result) : null;
  first.claim = claimed !== null;
  while (claimed !== null && alternatives.length < claims) {
    taken.add(claimed);
    const next = plan(hiding(view, taken), now);
    claimed = next.change?.op === 'claim' ? claimedId(next.result) : null;
    // The same task again: the caller named it, and there is no next best.
    if (claimed !== null && taken.has(claimed)) first.claim = false;
    if (claimed === null || taken.has(claimed)) break;
    const sealed = seal(next.change!, next.result, view, now, after, candidates);
    if (!sealed) break;
    alternatives.push(sealed);
  }
  return alternatives;
}

function seal(
  change: Change,
  result: unknown,
  view: StateView,
  now: Date,
  after: number,
  candidates: number,
): Alternative | null {
  const touched = writes(change, view);
  const read = reads(change, view, touched);
  const stamped = stampRev(change, PLACEHOLDER);
  const { line } = sealEntry(entryBody(change, PLACEHOLDER, now, view.counters), PLACEHOLDER);
  const sealed = sealAs(line, PLACEHOLDER, stamped + 1);
  if (!sealed) return null;
  const crcs: string[] = [];
  for (let k = 1; k <= candidates; k++) crcs.push(sealed.crc(after + k));
  return {
    result,
    claim: false,
    reads: read.join(KEY_SEPARATOR),
    touched: touched.join(KEY_SEPARATOR),
    template: sealed.template,
    crcs,
    line: sealed.line,
    settle: (seq) => {
      stampRev(change, seq);
      return JSON.parse(sealed.line(seq)) as JournalEntry;
    },
  };
}

const claimedId = (result: unknown): string | null => (result as Task | null)?.id ?? null;

/** `view` without the tasks `ids` among the ready ones: the claim planned on it takes the next best. */
const hiding = (view: StateView, ids: ReadonlySet<string>): StateView =>
  viewWith(view, {
    *readyByPriority(priority) {
      for (const task of view.readyByPriority(priority)) if (!ids.has(task.id)) yield task;
    },
  });
