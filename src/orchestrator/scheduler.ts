/**
 * The Captain's scheduling duty, run by the orchestrator: match ready tasks to idle agents. Tasks
 * are taken by priority with aging, then age; each goes to the eligible idle agent with the best
 * affinity (it just worked on the same resources or tags), ties going to the agent that has waited
 * longest (fairness). Two tasks whose resources overlap never run at once. (Backlog tasks are
 * promoted in the same transaction that completes their last dependency, so nothing waits on a sweep.)
 */
import type { StateView } from '../../state/backend.js';
import { PRIORITIES, type Task } from '../../state/schemas.js';
import type { AgentConfig, Policies } from '../config.js';
import { globsOverlap, mayTake, resourcesBusy } from '../lifecycle/index.js';

export interface Slot {
  agent: AgentConfig;
  /** Whether the agent's driver can do this task (a shell driver needs `run`). */
  accepts(task: Task): boolean;
  /** When it last finished a task (ms), for fairness. */
  idleSince: number;
  /** Tags and resources of its recent tasks, for affinity. */
  recentTags: ReadonlySet<string>;
  recentResources: readonly string[];
}

function affinity(slot: Slot, task: Task): number {
  let score = 0;
  for (const tag of task.tags) if (slot.recentTags.has(tag)) score += 1;
  for (const r of task.resources) if (slot.recentResources.some((mine) => globsOverlap(mine, r))) score += 2;
  return score;
}

/** Ready tasks worth considering now, best first (priority with aging, then time waited). */
export function candidates(view: StateView, policies: Policies, now: number, perPriority: number): Task[] {
  const scored: Array<{ task: Task; score: number; since: string }> = [];
  for (const [rank, priority] of PRIORITIES.entries()) {
    let taken = 0;
    for (const task of view.readyByPriority(priority)) {
      if (task.notBefore && Date.parse(task.notBefore) > now) continue;
      const since = task.history[task.history.length - 1]?.at ?? task.updatedAt;
      const aged = Math.floor((now - Date.parse(since)) / 1000 / policies.agingSecondsPerLevel);
      scored.push({ task, score: rank - aged, since });
      if (++taken >= perPriority) break;
    }
  }
  return scored.sort((a, b) => a.score - b.score || a.since.localeCompare(b.since)).map((s) => s.task);
}

/** One dispatch round: which idle agent should claim which task. */
export function assign(
  view: StateView,
  idle: readonly Slot[],
  policies: Policies,
  now: number,
): Map<string, Task> {
  const out = new Map<string, Task>();
  if (idle.length === 0) return out;
  const planned: Task[] = [];
  for (const task of candidates(view, policies, now, Math.max(16, idle.length * 16))) {
    if (out.size === idle.length) break;
    if (resourcesBusy(view, task)) continue;
    if (planned.some((p) => p.resources.some((r) => task.resources.some((mine) => globsOverlap(r, mine)))))
      continue;
    let best: Slot | undefined;
    let bestScore = -1;
    for (const slot of idle) {
      if (out.has(slot.agent.id) || !mayTake(slot.agent, task) || !slot.accepts(task)) continue;
      const score = affinity(slot, task);
      if (score > bestScore || (score === bestScore && best && slot.idleSince < best.idleSince)) {
        best = slot;
        bestScore = score;
      }
    }
    if (best) {
      out.set(best.agent.id, task);
      planned.push(task);
    }
  }
  return out;
}

/**
 * Is there runnable work left for these agents? Only a working task or a ready task one of them can
 * take (even one waiting out a retry backoff) can make progress; a backlog task becomes ready only
 * when one of those completes, so it adds nothing on its own.
 */
export function hasRunnableWork(view: StateView, slots: readonly Slot[]): boolean {
  // The working store also holds the tasks in review, which no agent works on.
  if (view.storeSize('working') > 0)
    for (const task of view.inStore('working')) if (task.status === 'working') return true;
  for (const priority of PRIORITIES) {
    for (const task of view.readyByPriority(priority)) {
      if (slots.some((s) => mayTake(s.agent, task) && s.accepts(task))) return true;
    }
  }
  return false;
}
