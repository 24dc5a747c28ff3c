/**
 * Questions asked of the board: tasks by stage, agent or tag, and the summary `status` shows. Pure
 * functions of the state view.
 */
import type { StateView } from '../state/backend.js';
import { STORES, type StoreName } from '../state/paths.js';
import { byId, STATUSES, type Status, storeOf, type Task } from '../state/schemas.js';
import { invalidInput } from './errors.js';

export interface TaskFilter {
  status?: Status | Status[];
  store?: StoreName;
  agent?: string;
  tag?: string;
  limit?: number;
}

export interface BoardSummary {
  seq: number;
  counts: Record<Status, number>;
  stores: Record<StoreName, number>;
  working: Array<Pick<Task, 'id' | 'title' | 'agent' | 'lease'>>;
  openAlerts: number;
  agents: number;
}

/** The tasks that pass the filter, by id. */
export function filterTasks(view: StateView, filter: TaskFilter): Task[] {
  const statuses =
    filter.status === undefined ? undefined : Array.isArray(filter.status) ? filter.status : [filter.status];
  for (const s of statuses ?? [])
    if (!STATUSES.includes(s))
      throw invalidInput(`unknown status ${JSON.stringify(s)} (one of ${STATUSES.join(', ')})`);
  const stores = statuses ? [...new Set(statuses.map(storeOf))] : filter.store ? [filter.store] : STORES;
  const out: Task[] = [];
  for (const store of stores) {
    for (const task of view.inStore(store)) {
      if (statuses && !statuses.includes(task.status)) continue;
      if (filter.agent && task.agent !== filter.agent) continue;
      if (filter.tag && !task.tags.includes(filter.tag)) continue;
      out.push(task);
    }
  }
  out.sort(byId);
  return filter.limit ? out.slice(0, filter.limit) : out;
}

export function summarise(view: StateView, agents: number): BoardSummary {
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<Status, number>;
  for (const store of STORES) for (const t of view.inStore(store)) counts[t.status] += 1;
  return {
    seq: view.seq,
    counts,
    stores: Object.fromEntries(STORES.map((s) => [s, view.storeSize(s)])) as Record<StoreName, number>,
    working: [...view.inStore('working')]
      .filter((t) => t.status === 'working')
      .map(({ id, title, agent, lease }) => ({
        id,
        title,
        agent,
        lease,
      })),
    openAlerts: [...view.alerts()].filter((a) => a.status === 'open').length,
    agents,
  };
}
