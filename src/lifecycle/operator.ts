/**
 * The operator's hand on the board: promote, retry, cancel, move between stages, reprioritise and
 * edit. Each move is mapped onto a lifecycle rule, so the board can never reach a state the rules forbid.
 */
import type { Plan } from '../../state/backend.js';
import { PRIORITIES, type Status, Task } from '../../state/schemas.js';
import { describeZodError } from '../../state/zod-errors.js';
import { DreamError, invalidInput, invalidTransition } from '../errors.js';
import { checkTaskLimits } from '../limits.js';
import { invisibleIn } from '../sanitize.js';
import {
  type Ctx,
  checkTaskId,
  FRESH_ATTEMPT,
  iso,
  isTerminal,
  mustGet,
  rank,
  transition,
} from './context.js';
import { planComplete, planFail } from './finish.js';
import { assertNoCycle, depsDone, withFollowUps } from './follow-ups.js';

/** A task from outside that nobody has approved yet: it may not leave the backlog for ready. */
export const awaitsApproval = (task: Pick<Task, 'approval'>) => task.approval?.status === 'pending';

const approveFirst = (id: string) =>
  invalidTransition(`${id} waits for approval: \`dreamos task approve ${id}\` lets it run`);

/**
 * Approve a task from outside: the approval names who gave it, and the task goes to ready when its
 * dependencies are done (else it waits for them in the backlog, approved).
 */
export function planApprove(ctx: Ctx, id: string, why?: string): Plan<Task> {
  const task = mustGet(ctx.view, id);
  if (!awaitsApproval(task))
    throw invalidTransition(
      task.approval
        ? `${id} is already approved (by ${task.approval.by ?? 'someone'})`
        : `${id} does not wait for approval${task.status === 'backlog' ? ` (\`dreamos task promote ${id}\` moves it to ready)` : ''}`,
    );
  if (task.status !== 'backlog')
    throw invalidTransition(`${id} is ${task.status}; only a task in the backlog can be approved`);
  const approval = { status: 'approved' as const, by: ctx.by.slice(0, 64), at: iso(ctx.now) };
  const to = depsDone(ctx.view, task) ? 'ready' : 'backlog';
  const next = transition(
    task,
    to,
    ctx,
    why ?? (to === 'ready' ? `approved by ${ctx.by}` : `approved by ${ctx.by}; waits for its dependencies`),
    { approval },
  );
  return { change: { op: 'approve', by: ctx.by, tasks: [next] }, result: next };
}

export function planPromote(ctx: Ctx, id: string, why?: string): Plan<Task> {
  const task = mustGet(ctx.view, id);
  if (task.status !== 'backlog')
    throw invalidTransition(`${id} is ${task.status}; only a backlog task can be promoted`);
  if (awaitsApproval(task)) throw approveFirst(id);
  const next = transition(
    task,
    'ready',
    ctx,
    why ??
      (depsDone(ctx.view, task) ? 'promoted' : 'promoted by the operator before its dependencies were done'),
  );
  return { change: { op: 'promote', by: ctx.by, tasks: [next] }, result: next };
}

export function planRetry(ctx: Ctx, id: string, why?: string): Plan<Task> {
  const task = mustGet(ctx.view, id);
  if (task.status === 'ready' && task.notBefore) {
    const next = { ...transition(task, 'ready', ctx, why ?? 'retry now'), notBefore: null };
    return { change: { op: 'retry', by: ctx.by, tasks: [next] }, result: next };
  }
  if (task.status !== 'failed' && task.status !== 'cancelled') {
    throw invalidTransition(
      `${id} is ${task.status}; only a failed or cancelled task (or one waiting to retry) can be retried`,
    );
  }
  const to = depsDone(ctx.view, task) && !awaitsApproval(task) ? 'ready' : 'backlog';
  const next = transition(task, to, ctx, why ?? 'retried by the operator', FRESH_ATTEMPT);
  return { change: { op: 'retry', by: ctx.by, tasks: [next] }, result: next };
}

export function planCancel(ctx: Ctx, id: string, why?: string): Plan<Task> {
  const task = mustGet(ctx.view, id);
  if (isTerminal(task.status)) throw invalidTransition(`${id} is already ${task.status}`);
  const next = transition(task, 'cancelled', ctx, why ?? 'cancelled by the operator', { lease: null });
  return { change: withFollowUps(ctx, 'cancel', [next]), result: next };
}

/** The operator's moves between stages, each mapped onto a lifecycle rule. */
export function planMove(ctx: Ctx, id: string, to: Status, why?: string): Plan<Task> {
  const task = mustGet(ctx.view, id);
  const from = task.status;
  if (from === to) throw invalidTransition(`${id} is already ${to}`);
  if (to === 'cancelled') return planCancel(ctx, id, why);
  if (from === 'backlog' && to === 'ready') return planPromote(ctx, id, why);
  if ((from === 'failed' || from === 'cancelled') && to === 'ready' && awaitsApproval(task))
    throw approveFirst(id);
  if ((from === 'failed' || from === 'cancelled') && (to === 'ready' || to === 'backlog')) {
    // Like a retry, but to the stage the operator named (the history must say where it went).
    const next = transition(task, to, ctx, why ?? `moved to ${to} by the operator`, FRESH_ATTEMPT);
    return { change: { op: 'move', by: ctx.by, tasks: [next] }, result: next };
  }
  if (from === 'ready' && to === 'backlog') {
    const next = transition(task, 'backlog', ctx, why ?? 'held back by the operator', { notBefore: null });
    return { change: { op: 'move', by: ctx.by, tasks: [next] }, result: next };
  }
  if (from === 'working' && (to === 'ready' || to === 'backlog')) {
    const next = transition(task, to, ctx, why ?? 'requeued by the operator', { lease: null, agent: null });
    return { change: { op: 'move', by: ctx.by, tasks: [next] }, result: next };
  }
  if (from === 'review' && (to === 'ready' || to === 'backlog')) {
    if (task.code?.stage === 'merging')
      throw invalidTransition(`${id} is being merged; it cannot leave review now`);
    const next = transition(task, to, ctx, why ?? 'taken back from review by the operator', {
      ...(task.code ? { code: { ...task.code, stage: 'open' as const } } : {}),
      lease: null,
      agent: null,
    });
    return { change: { op: 'move', by: ctx.by, tasks: [next] }, result: next };
  }
  if (from === 'working' && to === 'done')
    return planComplete(ctx, id, { summary: why ?? 'marked done by the operator' });
  if (from === 'working' && to === 'failed')
    return planFail(ctx, id, { reason: why ?? 'failed by the operator', final: true });
  throw invalidTransition(
    `cannot move ${id} from ${from} to ${to}` +
      (from === 'done'
        ? ': done is final (add a new task instead)'
        : to === 'working'
          ? ': a task starts working only when an agent claims it'
          : from === 'review'
            ? `: \`dreamos review approve ${id}\` puts it in the merge queue`
            : to === 'review'
              ? ': a task waits for review only when an attempt on its branch ends well'
              : ''),
  );
}

export function planPriority(ctx: Ctx, id: string, delta: -1 | 1): Plan<Task> {
  const task = mustGet(ctx.view, id);
  const next = PRIORITIES[Math.min(PRIORITIES.length - 1, Math.max(0, rank(task.priority) - delta))]!;
  return planEdit(ctx, id, { priority: next });
}

export type EditPatch = Partial<
  Pick<
    Task,
    | 'title'
    | 'prompt'
    | 'run'
    | 'role'
    | 'capabilities'
    | 'priority'
    | 'dependsOn'
    | 'resources'
    | 'maxAttempts'
    | 'timeout'
    | 'budget'
    | 'tags'
  >
>;

const TEXT_FIELDS = [
  'title',
  'prompt',
  'run',
  'role',
  'capabilities',
  'dependsOn',
  'resources',
  'tags',
] as const;

export function planEdit(ctx: Ctx, id: string, patch: EditPatch): Plan<Task> {
  const task = mustGet(ctx.view, id);
  if (isTerminal(task.status))
    throw invalidTransition(`${id} is ${task.status}; a finished task cannot be edited (retry it first)`);
  if (Object.keys(patch).length === 0)
    throw invalidInput('nothing to change: give at least one field to edit');
  if (patch.dependsOn) {
    if (task.status === 'working')
      throw invalidTransition(`${id} is working; its dependencies cannot change now`);
    for (const dep of patch.dependsOn) {
      checkTaskId(dep);
      if (dep === id) throw new DreamError('E_CYCLE', `dependency cycle refused: ${id} -> ${id}`);
      mustGet(ctx.view, dep);
    }
    assertNoCycle(ctx.view, new Map([[id, { id, dependsOn: patch.dependsOn }]]));
  }
  for (const field of ['title', 'capabilities', 'resources', 'tags'] as const) {
    for (const text of [patch[field] ?? []].flat()) {
      const problem = invisibleIn(text);
      if (problem) throw invalidInput(`invalid edit of ${id}: ${field}: ${problem}`);
    }
  }
  let next: Task = { ...task, ...patch, updatedAt: iso(ctx.now) };
  const checked = Task.safeParse(next);
  if (!checked.success)
    throw invalidInput(`invalid edit of ${id}: ${describeZodError(checked.error)}`, checked.error.issues);
  if (next.status === 'ready' && patch.dependsOn && !depsDone(ctx.view, next)) {
    next = transition(next, 'backlog', ctx, 'waiting for its new dependencies');
  }
  // Only edits of what the user writes are bounded: a priority or a count stays editable on full boards.
  if (TEXT_FIELDS.some((field) => patch[field] !== undefined))
    checkTaskLimits(ctx.view, ctx.policies.limits, [next], task);
  return { change: { op: 'edit', by: ctx.by, tasks: [next] }, result: next };
}
