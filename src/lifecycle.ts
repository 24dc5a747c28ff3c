/**
 * The task lifecycle (SPEC §3) as pure planners: each takes the current state and returns the change
 * to record (whole new task states) and a result. They run inside a transaction, so what they read
 * is fresh and what they return is journaled atomically. No I/O here.
 */
import type { Change, Plan, StateView } from '../state/backend.js';
import { idOf, PRIORITIES, type Priority, type Status, Task, TaskId } from '../state/schemas.js';
import { describeZodError } from '../state/store.js';
import type { AgentConfig, Policies } from './config.js';
import { conflict, DreamError, invalidInput, invalidTransition, notFound } from './errors.js';
import { checkTaskLimits } from './limits.js';
import { invisibleIn } from './sanitize.js';

export interface Ctx {
  view: StateView;
  now: Date;
  by: string;
  policies: Policies;
  random?: () => number;
}

export const taskIdOf = (n: number) => idOf('T', n);

const iso = (d: Date) => d.toISOString();
const TERMINAL: readonly Status[] = ['done', 'failed', 'cancelled'];
/** What a retry or an operator's move out of failed/cancelled resets: the task starts over. */
const FRESH_ATTEMPT = { attempts: 0, stalls: 0, notBefore: null, lease: null, agent: null } as const;

/** Refuse a malformed task id with a clear message. */
export function checkTaskId(id: string): void {
  if (!TaskId.safeParse(id).success)
    throw invalidInput(`not a task id: ${JSON.stringify(id).slice(0, 60)} (ids look like T-0001A)`);
}
export const isTerminal = (s: Status) => TERMINAL.includes(s);

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

function mustGet(view: StateView, id: string): Task {
  const task = view.task(id);
  if (!task) throw notFound(`no task ${id}`);
  return task;
}

/** Dependencies are met when each is done. */
export function depsDone(view: StateView, task: Pick<Task, 'dependsOn'>): boolean {
  return task.dependsOn.every((id) => view.task(id)?.status === 'done');
}

/** Refuse a dependency graph with a cycle, given tasks about to be written (which override the view). */
export function assertNoCycle(view: StateView, pending: Map<string, Pick<Task, 'id' | 'dependsOn'>>): void {
  const deps = (id: string) => pending.get(id)?.dependsOn ?? view.task(id)?.dependsOn ?? [];
  const state = new Map<string, 1 | 2>();
  const visit = (id: string, path: string[]): void => {
    const mark = state.get(id);
    if (mark === 2) return;
    if (mark === 1) {
      const cycle = [...path.slice(path.indexOf(id)), id];
      throw new DreamError('E_CYCLE', `dependency cycle refused: ${cycle.join(' -> ')}`, { cycle });
    }
    state.set(id, 1);
    for (const dep of deps(id)) visit(dep, [...path, id]);
    state.set(id, 2);
  };
  for (const id of pending.keys()) visit(id, []);
}

/** Backlog tasks whose dependencies became done through `changed`, moved to ready. */
export function promoteDependents(view: StateView, changed: Map<string, Task>, ctx: Ctx): Task[] {
  const doneNow = new Set([...changed.values()].filter((t) => t.status === 'done').map((t) => t.id));
  if (doneNow.size === 0) return [];
  const isDone = (id: string) =>
    changed.get(id)?.status === 'done' || (!changed.has(id) && view.task(id)?.status === 'done');
  const promoted: Task[] = [];
  for (const task of view.inStore('backlog')) {
    if (changed.has(task.id) || !task.dependsOn.some((d) => doneNow.has(d))) continue;
    if (task.dependsOn.every(isDone)) promoted.push(transition(task, 'ready', ctx, 'dependencies done'));
  }
  return promoted;
}

/** Completed tasks past the policy's keep limit, oldest first, never one a live task depends on. */
export function archivable(view: StateView, policies: Policies, extraCompleted: number): string[] {
  const keep = policies.keepCompleted;
  const size = view.storeSize('completed') + extraCompleted;
  if (size <= keep + Math.max(10, Math.floor(keep / 10))) return [];
  const needed = new Set<string>();
  for (const store of ['backlog', 'ready', 'working'] as const) {
    for (const t of view.inStore(store)) for (const d of t.dependsOn) needed.add(d);
  }
  return [...view.inStore('completed')]
    .filter((t) => !needed.has(t.id))
    .sort((a, b) => a.updatedAt.localeCompare(b.updatedAt))
    .slice(0, size - keep)
    .map((t) => t.id);
}

// ---------------------------------------------------------------- claim

const rank = (p: Priority) => PRIORITIES.indexOf(p);

/** Conservative overlap of two file globs: the literal parts before the first wildcard are compared. */
export function globsOverlap(a: string, b: string): boolean {
  const literal = (g: string) => g.replace(/^\.\//, '').split(/[*?[{]/)[0] ?? '';
  const la = literal(a);
  const lb = literal(b);
  const wild = (g: string) => /[*?[{]/.test(g);
  if (!wild(a) && !wild(b)) return la === lb;
  if (!wild(a)) return la.startsWith(lb);
  if (!wild(b)) return lb.startsWith(la);
  return la.startsWith(lb) || lb.startsWith(la);
}

export function resourcesBusy(view: StateView, task: Task): Task | undefined {
  if (task.resources.length === 0) return undefined;
  for (const other of view.inStore('working')) {
    if (
      other.id !== task.id &&
      other.resources.some((r) => task.resources.some((mine) => globsOverlap(r, mine)))
    ) {
      return other;
    }
  }
  return undefined;
}

export function mayTake(agent: AgentConfig, task: Task): boolean {
  if (task.role && task.role !== agent.role && task.role !== agent.id) return false;
  return task.capabilities.every((c) => agent.capabilities.includes(c));
}

/**
 * The best ready task this agent may take now: by priority with aging (a task gains one level per
 * `agingSecondsPerLevel` waited), then by age; never one whose resources overlap a running task.
 */
export function pickTask(
  view: StateView,
  agent: AgentConfig,
  ctx: Ctx,
  accept: (t: Task) => boolean = () => true,
): Task | undefined {
  let best: { task: Task; score: number; since: string } | undefined;
  const now = ctx.now.getTime();
  for (const priority of PRIORITIES) {
    for (const task of view.readyByPriority(priority)) {
      if (task.notBefore && Date.parse(task.notBefore) > now) continue;
      if (!mayTake(agent, task) || !accept(task) || resourcesBusy(view, task)) continue;
      const since = task.history[task.history.length - 1]?.at ?? task.updatedAt;
      const waited = (now - Date.parse(since)) / 1000;
      const score = rank(priority) - Math.floor(waited / ctx.policies.agingSecondsPerLevel);
      if (!best || score < best.score || (score === best.score && since < best.since))
        best = { task, score, since };
      break; // queues are oldest first: later entries of this priority cannot score better
    }
  }
  return best?.task;
}

export function leaseFor(agentId: string, ctx: Ctx) {
  return { owner: agentId, expiresAt: iso(new Date(ctx.now.getTime() + ctx.policies.leaseSeconds * 1000)) };
}

/** Working tasks whose lease ran out go back to ready as a stall (or fail after too many stalls). */
export function expireLeases(ctx: Ctx): Task[] {
  const out: Task[] = [];
  for (const task of ctx.view.inStore('working')) {
    if (!task.lease || Date.parse(task.lease.expiresAt) > ctx.now.getTime()) continue;
    const stalls = task.stalls + 1;
    const why = `lease of ${task.lease.owner} expired at ${task.lease.expiresAt} (stall ${stalls})`;
    out.push(
      stalls >= ctx.policies.maxStalls
        ? transition(task, 'failed', ctx, `${why}; too many stalls`, {
            stalls,
            lease: null,
            result: { ok: false, error: why, errorCode: 'E_STALLED' },
          })
        : transition(task, 'ready', ctx, why, { stalls, lease: null, agent: null }),
    );
  }
  return out;
}

// ---------------------------------------------------------------- planners

export function withFollowUps(ctx: Ctx, op: string, tasks: Task[], archived: string[] = []): Change {
  const changed = new Map(tasks.map((t) => [t.id, t]));
  const promoted = promoteDependents(ctx.view, changed, ctx);
  const all = [...tasks, ...promoted];
  const completedDelta = all.filter(
    (t) => isTerminal(t.status) && !isTerminal(ctx.view.task(t.id)?.status ?? 'ready'),
  ).length;
  const toArchive = [
    ...archived,
    ...archivable(ctx.view, ctx.policies, completedDelta).filter((id) => !changed.has(id)),
  ];
  return { op, by: ctx.by, tasks: all, ...(toArchive.length ? { archived: toArchive } : {}) };
}

export function planPromote(ctx: Ctx, id: string, why?: string): Plan<Task> {
  const task = mustGet(ctx.view, id);
  if (task.status !== 'backlog')
    throw invalidTransition(`${id} is ${task.status}; only a backlog task can be promoted`);
  const next = transition(
    task,
    'ready',
    ctx,
    why ??
      (depsDone(ctx.view, task) ? 'promoted' : 'promoted by the operator before its dependencies were done'),
  );
  return { change: { op: 'promote', by: ctx.by, tasks: [next] }, result: next };
}

export function planClaim(ctx: Ctx, agent: AgentConfig, taskId?: string): Plan<Task | null> {
  const expired = expireLeases(ctx);
  const expiredIds = new Map(expired.map((t) => [t.id, t]));
  let chosen: Task | undefined;
  if (taskId) {
    const task = expiredIds.get(taskId) ?? mustGet(ctx.view, taskId);
    if (task.status !== 'ready')
      throw invalidTransition(`${taskId} is ${task.status}; only a ready task can be claimed`);
    if (task.notBefore && Date.parse(task.notBefore) > ctx.now.getTime())
      throw conflict(
        `${taskId} waits to retry until ${task.notBefore} (\`dreamos task retry ${taskId}\` retries it now)`,
      );
    if (!mayTake(agent, task))
      throw conflict(
        `${agent.id} (${agent.role}) may not take ${taskId}: it needs ${task.role ? `role ${task.role}` : `capabilities ${task.capabilities.join(', ')}`}`,
      );
    const busy = resourcesBusy(ctx.view, task);
    if (busy) throw conflict(`${taskId} touches resources that ${busy.id} is working on`);
    chosen = task;
  } else {
    chosen = pickTask(ctx.view, agent, ctx);
    // A task whose lease just expired is ready again, but is not in the view's ready queue yet.
    if (!chosen) chosen = expired.find((t) => t.status === 'ready' && mayTake(agent, t));
  }
  if (!chosen) {
    return { change: expired.length ? withFollowUps(ctx, 'expire', expired) : null, result: null };
  }
  const claimed = transition(chosen, 'working', ctx, `claimed by ${agent.id}`, {
    agent: agent.id,
    lease: leaseFor(agent.id, ctx),
    attempts: chosen.attempts + 1,
    notBefore: null,
  });
  const others = expired.filter((t) => t.id !== claimed.id);
  return { change: withFollowUps(ctx, 'claim', [...others, claimed]), result: claimed };
}

function assertHolder(task: Task, agentId: string | undefined, action: string): void {
  if (task.status !== 'working')
    throw invalidTransition(`${task.id} is ${task.status}; only a working task can be ${action}`);
  if (agentId && task.lease?.owner !== agentId) {
    throw conflict(`${task.id} is held by ${task.lease?.owner ?? 'nobody'}, not ${agentId}`);
  }
}

export function planRenew(ctx: Ctx, id: string, agentId: string): Plan<Task> {
  const task = mustGet(ctx.view, id);
  assertHolder(task, agentId, 'renewed');
  const next = { ...task, lease: leaseFor(agentId, ctx), updatedAt: iso(ctx.now) };
  return { change: { op: 'renew', by: ctx.by, tasks: [next] }, result: next };
}

export interface CompleteInput {
  agent?: string;
  summary?: string;
  exitCode?: number | null;
  usage?: { inputTokens: number; outputTokens: number; usd?: number };
  log?: string;
}

export function planComplete(ctx: Ctx, id: string, input: CompleteInput): Plan<Task> {
  const task = mustGet(ctx.view, id);
  assertHolder(task, input.agent, 'completed');
  const next = transition(task, 'done', ctx, input.summary ? input.summary.slice(0, 200) : 'completed', {
    lease: null,
    result: {
      ok: true,
      ...(input.summary !== undefined ? { summary: input.summary } : {}),
      ...(input.exitCode !== undefined ? { exitCode: input.exitCode } : {}),
      ...(input.usage ? { usage: input.usage } : {}),
      ...(input.log ? { log: input.log } : {}),
    },
  });
  return { change: withFollowUps(ctx, 'complete', [next]), result: next };
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
  assertHolder(task, input.agent, 'failed');
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
  const to = depsDone(ctx.view, task) ? 'ready' : 'backlog';
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
