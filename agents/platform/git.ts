/**
 * Git, as Dream.OS runs it: one runner whose environment points git at the folder it is run in
 * (never at a repository named by GIT_DIR, as inside a git hook), and one answer to where an agent
 * works. Agents' worktrees, scope drift and the commit recorded in checkpoints all go through here,
 * so they always look at the same folder of the same repository.
 */
import fs from 'node:fs';
import path from 'node:path';
import { workspaceRoot } from '../../state/paths.js';

/** child_process is loaded on the first run: the CLI imports this file, and most commands never run git. */

/** Variables that would point git at another repository than the folder's own. */
const REPO_OVERRIDES = ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_COMMON_DIR'];

function gitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_OPTIONAL_LOCKS: '0', LC_ALL: 'C' };
  for (const name of REPO_OVERRIDES) delete env[name];
  return env;
}

export interface GitResult {
  ok: boolean;
  /** As git wrote it (not trimmed: `status --porcelain` lines may start with a space). */
  stdout: string;
  /** git's message, or why it could not run. */
  stderr: string;
}

/** Large enough for `git status` of a big checkout. */
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

/** Runs git in `cwd`, killed after `timeoutMs`. Never rejects: a failure is `ok: false`. */
export function runGit(
  args: readonly string[],
  cwd: string,
  options: { timeoutMs: number },
): Promise<GitResult> {
  return new Promise((resolve) => {
    try {
      process.getBuiltinModule('node:child_process').execFile(
        'git',
        args,
        {
          cwd,
          env: gitEnv(),
          timeout: options.timeoutMs,
          maxBuffer: MAX_OUTPUT_BYTES,
          encoding: 'utf8',
          windowsHide: true,
        },
        (error, stdout, stderr) => {
          resolve({
            ok: error === null,
            stdout: String(stdout ?? ''),
            stderr: String(stderr ?? '').trim() || (error?.message ?? ''),
          });
        },
      );
    } catch (error) {
      resolve({ ok: false, stdout: '', stderr: (error as Error).message });
    }
  });
}

/** What agentFolder needs of an agent's config. */
export interface FolderAgent {
  id: string;
  driver: { kind: string; cwd?: string; worktree?: boolean };
}

/**
 * Where the agent works: its git worktree when the command or pty driver uses one and it exists (a folder
 * without `.git` is a worktree whose creation did not finish), else the driver's `cwd` (relative to
 * the folder holding `.dreamos`), else that folder.
 */
export function agentFolder(home: string, agent: FolderAgent): string {
  const root = workspaceRoot(home);
  const driver = agent.driver;
  if ((driver.kind === 'command' || driver.kind === 'pty') && driver.worktree) {
    const tree = path.join(path.resolve(home), 'worktrees', agent.id);
    if (fs.existsSync(path.join(tree, '.git'))) return tree;
  }
  if (
    (driver.kind === 'command' || driver.kind === 'shell' || driver.kind === 'pty') &&
    driver.cwd !== undefined
  )
    return path.resolve(root, driver.cwd);
  return root;
}

const HEAD_TIMEOUT_MS = 2000;
const SHA_RE = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

/** Is there a `.git` in the folder or above it? Without one git is not even started (most workspaces). */
function maybeRepository(folder: string): boolean {
  for (let dir = path.resolve(folder); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, '.git'))) return true;
    if (path.dirname(dir) === dir) return false;
  }
}

/** Calls for one folder while a lookup is in flight share it: a flood of checkpoints starts one git. */
const inFlight = new Map<string, Promise<string | undefined>>();

/**
 * The commit checked out in `folder`, or undefined: no repository, a repository without a commit,
 * no git at all, or a git that hangs. Bounded in time; never rejects.
 */
export function gitHead(folder: string): Promise<string | undefined> {
  const pending = inFlight.get(folder);
  if (pending) return pending;
  if (!maybeRepository(folder)) return Promise.resolve(undefined);
  const head = runGit(['rev-parse', '--verify', '--quiet', 'HEAD'], folder, { timeoutMs: HEAD_TIMEOUT_MS })
    .then(({ ok, stdout }) => {
      const sha = stdout.trim();
      return ok && SHA_RE.test(sha) ? sha : undefined;
    })
    .finally(() => inFlight.delete(folder));
  inFlight.set(folder, head);
  return head;
}

/** The commit of the agent's working folder, or undefined. Never rejects. */
export function agentCommit(home: string, agent: FolderAgent): Promise<string | undefined> {
  return gitHead(agentFolder(home, agent));
}
