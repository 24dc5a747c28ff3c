/**
 * The dependency graph and what a change brings with it: backlog tasks whose dependencies became done
 * move to ready, and completed tasks past the policy's keep limit are archived.
 */
import type { Change, StateView } from '../../state/backend.js';
import type { Task } from '../../state/schemas.js';
import type { Policies } from '../config.js';
import { DreamError } from '../errors.js';
import { type Ctx, isTerminal, transition } from './context.js';

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
    // Work from outside runs only once approved, and an agent's proposal once the operator promotes
    // it (docs/decisions/agent-subtask-approval.md), whatever else it waits for.
    if (task.approval?.status === 'pending') continue;
    if (task.source === 'agent' && !ctx.policies.autoApproveSubtasks) continue;
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

/**
 * The change that records `tasks` under `op`, with what follows from it: the dependents it promotes and
 * the completed tasks now past the keep limit (besides any `archived` the caller names).
 */
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
