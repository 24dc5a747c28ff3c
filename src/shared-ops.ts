/**
 * The hot changes (claim, renew, complete, fail) as they travel between processes: one table of the
 * four operations, each with its arguments' schema, its checks and its planner. The asking process
 * and the process that makes the change (a backend's shared writer) both plan them from here, so a
 * request is checked the same way on both sides (docs/decisions/state-backend.md).
 */
import * as z from 'zod';
import type { HotChange, Plan } from '../state/backend.js';
import { isFailureCode, Task } from '../state/schemas.js';
import type { AgentConfig, Policies } from './config.js';
import { invalidInput } from './errors.js';
import {
  type CompleteInput,
  type Ctx,
  checkTaskId,
  type FailInput,
  planClaim,
  planComplete,
  planFail,
  planRenew,
} from './lifecycle/index.js';

/** What the operations need of the workspace they run in. */
export interface OpsHost {
  /** The configured agent `id`, or a not-found error. */
  agent(id: string): AgentConfig;
  readonly policies: Policies;
}

const Usage = z.strictObject({
  inputTokens: z.number(),
  outputTokens: z.number(),
  usd: z.number().optional(),
});
/** The fencing token of the lease an agent believes it holds (state/schemas.ts `Lease.token`). */
const LeaseToken = z.number().int().positive();
const CompleteFields = {
  agent: z.string().max(64).optional(),
  leaseToken: LeaseToken.optional(),
  summary: z.string().optional(),
  exitCode: z.number().nullable().optional(),
  usage: Usage.optional(),
  log: z.string().optional(),
  codeHead: z
    .string()
    .regex(/^[0-9a-f]{40}(?:[0-9a-f]{24})?$/)
    .nullable()
    .optional(),
};
const ClaimArgs = z.strictObject({ agent: z.string().max(64), taskId: z.string().max(20).optional() });
const RenewArgs = z.strictObject({
  id: z.string().max(20),
  agent: z.string().max(64),
  leaseToken: LeaseToken.optional(),
});
const CompleteArgs = z.strictObject({ id: z.string().max(20), input: z.strictObject(CompleteFields) });
const FailArgs = z.strictObject({
  id: z.string().max(20),
  input: z.strictObject({
    ...CompleteFields,
    reason: z.string(),
    errorCode: z.string().optional(),
    final: z.boolean().optional(),
  }),
});

interface Operation<A> {
  args: z.ZodType<A>;
  /** Refuse bad arguments before anything is planned (both in the asker and in the writer). */
  check(host: OpsHost, args: A): void;
  /** Who the change is recorded as made by. */
  by(args: A, actor: string): string;
  plan(ctx: Ctx, host: OpsHost, args: A): Plan<Task | null>;
}

/** An agent reporting must be configured; a lease token belongs to an agent's report, never the operator's. */
function checkReporter(
  host: OpsHost,
  input: { agent?: string | undefined; leaseToken?: number | undefined },
) {
  if (input.agent !== undefined) host.agent(input.agent);
  else if (input.leaseToken !== undefined)
    throw invalidInput('a lease token comes with the agent holding the lease');
}

type ClaimArgs = z.infer<typeof ClaimArgs>;
type RenewArgs = z.infer<typeof RenewArgs>;
type CompleteArgs = z.infer<typeof CompleteArgs>;
type FailArgs = z.infer<typeof FailArgs>;

export const SHARED_OPS: {
  claim: Operation<ClaimArgs>;
  renew: Operation<RenewArgs>;
  complete: Operation<CompleteArgs>;
  fail: Operation<FailArgs>;
} = {
  claim: {
    args: ClaimArgs,
    check(host, { agent, taskId }) {
      host.agent(agent);
      if (taskId !== undefined) checkTaskId(taskId);
    },
    by: ({ agent }) => agent,
    plan: (ctx, host, { agent, taskId }) => planClaim(ctx, host.agent(agent), taskId),
  },
  renew: {
    args: RenewArgs,
    check(host, { id, agent }) {
      host.agent(agent);
      checkTaskId(id);
    },
    by: ({ agent }) => agent,
    plan: (ctx, _host, { id, agent, leaseToken }) => planRenew(ctx, id, { agent, leaseToken }),
  },
  complete: {
    args: CompleteArgs,
    check(host, { id, input }) {
      checkReporter(host, input);
      checkTaskId(id);
    },
    by: ({ input }, actor) => input.agent ?? actor,
    plan: (ctx, _host, { id, input }) => planComplete(ctx, id, input),
  },
  fail: {
    args: FailArgs,
    check(host, { id, input }) {
      checkReporter(host, input);
      if (!input.reason?.trim()) throw invalidInput('a failure needs a reason');
      if (input.errorCode !== undefined && !isFailureCode(input.errorCode)) {
        throw invalidInput(
          `not an error code: ${JSON.stringify(input.errorCode).slice(0, 60)} (codes look like E_TESTS)`,
        );
      }
      checkTaskId(id);
    },
    by: ({ input }, actor) => input.agent ?? actor,
    plan: (ctx, _host, { id, input }) => planFail(ctx, id, input),
  },
};

export type SharedOp = keyof typeof SHARED_OPS;
export type SharedArgsOf = {
  [K in SharedOp]: (typeof SHARED_OPS)[K] extends Operation<infer A> ? A : never;
};
const TaskOrNull = Task.nullable();

/** The change one operation stands for: checked, then planned with the clock and who makes it. */
export function sharedChange<K extends SharedOp>(
  host: OpsHost,
  op: K,
  args: SharedArgsOf[K],
  actor: string,
): HotChange<Task | null> {
  const operation = SHARED_OPS[op] as unknown as Operation<SharedArgsOf[K]>;
  operation.check(host, args);
  const by = operation.by(args, actor);
  return {
    plan: (view, now) => operation.plan({ view, now, by, policies: host.policies }, host, args),
    check: (value) => TaskOrNull.parse(value),
  };
}

/** In the writer: a request from another process, whose arguments are parsed before anything else. */
export function resolveShared(
  host: OpsHost,
  op: string,
  raw: unknown,
  actor: string,
): HotChange<Task | null> {
  if (!Object.hasOwn(SHARED_OPS, op)) throw invalidInput(`not a change the shared writer makes: ${op}`);
  const parsed = SHARED_OPS[op as SharedOp].args.safeParse(raw);
  if (!parsed.success) throw invalidInput(`bad arguments for ${op}: ${parsed.error.issues[0]?.message}`);
  return sharedChange(host, op as SharedOp, parsed.data as never, actor);
}

/** Only the fields a change uses travel (callers may hand over richer objects). */
function pick<T extends object>(input: T, keys: readonly (keyof T)[]): Partial<T> {
  const out: Partial<T> = {};
  for (const key of keys) if (input[key] !== undefined) out[key] = input[key];
  return out;
}
const REPORT_KEYS = ['agent', 'leaseToken', 'summary', 'exitCode', 'usage', 'log'] as const;
const COMPLETE_KEYS = [...REPORT_KEYS, 'codeHead'] as const;
const FAIL_KEYS = [...REPORT_KEYS, 'reason', 'errorCode', 'final'] as const;

export const completeArgs = (id: string, input: CompleteInput): CompleteArgs => ({
  id,
  input: pick(input, COMPLETE_KEYS),
});

export const failArgs = (id: string, input: FailInput): FailArgs => ({
  id,
  input: pick(input, FAIL_KEYS) as FailInput,
});
