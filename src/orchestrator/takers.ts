/**
 * Why nobody can take a task. The scheduler hands a ready task only to an enabled, unpaused agent
 * that `mayTake` it (role and capabilities) and whose driver accepts it; this asks the same two
 * rules, agent by agent, and names the first one that no agent passes, so that work which would
 * wait for ever is said out loud instead. Pure: the agents' paused flags are passed in.
 */
import { driverAccepts } from '../../agents/drivers/accepts.js';
import type { StateView } from '../../state/backend.js';
import type { Task } from '../../state/schemas.js';
import type { AgentConfig } from '../config.js';
import { mayTake } from '../lifecycle/index.js';

export type NobodyTakesKind = 'role' | 'capability' | 'driver' | 'unavailable';

export interface NobodyTakes {
  /** Which rule no agent passes: role, capability, driver, or (all pass) paused or disabled. */
  kind: NobodyTakesKind;
  text: string;
  /** What the operator can do about it. */
  action: string;
  /** The agents that would take it if they were resumed or enabled. */
  agents: string[];
}

const list = (words: readonly string[]) => words.join(', ');
const plural = (n: number, one: string, many: string) => (n === 1 ? one : many);

export function whyNobodyTakes(
  task: Task,
  agents: readonly AgentConfig[],
  paused: (agentId: string) => boolean,
): NobodyTakes | null {
  const fit = agents.filter((a) => mayTake(a, task) && driverAccepts(a.driver, task));
  if (fit.some((a) => a.enabled && !paused(a.id))) return null;

  if (fit.length > 0) {
    const state = (a: AgentConfig) => (a.enabled ? 'paused' : 'disabled');
    const states = new Set(fit.map(state));
    const ids = fit.map((a) => a.id);
    const text =
      fit.length === 1
        ? `only ${ids[0]} may take it, and it is ${state(fit[0]!)}`
        : states.size === 1
          ? `only ${list(ids)} may take it, and they are all ${state(fit[0]!)}`
          : `only ${list(fit.map((a) => `${a.id} (${state(a)})`))} may take it`;
    const resume = fit.filter((a) => a.enabled).map((a) => `\`dreamos agent resume ${a.id}\``);
    const enable = fit.filter((a) => !a.enabled).map((a) => a.id);
    const action = [
      ...(resume.length ? [resume.join(' or ')] : []),
      ...(enable.length ? [`set "enabled": true for ${list(enable)} in .dreamos/config.json`] : []),
    ].join(', or ');
    return { kind: 'unavailable', text, action, agents: ids };
  }

  // The role rule alone (capabilities set aside), then role and capabilities, then the driver.
  const withoutCapabilities = { ...task, capabilities: [] };
  const byRole = agents.filter((a) => mayTake(a, withoutCapabilities));
  const who = task.role ? `no agent with role ${task.role}` : 'no agent';
  if (byRole.length === 0) {
    return {
      kind: 'role',
      text: `${who} exists`,
      action: `add an agent with role ${task.role} to .dreamos/config.json, or \`dreamos task edit ${task.id} --role ROLE\``,
      agents: [],
    };
  }
  if (!byRole.some((a) => mayTake(a, task))) {
    const missing = task.capabilities.filter((c) => {
      const one = { ...task, capabilities: [c] };
      return !byRole.some((a) => mayTake(a, one));
    });
    const text = missing.length
      ? `needs ${plural(missing.length, 'capability', 'capabilities')} ${list(missing)}, which ${who} has`
      : `needs capabilities ${list(task.capabilities)} together, which ${who} has`;
    return {
      kind: 'capability',
      text,
      action: `add the capability to an agent's "capabilities" in .dreamos/config.json, or \`dreamos task cancel ${task.id}\``,
      agents: [],
    };
  }
  const kinds = [...new Set(byRole.filter((a) => mayTake(a, task)).map((a) => a.driver.kind))];
  const prompt = !task.run?.trim();
  return {
    kind: 'driver',
    text:
      prompt && kinds.every((k) => k === 'shell')
        ? `${who} takes prompt tasks (the shell driver runs only a task's \`run\` command)`
        : `${who} has a driver that takes it (${plural(kinds.length, 'driver', 'drivers')} ${list(kinds)})`,
    action: prompt
      ? `give an agent a command or llm driver in .dreamos/config.json (docs/drivers.md), or \`dreamos task edit ${task.id} --run CMD\``
      : 'give an agent a driver that takes it in .dreamos/config.json (docs/drivers.md)',
    agents: [],
  };
}

/** The agents' paused flags, as whyNobodyTakes reads them. */
export const pausedIn =
  (view: StateView) =>
  (agentId: string): boolean =>
    view.agentState(agentId)?.paused ?? false;

/**
 * The tasks among these that nobody can take now (only ready and backlog tasks wait for an agent),
 * grouped by why, each group with its ids in order.
 */
export function untakeable(
  tasks: readonly Task[],
  agents: readonly AgentConfig[],
  view: StateView,
): Array<NobodyTakes & { tasks: string[] }> {
  const groups = new Map<string, NobodyTakes & { tasks: string[] }>();
  const paused = pausedIn(view);
  for (const task of tasks) {
    if (task.status !== 'ready' && task.status !== 'backlog') continue;
    const why = whyNobodyTakes(task, agents, paused);
    if (!why) continue;
    const group = groups.get(why.text);
    if (group) group.tasks.push(task.id);
    else groups.set(why.text, { ...why, tasks: [task.id] });
  }
  return [...groups.values()];
}

/** One line for a group: "nobody can take 3 tasks (T-1, T-2, T-3): no agent takes prompt tasks …". */
export function nobodyLine(group: NobodyTakes & { tasks: string[] }, shown = 3): string {
  const ids = group.tasks;
  return `nobody can take ${ids.length} task${ids.length === 1 ? '' : 's'} (${ids.slice(0, shown).join(', ')}${ids.length > shown ? ', …' : ''}): ${group.text}`;
}
