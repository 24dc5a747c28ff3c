/**
 * Who runs the agents: the orchestrators named in the agents' states, and whether each is alive. An
 * orchestrator on this host is alive while its process exists (even a stopped or hung one: it still
 * holds its agents); one on another host, while its heartbeat is fresh. A released agent (a clean
 * stop) names none. Computed from the state view plus a signal-0 probe of local pids.
 */
import { driverAccepts } from '../agents/drivers/accepts.js';
import type { StateView } from '../state/backend.js';
import { processAlive } from '../state/proc.js';
import type { AgentState } from '../state/schemas.js';
import type { AgentConfig, Policies } from './config.js';
import { runLive } from './drift/index.js';
import { mayTake } from './lifecycle/index.js';
import { HOST } from './orchestrator/plans.js';

export interface Runner {
  pid: number;
  host: string;
  /** This very process. */
  here: boolean;
  agents: string[];
}

/** The runner of this agent, when it is provably dead: it ran on this host and its process is gone. */
export function runnerDied(state: AgentState | undefined): boolean {
  const runner = state?.runner;
  return Boolean(runner && runner.host === HOST && !processAlive(runner.pid));
}

/** The live orchestrators, each with the agents it runs. */
export function liveRunners(view: StateView, policies: Policies, now: Date): Runner[] {
  const out = new Map<string, Runner>();
  for (const state of view.agentStates()) {
    const runner = state.runner;
    if (!runner) continue;
    const alive = runner.host === HOST ? processAlive(runner.pid) : runLive(state, now, policies);
    if (!alive) continue;
    const key = `${runner.host}:${runner.pid}`;
    const found = out.get(key);
    if (found) found.agents.push(state.id);
    else
      out.set(key, {
        pid: runner.pid,
        host: runner.host,
        here: runner.host === HOST && runner.pid === process.pid,
        agents: [state.id],
      });
  }
  return [...out.values()];
}

/** "this process", "pid 123", "pid 123 on host-b": where the agents run, in a few words. */
export function describeRunners(runners: readonly Runner[]): string {
  if (runners.length === 0) return 'nobody runs the agents';
  const names = runners.map((r) =>
    r.here ? 'this process' : `pid ${r.pid}${r.host === HOST ? '' : ` on ${r.host}`}`,
  );
  return `agents run by ${names.join(', ')}`;
}

/** The ready tasks that only agents nobody runs may take, and those agents (in config order). */
export interface Unrun {
  tasks: string[];
  agents: string[];
}

/**
 * Ready tasks that an enabled, unpaused agent may take, but none of those agents is run by a live
 * orchestrator: work that waits until someone starts one. (Work that no agent may take, or only a
 * paused one, is another matter: starting an orchestrator would not help.)
 */
export function unrun(view: StateView, agents: readonly AgentConfig[], runners: readonly Runner[]): Unrun {
  const running = new Set(runners.flatMap((r) => r.agents));
  const able = agents.filter((a) => a.enabled && !view.agentState(a.id)?.paused);
  const out: Unrun = { tasks: [], agents: [] };
  const needed = new Set<string>();
  for (const task of view.inStore('ready')) {
    const fit = able.filter((a) => mayTake(a, task) && driverAccepts(a.driver, task));
    if (fit.length === 0 || fit.some((a) => running.has(a.id))) continue;
    out.tasks.push(task.id);
    for (const a of fit) needed.add(a.id);
  }
  out.agents = agents.filter((a) => needed.has(a.id)).map((a) => a.id);
  return out;
}

/** Ready tasks that an enabled, unpaused agent may take: the work an orchestrator would start now. */
export function startable(view: StateView, agents: readonly AgentConfig[]): number {
  return unrun(view, agents, []).tasks.length;
}

/** "nobody runs agent-8: 1 ready task waits", with what to start about it. */
export function describeUnrun(waiting: Unrun): { text: string; action: string } {
  const n = waiting.tasks.length;
  const ids = waiting.agents;
  const who = ids.length > 3 ? `${ids.slice(0, 3).join(', ')}, …` : ids.join(', ');
  return {
    text: `nobody runs ${who}: ${n} ready task${n === 1 ? ' waits' : 's wait'}`,
    action: `start \`dreamos run --agents ${ids.join(',')}\``,
  };
}
