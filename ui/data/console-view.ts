/**
 * What the console shows, read from the workspace in one pass: agents (configuration joined with
 * runtime state and current task), the board as one sorted column per stage, counts and alerts.
 * Rebuilt when the journal moves; views only slice it (the visible rows of 10,000 tasks).
 */

import { type AttentionItem, attention } from '../../src/attention.js';
import { isTerminal } from '../../src/lifecycle/index.js';
import { liveRunners, type Runner } from '../../src/runners.js';
import { webhookHealth } from '../../src/webhooks/manage.js';
import type { Workspace } from '../../src/workspace.js';
import { STORES } from '../../state/paths.js';
import { type AgentState, PRIORITIES, STATUSES, type Status, type Task } from '../../state/schemas.js';
import { taskMatcher } from '../task-query.js';

export interface AgentRow {
  id: string;
  name: string;
  role: string;
  driver: string;
  /** A `sim` driver: labelled "simulated" wherever the agent shows. */
  simulated: boolean;
  status: AgentState['status'];
  paused: boolean;
  task: Task | null;
  /** The last task it finished (its log shows while the agent is idle). */
  lastTask: Task | null;
  progress: number | null;
  heartbeatAt: string | null;
  failures: number;
  contextResets: number;
}

export interface ConsoleView {
  seq: number;
  agents: AgentRow[];
  /** One column per stage: open stages by priority then id, finished ones newest first. */
  columns: Record<Status, Task[]>;
  signatures: Record<Status, string>;
  total: number;
  openAlerts: number;
  /** What needs the operator, ranked (the engine's attention inbox). */
  attention: AttentionItem[];
  /** The live orchestrators and the agents each runs. */
  runners: Runner[];
}

const RANK = Object.fromEntries(PRIORITIES.map((p, i) => [p, i])) as Record<string, number>;

const byPriority = (a: Task, b: Task) =>
  RANK[a.priority]! - RANK[b.priority]! || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const newestFirst = (a: Task, b: Task) =>
  a.updatedAt < b.updatedAt ? 1 : a.updatedAt > b.updatedAt ? -1 : a.id < b.id ? 1 : -1;

/** Changes when any task of a column changes (every change gives a task a new `rev`). */
function signature(tasks: readonly Task[]): string {
  let sum = 0;
  let max = 0;
  for (const t of tasks) {
    sum += t.rev;
    if (t.rev > max) max = t.rev;
  }
  return `${tasks.length}:${sum}:${max}`;
}

/**
 * `previous` lets an unchanged column keep its sorted array: a change to one task of a 10,000-task
 * board then sorts only the columns it touched, and views keep their memoised rows.
 */
export function buildConsoleView(ws: Workspace, previous?: ConsoleView): ConsoleView {
  const view = ws.view;
  const columns = Object.fromEntries(STATUSES.map((s) => [s, [] as Task[]])) as Record<Status, Task[]>;
  let total = 0;
  for (const store of STORES) {
    for (const task of view.inStore(store)) {
      columns[task.status].push(task);
      total += 1;
    }
  }
  const signatures = {} as Record<Status, string>;
  for (const status of STATUSES) {
    signatures[status] = signature(columns[status]);
    if (previous && previous.signatures[status] === signatures[status])
      columns[status] = previous.columns[status];
    else columns[status].sort(isTerminal(status) ? newestFirst : byPriority);
  }

  const workingBy = new Map<string, Task>();
  for (const task of columns.working) if (task.agent) workingBy.set(task.agent, task);
  const lastBy = new Map<string, Task>();
  for (const status of STATUSES.filter(isTerminal))
    for (const task of columns[status]) {
      const seen = task.agent ? lastBy.get(task.agent) : undefined;
      if (task.agent && (!seen || seen.updatedAt < task.updatedAt)) lastBy.set(task.agent, task);
    }
  const agents = ws.config.agents.map((config): AgentRow => {
    const state = view.agentState(config.id);
    const task = (state?.task ? view.task(state.task) : undefined) ?? workingBy.get(config.id) ?? null;
    return {
      id: config.id,
      name: config.name,
      role: config.role,
      driver: config.driver.kind,
      simulated: config.driver.kind === 'sim',
      status: state?.status ?? (task ? 'working' : 'idle'),
      paused: state?.paused ?? false,
      task,
      lastTask: lastBy.get(config.id) ?? null,
      progress: state?.progress ?? null,
      heartbeatAt: state?.heartbeatAt ?? null,
      failures: state?.failures ?? 0,
      contextResets: state?.contextResets ?? 0,
    };
  });

  let openAlerts = 0;
  for (const alert of view.alerts()) if (alert.status === 'open') openAlerts += 1;
  return {
    seq: view.seq,
    agents,
    columns,
    signatures,
    total,
    openAlerts,
    attention: attention(view, {
      policies: ws.config.policies,
      now: new Date(),
      agents: ws.config.agents,
      journalLock: ws.journalLockHolder(),
      webhooks: webhookHealth(ws.paths),
    }),
    runners: liveRunners(view, ws.config.policies, new Date()),
  };
}

/** Does a task match a filter? Words must all appear in its id, title, status, priority, agent, role or tags. */
/** Columns with a filter (the task query language, ui/task-query.ts) applied; the same arrays when there is none. */
export function filterColumns(columns: Record<Status, Task[]>, filter: string): Record<Status, Task[]> {
  if (!filter.trim()) return columns;
  const { match } = taskMatcher(filter);
  return Object.fromEntries(STATUSES.map((s) => [s, columns[s].filter(match)])) as Record<Status, Task[]>;
}
