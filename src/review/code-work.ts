/**
 * A code task's run on its own branch, as an agent's loop drives it: the worktree made (or reused)
 * when the task is claimed, and the commit that ends a good attempt, which decides between review
 * (changes) and done (none).
 */
import {
  commitAll,
  commitOf,
  currentBranch,
  differs,
  ensureTaskTree,
  forkPoint,
  repoOf,
  scratchTree,
  taskTree,
} from '../../agents/platform/task-git.js';
import { workspaceRoot } from '../../state/paths.js';
import type { Task } from '../../state/schemas.js';
import { oneLine } from '../../state/text.js';
import type { AgentConfig } from '../config.js';
import { planCodeOpen } from '../lifecycle/review.js';
import type { Workspace } from '../workspace.js';

/** Gate tasks carry this dedupe key prefix, then the id of the task they gate. */
export const GATE_KEY = 'merge-gate:';

/** The task a gate task gates, or undefined for any other task. */
export function gatedTask(task: Pick<Task, 'dedupeKey'>): string | undefined {
  const key = task.dedupeKey;
  if (!key?.startsWith(GATE_KEY)) return undefined;
  return key.slice(GATE_KEY.length).split(':')[0];
}

/**
 * Whether this agent runs this task on its own branch: never when the workspace's policy says no,
 * else as the task says (`branch`), else as the agent does (command and llm agents by default).
 */
export function worksOnCode(ws: Workspace, agent: AgentConfig, task?: Pick<Task, 'branch'>): boolean {
  if (!ws.config.policies.review.worktrees) return false;
  if (task?.branch !== undefined) return task.branch;
  return agent.code ?? (agent.driver.kind === 'command' || agent.driver.kind === 'llm');
}

export interface CodeWork {
  /** Where the driver works: the task's worktree, or the queue's scratch tree for a gate. */
  tree: string;
  /** The repository's top folder, which the tree is a checkout of. */
  repo: string;
  /** For the run's environment: why the task came back, for its next attempt. */
  env: Record<string, string>;
}

/** The base branch: the policy's, or the one checked out. */
export async function baseBranch(ws: Workspace, repo: string): Promise<string | undefined> {
  return ws.config.policies.review.base ?? (await currentBranch(repo));
}

/**
 * Prepares the worktree of a claimed task, recording its branch on the task at the first claim.
 * Undefined when the task does not work on code here (no repository, an agent without it).
 */
export async function openCodeWork(
  ws: Workspace,
  agent: AgentConfig,
  task: Task,
): Promise<CodeWork | undefined> {
  const gated = gatedTask(task);
  if (!gated && !task.code && !worksOnCode(ws, agent, task)) return undefined;
  const repo = await repoOf(workspaceRoot(ws.home));
  if (!repo) return undefined;
  if (gated) return { tree: scratchTree(ws.home, gated), repo, env: {} };
  let start = task.code;
  if (!start) {
    const base = await baseBranch(ws, repo);
    const baseCommit = base ? await commitOf(repo, `refs/heads/${base}`) : undefined;
    if (!base || !baseCommit) return undefined; // a detached HEAD or an empty repository: run in place
    start = { branch: '', base, baseCommit, stage: 'open' };
  }
  const { tree } = await ensureTaskTree(repo, ws.home, task.id, start.baseCommit);
  await ws.apply((ctx) => planCodeOpen(ctx, task.id, { base: start.base, baseCommit: start.baseCommit }));
  const last = task.code?.last;
  const env: Record<string, string> = { DREAMOS_WORKTREE: tree };
  if (last) {
    env.DREAMOS_REVIEW_REASON = last.reason;
    env.DREAMOS_REVIEW_NOTE = last.text;
    if (last.files?.length) env.DREAMOS_REVIEW_FILES = last.files.join('\n');
  }
  return { tree, repo, env };
}

/**
 * After a good attempt: everything left changed in the worktree is committed as the agent, and
 * `codeHead` is the branch's commit when it changed something since its base commit (else null).
 * A commit git refuses is an `error`: the attempt failed.
 */
export async function endCodeWork(
  ws: Workspace,
  agentId: string,
  taskId: string,
  summary?: string,
): Promise<{ codeHead?: string | null } | { error: string }> {
  const task = ws.view.task(taskId);
  if (!task?.code) return {};
  const repo = await repoOf(workspaceRoot(ws.home));
  if (!repo) return { error: `the repository of ${task.id}'s branch is gone` };
  const tree = taskTree(ws.home, task.id);
  const message = `${task.id}: ${oneLine(task.title).slice(0, 200)}${summary ? `\n\n${summary.slice(0, 4000)}` : ''}`;
  try {
    const head = await commitAll(tree, agentId, message);
    const from = await forkPoint(repo, task.code.base, head, task.code.baseCommit);
    return { codeHead: (await differs(repo, from, head)) ? head : null };
  } catch (error) {
    return { error: `could not commit the work of ${task.id}: ${(error as Error).message}` };
  }
}
