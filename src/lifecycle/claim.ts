/**
 * Claiming work: which ready task an agent may take (role, capabilities, resources, priority with
 * aging), the lease it holds while working, and what happens when a lease runs out.
 */
import type { Plan, StateView } from '../../state/backend.js';
import { type Lease, PRIORITIES, type Task } from '../../state/schemas.js';
import type { AgentConfig } from '../config.js';
import { conflict, invalidTransition } from '../errors.js';
import { type Ctx, iso, mustGet, rank, transition } from './context.js';
import { withFollowUps } from './follow-ups.js';

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
    // A task in review holds no resources: nobody works on it, and it may wait long.
    if (
      other.status === 'working' &&
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

const leaseEnd = (ctx: Ctx) => iso(new Date(ctx.now.getTime() + ctx.policies.leaseSeconds * 1000));

/**
 * The fencing token of a new claim of `task`. `rev` is the sequence number of the last change
 * recorded for the task, and every claim is such a change: a later claim always sees a `rev` at
 * least that of the earlier claim's change, so its token is higher, whatever happened between
 * (a retry, a stall, another agent, another process). See docs/decisions/lease-fencing.md.
 */
export function nextLeaseToken(task: Task): number {
  return Math.max(task.rev, task.lease?.token ?? 0) + 1;
}

/** The lease of a new claim of `task` by `agentId`, with a fresh fencing token. */
export function leaseFor(task: Task, agentId: string, ctx: Ctx): Lease {
  return { owner: agentId, expiresAt: leaseEnd(ctx), token: nextLeaseToken(task) };
}

/** The same lease (owner and token) running again from now. */
export function renewedLease(lease: Lease, ctx: Ctx): Lease {
  return { ...lease, expiresAt: leaseEnd(ctx) };
}

/** Whether the lease has run out by the plan's clock (it holds while `expiresAt` is still ahead). */
export const leaseExpired = (lease: Lease, ctx: Ctx) => Date.parse(lease.expiresAt) <= ctx.now.getTime();

/** Working tasks whose lease ran out go back to ready as a stall (or fail after too many stalls). */
export function expireLeases(ctx: Ctx): Task[] {
  const out: Task[] = [];
  for (const task of ctx.view.inStore('working')) {
    if (!task.lease || !leaseExpired(task.lease, ctx)) continue;
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
    lease: leaseFor(chosen, agent.id, ctx),
    attempts: chosen.attempts + 1,
    notBefore: null,
  });
  const others = expired.filter((t) => t.id !== claimed.id);
  return { change: withFollowUps(ctx, 'claim', [...others, claimed]), result: claimed };
}

/** Who reports on a working task: an agent with the lease it believes it holds, or the operator (no agent). */
export interface Holder {
  agent?: string | undefined;
  /** The fencing token of that agent's lease; callers from before fencing send none. */
  leaseToken?: number | undefined;
}

/**
 * Refuse a report on `task` from anyone but the agent holding its lease now: a lease of another
 * claim (another token), of another agent, or one that ran out by the plan's clock, even if nobody
 * has put the task back yet. The operator (no agent) may report on any working task.
 */
export function assertHolder(ctx: Ctx, task: Task, holder: Holder, action: string): void {
  if (task.status !== 'working')
    throw invalidTransition(`${task.id} is ${task.status}; only a working task can be ${action}`);
  const { agent, leaseToken } = holder;
  if (!agent) return;
  const lease = task.lease;
  if (leaseToken !== undefined && lease?.token !== leaseToken) {
    throw conflict(
      `${task.id} was claimed again${lease ? ` by ${lease.owner}${lease.token ? ` (lease ${lease.token})` : ''}` : ''}: lease ${leaseToken} of ${agent} is no longer held, so the task cannot be ${action} by it`,
    );
  }
  if (lease?.owner !== agent) {
    throw conflict(`${task.id} is held by ${lease?.owner ?? 'nobody'}, not ${agent}`);
  }
  if (leaseExpired(lease, ctx)) {
    throw conflict(
      `the lease of ${lease.owner} on ${task.id} expired at ${lease.expiresAt}: the task cannot be ${action} by it (it goes back to ready)`,
    );
  }
}

export function planRenew(ctx: Ctx, id: string, holder: Holder & { agent: string }): Plan<Task> {
  const task = mustGet(ctx.view, id);
  assertHolder(ctx, task, holder, 'renewed');
  // assertHolder has checked that the task has a lease held by this agent.
  const next = { ...task, lease: renewedLease(task.lease!, ctx), updatedAt: iso(ctx.now) };
  return { change: { op: 'renew', by: ctx.by, tasks: [next] }, result: next };
}
