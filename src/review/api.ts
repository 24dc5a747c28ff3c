/**
 * Review as the library offers it to the CLI, the HTTP API and the console: the tasks waiting for
 * review or in the merge queue, a task's diff (files with their counts, then the unified diff, with
 * terminal escape sequences stripped), and a reviewer's approval or rejection.
 */
import {
  changedFiles,
  commitOf,
  type FileChange,
  forkPoint,
  repoOf,
  unifiedDiff,
} from '../../agents/platform/task-git.js';
import { workspaceRoot } from '../../state/paths.js';
import type { CodeBounce, CodeStage, Task, TaskCode } from '../../state/schemas.js';
import { conflict, invalidInput, invalidTransition, notFound } from '../errors.js';
import { checkTaskId } from '../lifecycle/context.js';
import { planBounce, planReviewApprove } from '../lifecycle/review.js';
import { oneLine, stripControl } from '../sanitize.js';
import type { Workspace } from '../workspace.js';

/** A code task as review and the merge queue show it. */
export interface ReviewItem {
  id: string;
  title: string;
  status: Task['status'];
  stage: CodeStage;
  branch: string;
  base: string;
  baseCommit: string;
  head?: string;
  /** The agent whose attempt it was. */
  agent: string | null;
  approvedBy?: string;
  approvedAt?: string;
  /** The merge in progress, when the queue is on it. */
  merge?: TaskCode['merge'];
  /** Why it last came back (rejected, conflict, failed gate). */
  last?: CodeBounce;
  updatedAt: string;
}

export function reviewItem(task: Task & { code: TaskCode }): ReviewItem {
  const c = task.code;
  return {
    id: task.id,
    title: task.title,
    status: task.status,
    stage: c.stage,
    branch: c.branch,
    base: c.base,
    baseCommit: c.baseCommit,
    ...(c.head ? { head: c.head } : {}),
    agent: task.agent,
    ...(c.approvedBy ? { approvedBy: c.approvedBy } : {}),
    ...(c.approvedAt ? { approvedAt: c.approvedAt } : {}),
    ...(c.merge ? { merge: c.merge } : {}),
    ...(c.last ? { last: c.last } : {}),
    updatedAt: task.updatedAt,
  };
}

const hasCode = (t: Task): t is Task & { code: TaskCode } => t.code !== undefined;

/** Tasks in review (waiting, approved, merging), the merge queue's order: oldest approval first. */
export function reviewList(ws: Workspace): ReviewItem[] {
  ws.refresh();
  const items = [...ws.view.inStore('working')].filter((t) => t.status === 'review' && hasCode(t));
  const order = (i: ReviewItem) =>
    i.stage === 'merging'
      ? `0${i.approvedAt ?? ''}`
      : i.stage === 'approved'
        ? `1${i.approvedAt ?? ''}`
        : `2${i.updatedAt}`;
  return items
    .map((t) => reviewItem(t as Task & { code: TaskCode }))
    .sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : a.id < b.id ? -1 : 1));
}

function codeTask(ws: Workspace, id: string): Task & { code: TaskCode } {
  checkTaskId(id);
  ws.refresh();
  const task = ws.view.task(id);
  if (!task) throw notFound(`no task ${id}`);
  if (!task.code) throw invalidTransition(`${id} has no branch: it does not work on code`);
  return task as Task & { code: TaskCode };
}

export interface TaskDiff {
  id: string;
  branch: string;
  base: string;
  baseCommit: string;
  /** The commit the diff is from: where the branch forks from its base now (else its base commit). */
  from: string;
  /** The commit shown: the branch's head (its last attempt's commit, or the branch as it is now). */
  head: string;
  files: FileChange[];
  added: number;
  removed: number;
  /** The unified diff (without `stat`), terminal escape sequences stripped. */
  text?: string;
}

/** The changes of a task's branch since it forked from its base. */
export async function reviewDiff(
  ws: Workspace,
  id: string,
  options: { stat?: boolean } = {},
): Promise<TaskDiff> {
  const task = codeTask(ws, id);
  const repo = await repoOf(workspaceRoot(ws.home));
  if (!repo) throw notFound(`the repository of ${id}'s branch is not there`);
  const code = task.code;
  const head = code.merged ?? (await commitOf(repo, `refs/heads/${code.branch}`)) ?? code.head;
  if (!head) throw notFound(`the branch ${code.branch} of ${id} is gone`);
  // What the branch changed since it forked from its base: after the branch was brought up to date
  // with a newer base, that base's own changes are not the task's. A merged task's head is on the
  // base, so it keeps its base commit.
  const from = code.merged ? code.baseCommit : await forkPoint(repo, code.base, head, code.baseCommit);
  const files = (await changedFiles(repo, from, head)).map((f) => ({
    ...f,
    path: oneLine(stripControl(f.path)),
  }));
  const diff: TaskDiff = {
    id,
    branch: code.branch,
    base: code.base,
    baseCommit: code.baseCommit,
    from,
    head,
    files,
    added: files.reduce((n, f) => n + (f.added ?? 0), 0),
    removed: files.reduce((n, f) => n + (f.removed ?? 0), 0),
  };
  if (!options.stat) diff.text = stripControl(await unifiedDiff(repo, from, head));
  return diff;
}

/**
 * Who may review: the operator, or an agent whose role `policies.review.reviewers` names, and never
 * the agent whose work it is.
 */
function checkReviewer(ws: Workspace, task: Task, by: string): void {
  const agent = ws.config.agents.find((a) => a.id === by);
  if (!agent) return;
  if (!ws.config.policies.review.reviewers.includes(agent.role))
    throw conflict(`${by} (${agent.role}) may not review: policies.review.reviewers does not name its role`);
  if (task.agent === by) throw conflict(`${by} may not review its own work on ${task.id}`);
}

/** Approve a task waiting for review: it joins the merge queue. */
export async function reviewApprove(ws: Workspace, id: string, by = ws.actor): Promise<Task> {
  const task = codeTask(ws, id);
  checkReviewer(ws, task, by);
  return ws.apply((ctx) => planReviewApprove(ctx, id), by);
}

/** Send a task back to ready on the same branch, the note in its context for the next attempt. */
export async function reviewReject(ws: Workspace, id: string, note: string, by = ws.actor): Promise<Task> {
  const text = stripControl(note).trim();
  if (text === '') throw invalidInput('a rejection needs a note: say what to change');
  const task = codeTask(ws, id);
  checkReviewer(ws, task, by);
  return ws.apply((ctx) => planBounce(ctx, id, { reason: 'rejected', text }), by);
}
