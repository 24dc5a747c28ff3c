/**
 * Per-agent git worktrees for the command driver (`"worktree": true`): when the workspace folder
 * is inside a git repository, each agent works in its own checkout at
 * `.dreamos/worktrees/<agent>` on the branch `dreamos/<agent>`, created on first use and reused
 * afterwards, so agents editing code never step on each other's files.
 */
import fs from 'node:fs';
import path from 'node:path';
import { workspaceRoot } from '../../state/paths.js';
import { runGit } from '../platform/git.js';

const GIT_TIMEOUT_MS = 60_000;

const git = (args: string[], cwd: string) => runGit(args, cwd, { timeoutMs: GIT_TIMEOUT_MS });

export interface WorktreePlan {
  /** Where the program runs: the worktree, or `cwd` unchanged when there is no repository. */
  cwd: string;
  /** What happened, for the log. */
  note: string;
}

/**
 * Ensures the agent's worktree and maps `cwd` into it (same relative position as in the main
 * checkout). Throws with git's message when the worktree cannot be created.
 */
export async function agentWorktree(home: string, agentId: string, cwd: string): Promise<WorktreePlan> {
  const root = workspaceRoot(home);
  const top = await git(['rev-parse', '--show-toplevel'], root);
  const topLevel = top.stdout.trim();
  if (!top.ok || topLevel === '') {
    return { cwd, note: `worktree requested, but ${root} is not in a git repository: running in place` };
  }
  const repo = fs.realpathSync(topLevel);
  const tree = path.join(path.resolve(home), 'worktrees', agentId);
  const branch = `dreamos/${agentId}`;
  let note = `reusing worktree ${tree}`;
  if (!fs.existsSync(path.join(tree, '.git'))) {
    // A folder deleted by hand leaves stale metadata behind that blocks `worktree add`.
    await git(['worktree', 'prune'], repo);
    const exists = await git(['show-ref', '--verify', '--quiet', `refs/heads/${branch}`], repo);
    const add = await git(
      exists.ok ? ['worktree', 'add', tree, branch] : ['worktree', 'add', '-b', branch, tree],
      repo,
    );
    if (!add.ok) throw new Error(`cannot create the git worktree ${tree}: ${add.stderr}`);
    note = `created worktree ${tree} on branch ${branch}`;
  }
  let real = cwd;
  try {
    real = fs.realpathSync(cwd);
  } catch {
    // a missing folder is reported by the supervisor
  }
  const rel = path.relative(repo, real);
  const inside = rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
  return { cwd: inside ? path.join(tree, rel) : tree, note };
}
