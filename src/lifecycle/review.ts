/**
 * Review and the merge queue as planners (docs/review.md): a code task's branch is opened at its
 * claim, its attempt ends in review (or done when it changed nothing), a reviewer approves or rejects
 * it, and the merge queue records each step of its merge so that a restarted queue resumes it.
 */
import type { Plan } from '../../state/backend.js';
import type { CodeBounce, Task, TaskCode } from '../../state/schemas.js';
import { invalidTransition } from '../errors.js';
import { type Ctx, iso, mustGet, transition } from './context.js';
import { withFollowUps } from './follow-ups.js';

/** The branch of a task: named by its id only, so no title can reach a ref or a path. */
export const branchOf = (id: string) => `dreamos/${id}`;

/** The task's code work after an attempt that ended well: review, or nothing to review. */
export function codeAfterAttempt(ctx: Ctx, code: TaskCode, head: string | null): TaskCode {
  const { merge: _merge, ...rest } = code;
  if (head === null) return { ...rest, stage: 'no-changes' };
  if (ctx.policies.review.policy === 'auto')
    return { ...rest, head, stage: 'approved', approvedBy: 'policy', approvedAt: iso(ctx.now) };
  return { ...rest, head, stage: 'waiting' };
}

/**
 * Record the branch of a working task (on its first claim), or mark it open again (a later claim):
 * the branch, its base and base commit never change once recorded.
 */
export function planCodeOpen(ctx: Ctx, id: string, start: { base: string; baseCommit: string }): Plan<Task> {
  const task = mustGet(ctx.view, id);
  if (task.status !== 'working')
    throw invalidTransition(`${id} is ${task.status}; a branch is opened for a working task only`);
  const code: TaskCode = task.code
    ? { ...task.code, stage: 'open' }
    : { branch: branchOf(id), base: start.base, baseCommit: start.baseCommit, stage: 'open' };
  if (task.code?.stage === 'open') return { change: null, result: task };
  const next = { ...task, code, updatedAt: iso(ctx.now) };
  return { change: { op: 'code-open', by: ctx.by, tasks: [next] }, result: next };
}

function inReview(ctx: Ctx, id: string, action: string): Task & { code: TaskCode } {
  const task = mustGet(ctx.view, id);
  if (task.status !== 'review' || !task.code)
    throw invalidTransition(`${id} is ${task.status}; only a task waiting for review can be ${action}`);
  return task as Task & { code: TaskCode };
}

/** A reviewer approves: the task joins the merge queue (ordered by approval). */
export function planReviewApprove(ctx: Ctx, id: string): Plan<Task> {
  const task = inReview(ctx, id, 'approved');
  if (task.code.stage !== 'waiting')
    throw invalidTransition(
      `${id} is already ${task.code.stage === 'approved' ? 'approved' : task.code.stage}`,
    );
  const code: TaskCode = {
    ...task.code,
    stage: 'approved',
    approvedBy: ctx.by.slice(0, 64),
    approvedAt: iso(ctx.now),
  };
  const next = { ...task, code, updatedAt: iso(ctx.now) };
  return { change: { op: 'review-approve', by: ctx.by, tasks: [next] }, result: next };
}

/**
 * Back to ready on the same branch, with why in `code.last` for the next attempt: a reviewer's
 * rejection, a conflict or a failed gate. The attempts start over: it is new work.
 */
export function planBounce(
  ctx: Ctx,
  id: string,
  bounce: Omit<CodeBounce, 'by' | 'at'>,
  op = 'review-reject',
): Plan<Task> {
  const task = inReview(ctx, id, bounce.reason === 'rejected' ? 'rejected' : 'sent back');
  if (bounce.reason === 'rejected' && task.code.stage === 'merging')
    throw invalidTransition(`${id} is being merged; it cannot be rejected now`);
  const { merge: _merge, approvedBy: _by, approvedAt: _at, ...rest } = task.code;
  const last: CodeBounce = {
    ...bounce,
    text: bounce.text.slice(0, 20_000),
    by: ctx.by.slice(0, 64),
    at: iso(ctx.now),
  };
  const why =
    bounce.reason === 'rejected'
      ? `rejected by ${ctx.by}: ${bounce.text}`
      : bounce.reason === 'merge-conflict'
        ? `merge conflict in ${(bounce.files ?? []).join(', ') || 'the branch'}`
        : 'the gate failed';
  const next = transition(task, 'ready', ctx, why, {
    code: { ...rest, stage: 'open', last },
    attempts: 0,
    stalls: 0,
    notBefore: null,
    lease: null,
    agent: null,
  });
  return { change: { op, by: ctx.by, tasks: [next] }, result: next };
}

/** The queue's journaled step of a merge: where a restart picks it up. */
export function planMergeStep(ctx: Ctx, id: string, merge: NonNullable<TaskCode['merge']>): Plan<Task> {
  const task = inReview(ctx, id, 'merged');
  if (task.code.stage !== 'approved' && task.code.stage !== 'merging')
    throw invalidTransition(`${id} is not approved; only an approved task is merged`);
  const next = { ...task, code: { ...task.code, stage: 'merging' as const, merge }, updatedAt: iso(ctx.now) };
  return { change: { op: 'merge-step', by: ctx.by, tasks: [next] }, result: next };
}

/** The base moved to the merge (or a pull request is open): the task is done. */
export function planMerged(ctx: Ctx, id: string, end: { merged?: string; pr?: string }): Plan<Task> {
  const task = inReview(ctx, id, 'merged');
  const { merge: _merge, ...rest } = task.code;
  const code: TaskCode = end.pr
    ? { ...rest, stage: 'pr-opened', pr: end.pr }
    : { ...rest, stage: 'merged', ...(end.merged ? { merged: end.merged } : {}) };
  const why = end.pr ? `pull request opened: ${end.pr}` : `merged into ${task.code.base}`;
  const next = transition(task, 'done', ctx, why, { code });
  return { change: withFollowUps(ctx, 'merged', [next]), result: next };
}
