/**
 * The worktrees Dream.OS made, and their clean-up: a task's worktree goes once the task is merged,
 * cancelled, failed or archived; the merge queue's scratch trees once nothing merges there; an
 * agent's (the command driver's `worktree: true`) once the agent is gone. Branches of finished tasks
 * are kept for `policies.review.keepBranchDays`, then deleted by `prune`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { folderBytes, git, removeTree, repoOf, worktreesDir } from '../../agents/platform/task-git.js';
import { workspaceRoot } from '../../state/paths.js';
import { AGENT_ID_RE, TASK_ID_RE } from '../../state/schemas.js';
import { isTerminal } from '../lifecycle/context.js';
import type { Workspace } from '../workspace.js';

export interface WorktreeInfo {
  path: string;
  kind: 'task' | 'scratch' | 'agent' | 'unknown';
  /** The task or agent it belongs to. */
  owner: string;
  /** The task's stage, when it is on the board. */
  status?: string;
  bytes: number;
  /** Nothing needs it any more: `worktree prune` removes it. */
  leftover: boolean;
  why?: string;
}

function folders(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}

/** Every worktree folder of the workspace, with its size and whether it is left over. */
export function worktreeList(ws: Workspace, options: { sizes?: boolean } = {}): WorktreeInfo[] {
  ws.refresh();
  const out: WorktreeInfo[] = [];
  const size = (p: string) => (options.sizes === false ? 0 : folderBytes(p));
  const agents = new Set(ws.config.agents.map((a) => a.id));
  for (const name of folders(worktreesDir(ws.home))) {
    const p = path.join(worktreesDir(ws.home), name);
    if (name.endsWith('.new') && TASK_ID_RE.test(name.slice(0, -4))) {
      const why = 'a worktree whose creation was cut short';
      out.push({ path: p, kind: 'task', owner: name.slice(0, -4), bytes: size(p), leftover: true, why });
    } else if (TASK_ID_RE.test(name)) {
      const task = ws.view.task(name);
      const done = !task || isTerminal(task.status);
      out.push({
        path: p,
        kind: 'task',
        owner: name,
        ...(task ? { status: task.status } : {}),
        bytes: size(p),
        leftover: done,
        ...(done ? { why: task ? `${name} is ${task.status}` : `${name} is not on the board` } : {}),
      });
    } else if (AGENT_ID_RE.test(name)) {
      const gone = !agents.has(name);
      out.push({
        path: p,
        kind: 'agent',
        owner: name,
        bytes: size(p),
        leftover: gone,
        ...(gone ? { why: `no agent ${name}` } : {}),
      });
    } else {
      out.push({
        path: p,
        kind: 'unknown',
        owner: name,
        bytes: size(p),
        leftover: true,
        why: 'not made by Dream.OS',
      });
    }
  }
  const scratchDir = path.join(ws.home, 'merge');
  for (const name of folders(scratchDir)) {
    const p = path.join(scratchDir, name);
    const task = TASK_ID_RE.test(name) ? ws.view.task(name) : undefined;
    const busy = task?.code?.stage === 'merging';
    out.push({
      path: p,
      kind: 'scratch',
      owner: name,
      ...(task ? { status: task.status } : {}),
      bytes: size(p),
      leftover: !busy,
      ...(busy ? {} : { why: 'no merge in progress there' }),
    });
  }
  return out;
}

/**
 * Removes the worktrees of tasks that finished, were cancelled or left the board, and scratch
 * trees no merge uses (their branches stay); returns how many went.
 */
export async function cleanWorktrees(ws: Workspace): Promise<number> {
  const repo = await repoOf(workspaceRoot(ws.home));
  if (!repo) return 0;
  const leftovers = worktreeList(ws, { sizes: false }).filter(
    (w) => w.leftover && (w.kind === 'task' || w.kind === 'scratch'),
  );
  for (const w of leftovers) await removeTree(repo, w.path);
  return leftovers.length;
}

export interface PruneResult {
  removed: WorktreeInfo[];
  /** Branches `dreamos/<task id>` deleted: their task finished more than keepBranchDays ago. */
  branches: string[];
}

/** Removes the leftover worktrees, and the branches of tasks finished long enough ago. */
export async function worktreePrune(ws: Workspace, options: { dryRun?: boolean } = {}): Promise<PruneResult> {
  const repo = await repoOf(workspaceRoot(ws.home));
  const removed = worktreeList(ws).filter((w) => w.leftover && w.kind !== 'unknown');
  const branches: string[] = [];
  if (!repo) return { removed: [], branches };
  if (!options.dryRun) for (const w of removed) await removeTree(repo, w.path);
  const keepMs = ws.config.policies.review.keepBranchDays * 24 * 3600 * 1000;
  const list = await git(
    ['for-each-ref', '--format=%(refname:strip=2) %(committerdate:unix)', 'refs/heads/dreamos/'],
    repo,
  );
  for (const line of list.stdout.split('\n')) {
    const [branch, at] = line.split(' ');
    const id = branch?.slice('dreamos/'.length) ?? '';
    if (!branch || !TASK_ID_RE.test(id)) continue;
    const task = ws.view.task(id);
    if (task && !isTerminal(task.status)) continue;
    const since = task ? Date.parse(task.updatedAt) : Number(at) * 1000;
    if (Date.now() - since < keepMs) continue;
    if (!options.dryRun) {
      const del = await git(['branch', '-D', '--quiet', branch], repo);
      if (!del.ok) continue;
    }
    branches.push(branch);
  }
  return { removed, branches };
}
