/**
 * The git of code tasks: a worktree per task at `.dreamos/worktrees/<task id>` on the branch
 * `dreamos/<task id>`, the commit that ends an attempt, the diff a reviewer reads, and the scratch
 * worktrees the merge queue works in. Paths and refs are made from task ids only (checked against
 * TASK_ID_RE), so no title or branch name a task carries can point them elsewhere.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TASK_ID_RE } from '../../state/schemas.js';
import { type GitResult, runGit } from './git.js';

const GIT_TIMEOUT_MS = 120_000;
export const git = (args: readonly string[], cwd: string): Promise<GitResult> =>
  runGit(args, cwd, { timeoutMs: GIT_TIMEOUT_MS });

/** Git's answer, or an error with its message. */
export async function gitOk(args: readonly string[], cwd: string): Promise<string> {
  const result = await git(args, cwd);
  if (!result.ok) throw new Error(`git ${args[0]}: ${result.stderr.slice(0, 2000)}`);
  return result.stdout;
}

function checkId(id: string): string {
  if (!TASK_ID_RE.test(id)) throw new Error(`not a task id: ${JSON.stringify(id).slice(0, 40)}`);
  return id;
}

/** The worktrees' folder inside `.dreamos`. */
export const worktreesDir = (home: string) => path.join(path.resolve(home), 'worktrees');
/** A task's worktree. */
export const taskTree = (home: string, id: string) => path.join(worktreesDir(home), checkId(id));
/** The merge queue's scratch worktree for a task. */
export const scratchTree = (home: string, id: string) => path.join(path.resolve(home), 'merge', checkId(id));
export const taskBranch = (id: string) => `dreamos/${checkId(id)}`;

/** The top folder of the repository holding `folder` (real path), or undefined. */
export async function repoOf(folder: string): Promise<string | undefined> {
  const top = await git(['rev-parse', '--show-toplevel'], folder);
  const dir = top.stdout.trim();
  if (!top.ok || dir === '') return undefined;
  return fs.realpathSync(dir);
}

/** The branch checked out in the repository, or undefined (detached HEAD). */
export async function currentBranch(repo: string): Promise<string | undefined> {
  const head = await git(['symbolic-ref', '--quiet', '--short', 'HEAD'], repo);
  return head.ok ? head.stdout.trim() || undefined : undefined;
}

/** The commit a ref or name points at, or undefined. */
export async function commitOf(repo: string, ref: string): Promise<string | undefined> {
  const r = await git(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], repo);
  return r.ok ? r.stdout.trim() : undefined;
}

const hasGit = (tree: string) => fs.existsSync(path.join(tree, '.git'));

/**
 * The task's worktree, created on its branch (made from `startAt` when it does not exist yet) or
 * reused: retries, hand-overs and restarts work on what the last attempt left.
 */
export async function ensureTaskTree(
  repo: string,
  home: string,
  id: string,
  startAt: string,
): Promise<{ tree: string; created: boolean }> {
  const tree = taskTree(home, id);
  if (hasGit(tree)) return { tree, created: false };
  const branch = taskBranch(id);
  // Made beside its place and moved there whole: a process killed half-way through a checkout
  // never leaves a tree that looks ready (with files missing, which the attempt's commit would delete).
  const making = `${tree}.new`;
  for (const folder of [tree, making]) fs.rmSync(folder, { recursive: true, force: true });
  // A folder deleted by hand (or a creation cut short) leaves metadata that blocks `worktree add`.
  await git(['worktree', 'prune'], repo);
  const exists = await commitOf(repo, `refs/heads/${branch}`);
  await gitOk(
    exists
      ? ['worktree', 'add', '--quiet', making, branch]
      : ['worktree', 'add', '--quiet', '-b', branch, making, startAt],
    repo,
  );
  await gitOk(['worktree', 'move', making, tree], repo);
  return { tree, created: true };
}

/** Commits everything changed in `tree` as `author`; returns the branch's commit afterwards. */
export async function commitAll(tree: string, author: string, message: string): Promise<string> {
  await gitOk(['add', '--all'], tree);
  const staged = await git(['diff', '--cached', '--quiet'], tree);
  if (!staged.ok) {
    const email = `${author}@dreamos.invalid`;
    await gitOk(
      [
        '-c',
        `user.name=${author}`,
        '-c',
        `user.email=${email}`,
        'commit',
        '--quiet',
        '--no-verify',
        '--author',
        `${author} <${email}>`,
        '-m',
        message,
      ],
      tree,
    );
  }
  return (await gitOk(['rev-parse', 'HEAD'], tree)).trim();
}

/**
 * Where `head` forks from the base branch now: their merge-base. It is the task's base commit until
 * its branch is brought up to date with a newer base (after a conflict); from then on the base's own
 * changes are not the task's. `fallback` (the base commit) when the base branch is gone or shares
 * no history with `head`. `cwd` is the repository or any worktree of it.
 */
export async function forkPoint(cwd: string, base: string, head: string, fallback: string): Promise<string> {
  const r = await git(['merge-base', `refs/heads/${base}`, head], cwd);
  const commit = r.stdout.trim();
  return r.ok && /^[0-9a-f]{40,64}$/.test(commit) ? commit : fallback;
}

/** Whether `head`'s tree differs from `base`'s. */
export async function differs(repo: string, base: string, head: string): Promise<boolean> {
  const r = await git(['diff', '--quiet', base, head], repo);
  return !r.ok;
}

/** Removes a worktree (its branch stays). Never throws: a tree already gone is fine. */
export async function removeTree(repo: string, tree: string): Promise<void> {
  const removed = hasGit(tree) && (await git(['worktree', 'remove', '--force', tree], repo)).ok;
  if (removed) return;
  // Not a worktree git knows (any more): the folder goes, and so does what git kept about it.
  fs.rmSync(tree, { recursive: true, force: true });
  await git(['worktree', 'prune'], repo);
}

export interface FileChange {
  path: string;
  /** Lines added and removed; null for a binary file. */
  added: number | null;
  removed: number | null;
}

/** The files changed from `base` to `head`, with their line counts. */
export async function changedFiles(repo: string, base: string, head: string): Promise<FileChange[]> {
  const out = await gitOk(['diff', '--numstat', '-z', '--no-renames', base, head, '--'], repo);
  const files: FileChange[] = [];
  for (const record of out.split('\0')) {
    const m = /^(-|\d+)\t(-|\d+)\t([\s\S]+)$/.exec(record);
    if (!m) continue;
    files.push({
      path: m[3]!,
      added: m[1] === '-' ? null : Number(m[1]),
      removed: m[2] === '-' ? null : Number(m[2]),
    });
  }
  return files;
}

/** The unified diff from `base` to `head`, as git writes it without colour. */
export function unifiedDiff(repo: string, base: string, head: string): Promise<string> {
  return gitOk(['diff', '--no-color', '--no-ext-diff', '--no-renames', base, head, '--'], repo);
}

/**
 * What a task's worktree changed since it forked from its base (`forkPoint`, else its base commit):
 * committed, staged, unstaged and new files (relative to the tree's top); null when the tree is not
 * a checkout.
 */
export async function changedSinceBase(
  tree: string,
  code: { base: string; baseCommit: string },
): Promise<string[] | null> {
  const from = await forkPoint(tree, code.base, 'HEAD', code.baseCommit);
  const [diff, untracked] = await Promise.all([
    git(['diff', '--name-only', '-z', '--no-renames', from, '--'], tree),
    git(['ls-files', '--others', '--exclude-standard', '-z'], tree),
  ]);
  if (!diff.ok || !untracked.ok) return null;
  const files = [...diff.stdout.split('\0'), ...untracked.stdout.split('\0')].filter((f) => f !== '');
  return [...new Set(files)];
}

/** The unmerged files of an interrupted rebase or merge in `tree`. */
export async function conflictedFiles(tree: string): Promise<string[]> {
  const out = await git(['diff', '--name-only', '-z', '--diff-filter=U'], tree);
  return out.stdout.split('\0').filter((f) => f !== '');
}

/** Folder sizes in bytes (links not followed). */
export function folderBytes(folder: string): number {
  let total = 0;
  const stack = [folder];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile()) total += fs.lstatSync(p).size;
    }
  }
  return total;
}
