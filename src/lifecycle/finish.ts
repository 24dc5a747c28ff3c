/**
 * Finishing an attempt: the lease holder reports success or failure, and a failure with attempts left
 * goes back to ready after an exponential backoff (docs/decisions/retry-backoff.md).
 */
import type { Plan } from '../../state/backend.js';
import type { Task } from '../../state/schemas.js';
import type { Policies } from '../config.js';
import { assertHolder } from './claim.js';
import { type Ctx, iso, mustGet, transition } from './context.js';
import { withFollowUps } from './follow-ups.js';
import { codeAfterAttempt } from './review.js';

export interface CompleteInput {
  /** The agent reporting, or none for the operator. */
  agent?: string;
  /** The fencing token of the lease the agent believes it holds (its claim's `lease.token`). */
  leaseToken?: number;
  summary?: string;
  exitCode?: number | null;
  usage?: { inputTokens: number; outputTokens: number; usd?: number };
  log?: string;
  /**
   * For a task on its own branch (`task.code`): the branch's commit when it changed something since
   * its base commit (the task goes to review), or null when it changed nothing (the task is done).
   */
  codeHead?: string | null;
}

export function planComplete(ctx: Ctx, id: string, input: CompleteInput): Plan<Task> {
  const task = mustGet(ctx.view, id);
  assertHolder(ctx, task, input, 'completed');
  const code =
    task.code && input.codeHead !== undefined ? codeAfterAttempt(ctx, task.code, input.codeHead) : undefined;
  const to = code && (code.stage === 'waiting' || code.stage === 'approved') ? 'review' : 'done';
  const why = input.summary ? input.summary.slice(0, 200) : 'completed';
  const next = transition(task, to, ctx, to === 'review' ? `waits for review: ${why}` : why, {
    lease: null,
    ...(code ? { code } : {}),
    result: {
      ok: true,
      ...(input.summary !== undefined ? { summary: input.summary } : {}),
      ...(input.exitCode !== undefined ? { exitCode: input.exitCode } : {}),
      ...(input.usage ? { usage: input.usage } : {}),
      ...(input.log ? { log: input.log } : {}),
    },
  });
  // An attempt that ends in review is not the task's end: its own operation, so its event says so.
  return { change: withFollowUps(ctx, to === 'review' ? 'review' : 'complete', [next]), result: next };
}

export interface FailInput extends CompleteInput {
  reason: string;
  errorCode?: string;
  /** Do not retry even if attempts remain. */
  final?: boolean;
}

/** Exponential backoff with jitter: base·2^(n-1), capped, then scaled by a random factor in [0.5, 1). */
export function backoffSeconds(
  attempt: number,
  policies: Policies,
  random: () => number = Math.random,
): number {
  const raw = Math.min(policies.retry.maxSeconds, policies.retry.baseSeconds * 2 ** Math.max(0, attempt - 1));
  return raw * (0.5 + random() * 0.5);
}

export function planFail(ctx: Ctx, id: string, input: FailInput): Plan<Task> {
  const task = mustGet(ctx.view, id);
  assertHolder(ctx, task, input, 'failed');
  const result = {
    ok: false,
    error: input.reason,
    // Every failure carries a typed code: one reported without a code is E_REPORTED.
    errorCode: input.errorCode || 'E_REPORTED',
    ...(input.exitCode !== undefined ? { exitCode: input.exitCode } : {}),
    ...(input.usage ? { usage: input.usage } : {}),
    ...(input.log ? { log: input.log } : {}),
  };
  let next: Task;
  if (!input.final && task.attempts < task.maxAttempts) {
    const delay = backoffSeconds(task.attempts, ctx.policies, ctx.random);
    next = transition(
      task,
      'ready',
      ctx,
      `attempt ${task.attempts} failed: ${input.reason}; retry in ${delay.toFixed(1)} s`,
      {
        lease: null,
        agent: null,
        result,
        notBefore: iso(new Date(ctx.now.getTime() + delay * 1000)),
      },
    );
  } else {
    next = transition(
      task,
      'failed',
      ctx,
      `attempt ${task.attempts} of ${task.maxAttempts} failed: ${input.reason}`,
      {
        lease: null,
        result,
      },
    );
  }
  return { change: withFollowUps(ctx, 'fail', [next]), result: next };
}
