/**
 * What the cursor is on in the review and diff views, and the code task the review commands act on
 * (ui/derive.ts calls these for those views).
 */

import { reviewRows } from './data/review.js';
import type { Lists, Selection } from './derive.js';
import { follow } from './derive.js';
import type { ParsedDiff } from './diff-model.js';
import type { KeyContext } from './keymap.js';
import { cursorOf, type UiState } from './model.js';

/** The diff view's lines and how many show at once. */
export interface DiffPage {
  /** null while it is being read, or when it cannot be (`error`). */
  parsed: ParsedDiff | null;
  error: string | null;
  rows: number;
}

export const NO_DIFF: DiffPage = { parsed: null, error: null, rows: 1 };

const none = { agent: null, alerts: [] as string[] };

export function reviewSelection(state: UiState, lists: Lists): Selection {
  const rows = reviewRows(lists.consoleView.columns.review);
  const { cursor, lost } = follow(state, 'review', rows, (r) => r.id);
  const row = rows[cursor];
  const task = row ? (lists.task(row.id) ?? null) : null;
  return {
    size: rows.length,
    cursor,
    idAt: (i) => rows[i]?.id,
    lost,
    task,
    open: task ? { kind: 'task', id: task.id } : null,
    ...none,
  };
}

/** The cursor is the first line shown: it goes no further than the last page. */
export function diffSelection(state: UiState, lists: Lists, page: DiffPage): Selection {
  const task = state.diffTaskId ? (lists.task(state.diffTaskId) ?? null) : null;
  const size = Math.max(1, (page.parsed?.lines.length ?? 0) - page.rows + 1);
  return { size, cursor: cursorOf(state, 'diff', size), lost: null, task, open: null, ...none, diff: page };
}

/** The code task of the review, diff and task views, for `d`, `A` and `X`. */
export function reviewContext(state: UiState, selection: Selection): KeyContext['review'] {
  const task = selection.task;
  if (!task?.code || !['review', 'diff', 'task'].includes(state.view)) return null;
  return { id: task.id, stage: task.code.stage, status: task.status };
}
