/**
 * What every lifecycle planner shares: the context a planner runs in, and the one way a task changes
 * stage (a new state with the move appended to its history).
 */
import type { StateView } from '../../state/backend.js';
import { idOf, PRIORITIES, type Priority, type Status, type Task, TaskId } from '../../state/schemas.js';
import type { Policies } from '../config.js';
import { invalidInput, notFound } from '../errors.js';

export interface Ctx {
  view: StateView;
  now: Date;
  by: string;
  policies: Policies;
  random?: () => number;
}

export const taskIdOf = (n: number) => idOf('T', n);

export const iso = (d: Date) => d.toISOString();
const TERMINAL: readonly Status[] = ['done', 'failed', 'cancelled'];
/** What a retry or an operator's move out of failed/cancelled resets: the task starts over. */
export const FRESH_ATTEMPT = { attempts: 0, stalls: 0, notBefore: null, lease: null, agent: null } as const;

/** A priority's place in PRIORITIES: lower is more urgent. */
export const rank = (p: Priority) => PRIORITIES.indexOf(p);

/** Refuse a malformed task id with a clear message. */
export function checkTaskId(id: string): void {
  if (!TaskId.safeParse(id).success)
    throw invalidInput(`not a task id: ${JSON.stringify(id).slice(0, 60)} (ids look like T-0001A)`);
}
export const isTerminal = (s: Status) => TERMINAL.includes(s);

/** The task moved to stage `to`, the move appended to its history (with `patch` applied). */
export function transition(task: Task, to: Status, ctx: Ctx, why?: string, patch: Partial<Task> = {}): Task {
  const at = iso(ctx.now);
  return {
    ...task,
    ...patch,
    status: to,
    updatedAt: at,
    history: [
      ...task.history,
      { from: task.status, to, by: ctx.by, at, ...(why ? { why: why.slice(0, 2000) } : {}) },
    ],
  };
}

/** The task with this id, or a not-found error. */
export function mustGet(view: StateView, id: string): Task {
  const task = view.task(id);
  if (!task) throw notFound(`no task ${id}`);
  return task;
}
