/**
 * What a user may give when adding or importing a task, validated with zod (unknown fields are
 * refused), and the planner that turns it into new tasks.
 */
import * as z from 'zod';
import type { Plan } from '../state/backend.js';
import {
  AgentId,
  type Approval,
  Budget,
  DedupeKey,
  Priority,
  Source,
  Task,
  TaskId,
} from '../state/schemas.js';
import { describeZodError } from '../state/zod-errors.js';
import { conflict, invalidInput, notFound } from './errors.js';
import { assertNoCycle, type Ctx, depsDone, taskIdOf } from './lifecycle/index.js';
import { checkTaskLimits } from './limits.js';
import { invisibleIn, oneLine } from './sanitize.js';

const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/;
const UNIT_SECONDS = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 } as const;

/** "30s", "5m", "1.5h", "250ms" or a number of seconds. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') {
    if (!(value > 0)) throw invalidInput(`a duration must be positive, got ${value}`);
    return value;
  }
  const match = DURATION_RE.exec(value.trim());
  if (!match) throw invalidInput(`not a duration: ${JSON.stringify(value)} (use e.g. 30s, 5m, 2h)`);
  const seconds = Number(match[1]) * UNIT_SECONDS[(match[2] ?? 's') as keyof typeof UNIT_SECONDS];
  if (!(seconds > 0)) throw invalidInput(`a duration must be positive, got ${value}`);
  return seconds;
}

const Text = z.string();
/** One line of text from the user: nothing invisible in it (src/sanitize.ts). */
const Line = z.string().superRefine((text, ctx) => {
  const problem = invisibleIn(text);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
export const MAX_ATTEMPTS = 100;

export const TaskInput = z.strictObject({
  title: Line.min(1, 'a task needs a title'),
  prompt: Text.optional(),
  run: Text.optional(),
  role: AgentId.optional(),
  capabilities: z.array(Line).default([]),
  priority: Priority.default('normal'),
  /** Task ids, or in an import the `ref` of another task of the same import (resolved by planAdd). */
  dependsOn: z.array(z.string().min(1).max(64)).max(256).default([]),
  resources: z.array(Line).default([]),
  maxAttempts: z
    .number()
    .min(1, 'at least 1')
    .max(MAX_ATTEMPTS, `at most ${MAX_ATTEMPTS}`)
    .int('must be a whole number')
    .default(3),
  timeout: z.union([z.number(), z.string()]).optional(),
  budget: Budget.optional(),
  tags: z.array(Line).default([]),
  /** The CLI, the console and the orchestrator say who they are; a library caller that does not is 'api'. */
  source: Source.default('api'),
  /**
   * Adding a task whose key some task already has (on the board or archived) adds nothing: the
   * first one stands (`gh:owner/repo#N`, `scout:<source>:<hash>`).
   */
  dedupeKey: DedupeKey.optional(),
  /**
   * Run it on a branch of its own, with review and the merge queue (true), or in place (false);
   * absent, the agent that takes it decides (docs/review.md).
   */
  branch: z.boolean().optional(),
  /** Keep the task in the backlog even when its dependencies are done (the operator promotes it). */
  hold: z.boolean().default(false),
  /** In an import: a name that other tasks of the same import can use in `dependsOn`. */
  ref: z.string().min(1).max(64).optional(),
});
export type TaskInput = z.input<typeof TaskInput>;

export function parseTaskInput(raw: unknown, where = 'task'): z.output<typeof TaskInput> {
  const parsed = TaskInput.safeParse(raw);
  if (!parsed.success) {
    // One message per field: a number past every bound breaks several of its checks at once.
    const seen = new Set<string>();
    const issues = parsed.error.issues.filter((issue) => {
      const key = issue.path.join('.');
      return !seen.has(key) && seen.add(key);
    });
    throw invalidInput(`invalid ${where}: ${describeZodError(new z.ZodError(issues))}`, issues);
  }
  return parsed.data;
}

/**
 * Add one or many tasks in one transaction. In an import, `dependsOn` may name an existing task id or
 * the `ref` of another task of the same import. A cycle or an unknown dependency refuses the whole set.
 */
export function planAdd(
  ctx: Ctx,
  inputs: z.output<typeof TaskInput>[],
  knownAgentRoles: Set<string>,
  approval?: ApprovalAtAdd,
): Plan<Task[]> {
  const at = ctx.now.toISOString();
  const keys = new Set<string>();
  for (const input of inputs) {
    if (input.dedupeKey === undefined) continue;
    const holder = ctx.view.dedupe(input.dedupeKey);
    if (holder !== undefined || keys.has(input.dedupeKey))
      throw conflict(
        `dedupe key ${JSON.stringify(input.dedupeKey)} is already ${holder ? `${holder}'s` : 'used in this import'}: no task was added`,
      );
    keys.add(input.dedupeKey);
  }
  const approvalOf: Approval | undefined =
    approval === 'pending'
      ? { status: 'pending' }
      : approval === 'policy'
        ? { status: 'approved', by: 'policy', at }
        : undefined;
  let counter = ctx.view.counters.task;
  const refs = new Map<string, string>();
  const ids = inputs.map((input) => {
    counter += 1;
    const id = taskIdOf(counter);
    if (input.ref) {
      if (refs.has(input.ref))
        throw invalidInput(`ref ${JSON.stringify(input.ref)} names more than one task of the import`);
      refs.set(input.ref, id);
    }
    return id;
  });
  const drafts: Task[] = inputs.map((input, i) => {
    if (input.role && !knownAgentRoles.has(input.role)) {
      throw notFound(`no agent has the role or id ${JSON.stringify(input.role)} (see dreamos agent list)`);
    }
    const dependsOn = input.dependsOn.map((d) => refs.get(d) ?? d);
    for (const dep of dependsOn) {
      if (!TaskId.safeParse(dep).success)
        throw invalidInput(
          `dependency ${JSON.stringify(dep).slice(0, 70)} of "${oneLine(input.title, 60)}" is neither a task id (like T-0001A) nor the ref of a task in this import`,
        );
      if (!ctx.view.task(dep) && !ids.includes(dep))
        throw notFound(`dependency ${dep} of "${oneLine(input.title, 60)}" does not exist`);
    }
    const task = newTask(
      ids[i]!,
      {
        title: input.title,
        ...(input.prompt !== undefined ? { prompt: input.prompt } : {}),
        ...(input.run !== undefined ? { run: input.run } : {}),
        ...(input.role !== undefined ? { role: input.role } : {}),
        capabilities: input.capabilities,
        priority: input.priority,
        dependsOn,
        resources: input.resources,
        maxAttempts: input.maxAttempts,
        ...(input.timeout !== undefined ? { timeout: parseDuration(input.timeout) } : {}),
        ...(input.budget !== undefined ? { budget: input.budget } : {}),
        tags: input.tags,
        source: input.source,
        ...(input.dedupeKey !== undefined ? { dedupeKey: input.dedupeKey } : {}),
        ...(input.branch !== undefined ? { branch: input.branch } : {}),
        ...(approvalOf ? { approval: approvalOf } : {}),
      },
      ctx.by,
      at,
    );
    if (approval === 'pending') task.history[0]!.why = 'added; waits for approval';
    const checked = Task.safeParse(task);
    if (!checked.success) {
      throw invalidInput(
        `invalid task "${oneLine(input.title, 40)}": ${describeZodError(checked.error)}`,
        checked.error.issues,
      );
    }
    return task;
  });
  const pending = new Map(drafts.map((t) => [t.id, t]));
  assertNoCycle(ctx.view, pending);
  // A task whose dependencies are all done (or that has none) goes straight to ready unless held.
  const final = drafts.map((task, i) => {
    const ready =
      !inputs[i]!.hold &&
      approval !== 'pending' &&
      task.dependsOn.every((d) => (pending.get(d) ? false : depsDone(ctx.view, { dependsOn: [d] })));
    return ready
      ? {
          ...task,
          status: 'ready' as const,
          history: [
            ...task.history,
            { from: 'backlog' as const, to: 'ready' as const, by: ctx.by, at, why: 'no dependencies left' },
          ],
        }
      : task;
  });
  checkTaskLimits(
    ctx.view,
    ctx.policies.limits,
    final,
    undefined,
    inputs.length === 1 ? 'the task' : 'the import',
  );
  return {
    change: {
      op: inputs.length === 1 ? 'add' : 'import',
      by: ctx.by,
      tasks: final,
      counters: { task: counter },
    },
    result: final,
  };
}

/**
 * How tasks from outside are added: `pending`, they wait in the backlog for approval; `policy`, the
 * workspace's policy approved their source. Work the operator's own tools add has neither.
 */
export type ApprovalAtAdd = 'pending' | 'policy';

/**
 * What adding a keyed task did: made `task`, or found task `id`, which already had the key (`task`
 * is null only when that one was archived and its copy is no longer kept).
 */
export type AddOutcome =
  | { id: string; created: true; task: Task }
  | { id: string; created: false; task: Task | null };

/**
 * Add tasks in one change, each unless its dedupe key is taken (by a task on the board, an archived
 * one, or an earlier one of the same call): such a task changes nothing, and its result names the
 * task that has the key (`existing`; the caller reads it, which may be archived).
 */
export function planAddEach(
  ctx: Ctx,
  inputs: z.output<typeof TaskInput>[],
  knownAgentRoles: Set<string>,
  approval?: ApprovalAtAdd,
): Plan<({ task: Task } | { existing: string })[]> {
  const firstOf = new Map<string, number>();
  const fresh: z.output<typeof TaskInput>[] = [];
  const slots = inputs.map((input, i) => {
    const key = input.dedupeKey;
    if (key === undefined) return fresh.push(input) - 1;
    const holder = ctx.view.dedupe(key);
    if (holder !== undefined) return holder;
    const first = firstOf.get(key);
    if (first !== undefined) return inputs[first]!;
    firstOf.set(key, i);
    return fresh.push(input) - 1;
  });
  if (fresh.length === 0) return { change: null, result: slots.map((s) => ({ existing: s as string })) };
  const plan = planAdd(ctx, fresh, knownAgentRoles, approval);
  const made = (i: number) => plan.result[i]!;
  const result = slots.map((slot) =>
    typeof slot === 'number'
      ? { task: made(slot) }
      : typeof slot === 'string'
        ? { existing: slot }
        : { existing: made(fresh.indexOf(slot)).id },
  );
  return { change: plan.change, result };
}

/** What a task is given when it is added; everything else about it starts empty. */
export type TaskFields = Omit<
  Task,
  | 'id'
  | 'status'
  | 'agent'
  | 'lease'
  | 'attempts'
  | 'stalls'
  | 'notBefore'
  | 'result'
  | 'history'
  | 'createdAt'
  | 'updatedAt'
  | 'rev'
>;

/**
 * The one constructor of a new task: in the backlog, never attempted, its history one "added"
 * entry. `dreamos task add`, imports and the library all build tasks here (the tests too).
 */
export function newTask(id: string, fields: TaskFields, by: string, at: string): Task {
  return {
    id,
    ...fields,
    status: 'backlog',
    agent: null,
    lease: null,
    attempts: 0,
    stalls: 0,
    notBefore: null,
    result: null,
    history: [{ from: null, to: 'backlog', by, at, why: 'added' }],
    createdAt: at,
    updatedAt: at,
    rev: 0,
  };
}
