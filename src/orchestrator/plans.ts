/**
 * Planners for what the orchestrator records: taking and releasing agents, heartbeats, agent status,
 * checkpoints, and resuming or requeueing the task of an agent whose previous run died.
 */
import { hostname } from 'node:os';
import type { Plan } from '../../state/backend.js';
import { processAlive } from '../../state/proc.js';
import { type AgentState, type Checkpoint, idOf, type Task } from '../../state/schemas.js';
import {
  type Ctx,
  leaseExpired,
  leaseFor,
  renewedLease,
  transition,
  withFollowUps,
} from '../lifecycle/index.js';
import { defaultAgentState } from '../mail.js';

export const HOST = hostname();

export const checkpointIdOf = (n: number) => idOf('C', n);

/** Is this agent run by a live orchestrator other than us? */
export function runBySomeoneElse(state: AgentState | undefined, now: Date, staleMs: number): boolean {
  const runner = state?.runner;
  if (!runner || (runner.pid === process.pid && runner.host === HOST)) return false;
  if (runner.host === HOST) return processAlive(runner.pid);
  return state.heartbeatAt !== null && now.getTime() - Date.parse(state.heartbeatAt) < staleMs;
}

/**
 * How the orchestrator of an agent is gone, when it provably is: it released the agent (a clean
 * stop), or it ran on this host and its process no longer exists. Null while it may still run it,
 * including an orchestrator on another host that is merely silent (it may come back).
 */
export function runnerGone(state: AgentState | undefined): 'released' | 'died' | null {
  const runner = state?.runner;
  if (!runner) return 'released';
  if (runner.pid === process.pid && runner.host === HOST) return null;
  return runner.host === HOST && !processAlive(runner.pid) ? 'died' : null;
}

export interface TakeResult {
  taken: string[];
  /** Agents whose previous run left a child process (to be stopped) and a task (to be resumed). */
  leftovers: Array<{ agent: string; child: AgentState['child']; task: string | null }>;
}

/** Take every free agent of `ids` for this process: an agent runs in one place at a time. */
export function planTakeAgents(
  ctx: Ctx,
  ids: readonly string[],
  staleMs: number,
  startedAt: string,
): Plan<TakeResult> {
  const at = ctx.now.toISOString();
  const states: AgentState[] = [];
  const result: TakeResult = { taken: [], leftovers: [] };
  for (const id of ids) {
    const current = ctx.view.agentState(id) ?? defaultAgentState(id, ctx.now);
    if (runBySomeoneElse(current, ctx.now, staleMs)) continue;
    result.taken.push(id);
    // A task leased to this agent is its leftover even when the agent's state does not name it (its
    // orchestrator died between the claim and recording the run): resume it now, not after the lease.
    const task =
      current.task ?? [...ctx.view.inStore('working')].find((t) => t.lease?.owner === id)?.id ?? null;
    if (current.child || task) result.leftovers.push({ agent: id, child: current.child, task });
    states.push({
      ...current,
      runner: { pid: process.pid, host: HOST, startedAt },
      status: current.paused ? 'paused' : current.task ? current.status : 'idle',
      heartbeatAt: at,
      updatedAt: at,
    });
  }
  return { change: states.length ? { op: 'agents-take', by: ctx.by, agents: states } : null, result };
}

/** An orchestrator that stops releases its agents: no runner, no child, no task, stopped. */
export function planReleaseAgents(ctx: Ctx, ids: readonly string[]): Plan<void> {
  const at = ctx.now.toISOString();
  return {
    change: {
      op: 'agents-release',
      by: 'orchestrator',
      agents: ids.map((id) => ({
        ...(ctx.view.agentState(id) ?? defaultAgentState(id, ctx.now)),
        runner: null,
        child: null,
        task: null,
        status: 'stopped' as const,
        updatedAt: at,
      })),
    },
    result: undefined,
  };
}

export function planAgentUpdate(
  ctx: Ctx,
  id: string,
  patch: Partial<AgentState>,
  op = 'agent-state',
): Plan<AgentState> {
  const current = ctx.view.agentState(id) ?? defaultAgentState(id, ctx.now);
  const next = { ...current, ...patch, updatedAt: ctx.now.toISOString() };
  return { change: { op, by: ctx.by, agents: [next] }, result: next };
}

/** What an agent is running, as its heartbeat tells: the task and the fencing token of its claim. */
export interface HeldLease {
  task: string;
  /** The claim's `lease.token` (none for a lease from before fencing). */
  token: number | undefined;
}

/** An agent's task as its heartbeat left it, and whether the heartbeat renewed its lease. */
export interface HeartbeatTask {
  task: Task | null;
  renewed: boolean;
}

/**
 * The heartbeat of every agent an orchestrator runs, in one change: each agent is alive, and the
 * lease of its task is renewed, if it is still the lease of the agent's claim (same token) and has
 * not run out (a late renewal must not revive a lease another process may already act on). Returns
 * each agent's task as it is now and whether it was renewed, so the loop can stop a run whose task
 * was cancelled or taken away.
 */
export function planHeartbeat(
  ctx: Ctx,
  running: ReadonlyMap<string, HeldLease | null>,
): Plan<Map<string, HeartbeatTask>> {
  const at = ctx.now.toISOString();
  const agents: AgentState[] = [];
  const tasks: Task[] = [];
  const result = new Map<string, HeartbeatTask>();
  for (const [agentId, held] of running) {
    const current = ctx.view.agentState(agentId) ?? defaultAgentState(agentId, ctx.now);
    agents.push({ ...current, heartbeatAt: at, updatedAt: at });
    const task = held ? (ctx.view.task(held.task) ?? null) : null;
    const lease = task?.lease;
    if (
      task?.status === 'working' &&
      lease?.owner === agentId &&
      lease.token === held?.token &&
      !leaseExpired(lease, ctx)
    ) {
      const renewed = { ...task, lease: renewedLease(lease, ctx), updatedAt: at };
      tasks.push(renewed);
      result.set(agentId, { task: renewed, renewed: true });
    } else {
      result.set(agentId, { task, renewed: false });
    }
  }
  return {
    change: agents.length
      ? { op: 'heartbeat', by: 'orchestrator', agents, ...(tasks.length ? { tasks } : {}) }
      : null,
    result,
  };
}

export interface CheckpointInput {
  task: string | null;
  step?: string;
  progress?: number | null;
  summary?: string;
  sessionId?: string;
  gitCommit?: string;
  mailboxPosition?: string;
  data?: Record<string, unknown>;
}

export function planCheckpoint(ctx: Ctx, agentId: string, input: CheckpointInput): Plan<Checkpoint> {
  const counter = ctx.view.counters.checkpoint + 1;
  const checkpoint: Checkpoint = {
    id: checkpointIdOf(counter),
    agent: agentId,
    task: input.task,
    progress: input.progress ?? null,
    ...(input.step !== undefined ? { step: input.step } : {}),
    ...(input.summary !== undefined ? { summary: input.summary } : {}),
    ...(input.sessionId !== undefined ? { sessionId: input.sessionId } : {}),
    ...(input.gitCommit !== undefined ? { gitCommit: input.gitCommit } : {}),
    ...(input.mailboxPosition !== undefined ? { mailboxPosition: input.mailboxPosition } : {}),
    ...(input.data !== undefined ? { data: input.data } : {}),
    at: ctx.now.toISOString(),
    rev: 0,
  };
  return {
    change: { op: 'checkpoint', by: agentId, checkpoints: [checkpoint], counters: { checkpoint: counter } },
    result: checkpoint,
  };
}

/**
 * The task an agent held when its previous run died: taken back by the same agent to resume from its
 * checkpoint (counted as an attempt, so a task that kills its orchestrator cannot loop forever), or
 * failed when no attempts remain. Tasks that moved on meanwhile are left alone.
 */
export function planResume(ctx: Ctx, agentId: string, taskId: string): Plan<Task | null> {
  const task = ctx.view.task(taskId);
  if (task?.status !== 'working' || task.lease?.owner !== agentId) {
    return { change: null, result: null };
  }
  if (task.attempts >= task.maxAttempts) {
    const failed = transition(
      task,
      'failed',
      ctx,
      'the orchestrator running it died and no attempts remain',
      {
        lease: null,
        result: { ok: false, error: 'the orchestrator running it died', errorCode: 'E_CRASH' },
      },
    );
    return { change: withFollowUps(ctx, 'fail', [failed]), result: null };
  }
  const resumed = transition(task, 'working', ctx, 'resumed from its checkpoint after a restart', {
    attempts: task.attempts + 1,
    lease: leaseFor(task, agentId, ctx),
  });
  return { change: { op: 'resume', by: agentId, tasks: [resumed] }, result: resumed };
}

/**
 * The live session of a dead orchestrator's run (a tmux backend) is taken over: the task stays with
 * the same lease, its token unchanged (the program reports with it), renewed from now. Only while
 * that lease still holds: one that ran out may already have been acted on (lease-fencing.md).
 */
export function planAdopt(ctx: Ctx, agentId: string, taskId: string): Plan<Task | null> {
  const task = ctx.view.task(taskId);
  const lease = task?.lease;
  if (task?.status !== 'working' || !lease || lease.owner !== agentId || leaseExpired(lease, ctx))
    return { change: null, result: null };
  const adopted = transition(task, 'working', ctx, 'its live session adopted after a restart', {
    lease: renewedLease(lease, ctx),
  });
  return { change: { op: 'resume', by: agentId, tasks: [adopted] }, result: adopted };
}

/**
 * A stop asked for (the orchestrator shutting down, the agent restarted): the running task goes back
 * to ready (its checkpoint stays), counted neither as a stall nor as an attempt, for the task did not
 * fail: it was interrupted.
 */
export function planRequeue(
  ctx: Ctx,
  agentId: string,
  taskId: string,
  why: string,
  token?: number,
): Plan<Task | null> {
  const task = ctx.view.task(taskId);
  if (task?.status !== 'working' || task.lease?.owner !== agentId) return { change: null, result: null };
  // Claimed again meanwhile (a newer lease): that claim is not this run's to put back.
  if (token !== undefined && task.lease.token !== token) return { change: null, result: null };
  const next = transition(task, 'ready', ctx, why, {
    lease: null,
    agent: null,
    attempts: Math.max(0, task.attempts - 1),
  });
  return { change: { op: 'requeue', by: agentId, tasks: [next] }, result: next };
}
