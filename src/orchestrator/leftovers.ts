/**
 * What a previous run of an agent left when its orchestrator died: the program it was driving
 * (maybe still running) and the task it held. A live tmux session still running the task is
 * adopted, its lease kept; otherwise the program is stopped (after checking, through its
 * environment, that the pid still belongs to this agent), a tmux server of the agent is stopped by
 * its socket's path, and the task resumes from its checkpoint.
 */

import fs from 'node:fs';
import path from 'node:path';
import { belongsTo, drivenProcesses, stopProcessGroup } from '../../agents/platform/process.js';
import { sessionsDir } from '../../agents/sessions/server.js';
import {
  stopTmux,
  tmuxHolds,
  tmuxServer,
  tmuxSocketAgent,
  tmuxSocketPath,
} from '../../agents/sessions/tmux.js';
import { processAlive } from '../../state/proc.js';
import type { Task } from '../../state/schemas.js';
import type { Workspace } from '../workspace.js';
import { planAdopt, planAgentUpdate, planResume, type TakeResult } from './plans.js';

export type Leftover = TakeResult['leftovers'][number];

/** What recovery needs of the orchestrator. */
export interface LeftoverContext {
  readonly ws: Workspace;
  emit(event: { type: 'leftover'; agent: string; pid: number; task: string | null }): void;
  /** The task was taken back for the agent: run it (when the agent runs here). */
  resume(agentId: string, task: Task): void;
  /** Whether the agent's driver here can adopt a live session. */
  canAdopt(agentId: string): boolean;
  /** The task's live session is kept: follow it (the agent runs here). */
  adopt(agentId: string, task: Task): void;
}

export async function recoverLeftover(ctx: LeftoverContext, leftover: Leftover): Promise<void> {
  const { ws } = ctx;
  const socket = tmuxSocketPath(ws.home, leftover.agent);
  const taskId = leftover.task;
  if (taskId && ctx.canAdopt(leftover.agent) && tmuxHolds(socket, leftover.agent, ws.home, taskId)) {
    const adopted = await ws.apply((c) => planAdopt(c, leftover.agent, taskId), leftover.agent);
    if (adopted) {
      ctx.adopt(leftover.agent, adopted);
      return;
    }
  }
  stopTmux(socket);
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
  if (!taskId) return;
  const resumed = await ws.apply((c) => planResume(c, leftover.agent, taskId), leftover.agent);
  if (resumed) ctx.resume(leftover.agent, resumed);
}

/**
 * The tmux servers of the workspace's sessions whose agent has no working task they run (found by
 * their socket's path in the sessions folder, never by a session's name): what a run left when its
 * task was finished, cancelled or taken elsewhere while no orchestrator followed it.
 */
export function leftoverTmux(ws: Workspace): Array<{ agent: string; socket: string; pid: number }> {
  const dir = sessionsDir(ws.home);
  let files: string[];
  try {
    files = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: Array<{ agent: string; socket: string; pid: number }> = [];
  for (const file of files) {
    const agent = tmuxSocketAgent(file);
    const socket = path.join(dir, file);
    if (agent === null || !fs.lstatSync(socket, { throwIfNoEntry: false })?.isSocket()) continue;
    const task = ws.view.agentState(agent)?.task;
    const held = task && ws.view.task(task)?.status === 'working' && tmuxHolds(socket, agent, ws.home, task);
    const pid = held ? null : tmuxServer(socket);
    if (pid !== null) out.push({ agent, socket, pid });
  }
  return out;
}

/** Stop the leftover tmux servers of `agents` (this orchestrator's, after their leftovers were recovered). */
export function stopLeftoverTmux(
  ws: Workspace,
  agents: readonly string[],
  emit: LeftoverContext['emit'],
): void {
  for (const { agent, socket, pid } of leftoverTmux(ws)) {
    if (!agents.includes(agent)) continue;
    emit({ type: 'leftover', agent, pid, task: null });
    stopTmux(socket);
  }
}
