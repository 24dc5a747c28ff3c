/**
 * The review view's rows: the code tasks in review (waiting for a reviewer, approved, being merged)
 * in the merge queue's order, and where a merge stands (its step, its gate task, for how long).
 * Built from the console view's `review` column, once per change of that column.
 */
import { type ReviewItem, reviewItem } from '../../src/review/index.js';
import type { Task, TaskCode } from '../../state/schemas.js';

export type { ReviewItem };

const rank = (i: ReviewItem) =>
  i.stage === 'merging'
    ? `0${i.approvedAt ?? ''}`
    : i.stage === 'approved'
      ? `1${i.approvedAt ?? ''}`
      : `2${i.updatedAt}`;

const cache = new WeakMap<readonly Task[], ReviewItem[]>();

/** Merging first, then approved by approval time, then waiting oldest first (as `dreamos review list`). */
export function reviewRows(column: readonly Task[]): ReviewItem[] {
  const cached = cache.get(column);
  if (cached) return cached;
  const rows = column
    .filter((t): t is Task & { code: TaskCode } => t.code !== undefined)
    .map(reviewItem)
    .sort((a, b) => (rank(a) < rank(b) ? -1 : rank(a) > rank(b) ? 1 : a.id < b.id ? -1 : 1));
  cache.set(column, rows);
  return rows;
}

/** `42s`, `3m 05s`, `1h 02m`. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

const STEP_WORDS: Record<NonNullable<TaskCode['merge']>['step'], string> = {
  rebase: 'rebasing onto the base',
  gate: 'running the gate',
  update: 'moving the base',
};

/** When the gate task started running (its last move to working), else when it was made. */
function gateStart(gate: Task): string {
  for (let i = gate.history.length - 1; i >= 0; i--)
    if (gate.history[i]!.to === 'working') return gate.history[i]!.at;
  return gate.createdAt;
}

/**
 * Where the item stands, in words: the merge's step and for how long, the gate task's state (who
 * runs it, its progress); or what it waits for.
 */
export function reviewState(item: ReviewItem, lookup: (id: string) => Task | undefined, now: number): string {
  if (item.stage === 'waiting') return `waiting for review ${duration(now - Date.parse(item.updatedAt))}`;
  if (item.stage === 'approved') return `queued${item.approvedBy ? `, approved by ${item.approvedBy}` : ''}`;
  const merge = item.merge;
  if (item.stage !== 'merging' || !merge) return item.stage;
  const since = `merging ${duration(now - Date.parse(merge.startedAt))}`;
  if (merge.step !== 'gate') return `${since} · ${STEP_WORDS[merge.step]}`;
  const gate = merge.gate ? lookup(merge.gate) : undefined;
  if (!gate) return `${since} · ${STEP_WORDS.gate}`;
  const who = gate.agent ? ` by ${gate.agent}` : '';
  const state =
    gate.status === 'working'
      ? `gate ${gate.id} running ${duration(now - Date.parse(gateStart(gate)))}${who}`
      : `gate ${gate.id} ${gate.status}`;
  return `${since} · ${state}`;
}

/** What an agent's pane says of its code work that waits: for a reviewer, the queue, or a fix. */
export interface AgentReviewNote {
  taskId: string;
  words: string;
  level: 'info' | 'warning';
  at: string;
}

/** The agent that last worked on a task: its last claim's author. */
function lastWorker(task: Task): string | null {
  for (let i = task.history.length - 1; i >= 0; i--)
    if (task.history[i]!.to === 'working') return task.history[i]!.by;
  return null;
}

const NOTE_WORDS: Record<string, string> = {
  waiting: 'waiting for review',
  approved: 'approved, queued for merge',
  merging: 'merging',
};

/**
 * Per agent, its most recent code task in review or sent back by the queue (merge conflict, failed
 * gate): the dashboard's panes show it while the agent has no task running.
 */
export function agentReviewNotes(
  review: readonly Task[],
  ready: readonly Task[],
): Map<string, AgentReviewNote> {
  const notes = new Map<string, AgentReviewNote>();
  const note = (agent: string | null, n: AgentReviewNote) => {
    const seen = agent ? notes.get(agent) : undefined;
    if (agent && (!seen || seen.at < n.at)) notes.set(agent, n);
  };
  for (const task of review) {
    const stage = task.code?.stage ?? 'waiting';
    const words = NOTE_WORDS[stage] ?? stage;
    note(task.agent ?? lastWorker(task), { taskId: task.id, words, level: 'info', at: task.updatedAt });
  }
  for (const task of ready) {
    const last = task.code?.last;
    if (!last || last.reason === 'rejected') continue;
    const words = last.reason === 'merge-conflict' ? 'merge conflict' : 'merge gate failed';
    note(lastWorker(task), { taskId: task.id, words, level: 'warning', at: task.updatedAt });
  }
  return notes;
}
