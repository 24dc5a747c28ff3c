/**
 * What a previous run of an agent left when its orchestrator died: the program it was driving
 * (maybe still running) and the task it held. The program is stopped (after checking, through its
 * environment, that the pid still belongs to this agent) and the task resumes from its checkpoint.
 */
import { belongsTo, drivenProcesses, stopProcessGroup } from '../../agents/platform/process.js';
import { processAlive } from '../../state/proc.js';
import type { Task } from '../../state/schemas.js';
import type { Workspace } from '../workspace.js';
import { planAgentUpdate, planResume, type TakeResult } from './plans.js';

export type Leftover = TakeResult['leftovers'][number];

/** What recovery needs of the orchestrator. */
export interface LeftoverContext {
  readonly ws: Workspace;
  emit(event: { type: 'leftover'; agent: string; pid: number; task: string | null }): void;
  /** The task was taken back for the agent: run it (when the agent runs here). */
  resume(agentId: string, task: Task): void;
}

export async function recoverLeftover(ctx: LeftoverContext, leftover: Leftover): Promise<void> {
  const { ws } = ctx;
  // The recorded child, and any other process driven for this agent in this workspace (one may
  // have started just before its orchestrator died, too late to be recorded).
  const groups = new Map<number, number>();
  const child = leftover.child;
  // A group id of 0 or 1 would signal every process we may signal: a recorded one never is.
  if (child && child.pgid > 1 && processAlive(child.pid) && belongsTo(child.pid, leftover.agent, ws.home)) {
    groups.set(child.pgid, child.pid);
  }
  for (const { pid, pgid } of drivenProcesses(leftover.agent, ws.home))
    if (!groups.has(pgid)) groups.set(pgid, pid);
  for (const [pgid, pid] of groups) {
    ctx.emit({ type: 'leftover', agent: leftover.agent, pid, task: leftover.task });
    await stopProcessGroup(pgid, { graceMs: ws.config.policies.killGraceSeconds * 1000 });
  }
  await ws.apply((c) =>
    planAgentUpdate(c, leftover.agent, { child: null, task: null, waiting: null, status: 'idle' }),
  );
  const taskId = leftover.task;
  if (!taskId) return;
  const resumed = await ws.apply((c) => planResume(c, leftover.agent, taskId), leftover.agent);
  if (resumed) ctx.resume(leftover.agent, resumed);
}
