/**
 * Marked tasks, the board's sort order and a bulk action under way: the console's state for acting
 * on many tasks at once, with its own small reducer (model.ts hands these actions here). Pure.
 */
import type { BulkAction } from '../src/workspace.js';
import type { Task } from '../state/schemas.js';

/** A confirmed bulk action: the tasks and what to do with them. */
export interface BulkDialog {
  ids: readonly string[];
  action: BulkAction;
  /** The verb, for the messages: `retry`, `cancel`, `move to backlog`. */
  verb: string;
}

export const SORTS = ['priority', 'age', 'attempts', 'agent'] as const;
export type BoardSort = (typeof SORTS)[number];

export interface Running {
  /** What is being done, for the progress line: `retry 1,000 tasks`. */
  label: string;
  count: number;
  startedAt: number;
}

export interface SelectionState {
  /** Tasks marked with `space` (or all matching a filter with `*`), by id. */
  marked: ReadonlySet<string>;
  sort: BoardSort;
  running: Running | null;
}

export type SelectionAction =
  | { type: 'mark'; ids: readonly string[]; on: boolean | 'toggle' }
  | { type: 'mark-clear' }
  | { type: 'sort'; by: BoardSort }
  | { type: 'running'; running: Running | null };

export const initialSelection = (): SelectionState => ({
  marked: new Set(),
  sort: 'priority',
  running: null,
});

export function reduceSelection<S extends SelectionState>(state: S, action: SelectionAction): S {
  switch (action.type) {
    case 'mark': {
      const marked = new Set(state.marked);
      for (const id of action.ids) {
        const on = action.on === 'toggle' ? !marked.has(id) : action.on;
        if (on) marked.add(id);
        else marked.delete(id);
      }
      return { ...state, marked };
    }
    case 'mark-clear':
      return state.marked.size ? { ...state, marked: new Set() } : state;
    case 'sort':
      return { ...state, sort: action.by };
    case 'running':
      return { ...state, running: action.running };
  }
}

const RANK: Record<string, number> = { critical: 0, high: 1, normal: 2, low: 3 };
const byPriority = (a: Task, b: Task) => RANK[a.priority]! - RANK[b.priority]!;

/** Orders other than the board's own (priority then id; finished tasks newest first). Stable. */
const ORDERS: Record<Exclude<BoardSort, 'priority'>, (a: Task, b: Task) => number> = {
  age: (a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0),
  attempts: (a, b) => b.attempts - a.attempts || byPriority(a, b),
  // Tasks with an agent first, by agent; the others after them.
  agent: (a, b) =>
    a.agent === b.agent
      ? byPriority(a, b)
      : a.agent === null
        ? 1
        : b.agent === null
          ? -1
          : a.agent.localeCompare(b.agent, 'en', { numeric: true }),
};

/** A column in the chosen order: the same array for the board's own order. */
export function sortTasks(tasks: Task[], sort: BoardSort): Task[] {
  if (sort === 'priority' || tasks.length < 2) return tasks;
  return [...tasks].sort(ORDERS[sort]);
}

export const sortWords: Record<BoardSort, string> = {
  priority: 'by priority',
  age: 'oldest first',
  attempts: 'most attempts first',
  agent: 'by agent',
};
