/**
 * The git commit of an agent's working folder, recorded in its checkpoints: `git rev-parse HEAD`,
 * bounded in time and never failing. No repository, a repository without a commit, no git at all,
 * or a git that hangs: the checkpoint is simply recorded without a commit.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { workspaceRoot } from '../../agents/drivers/env.js';
import type { AgentConfig } from '../config.js';

const GIT_TIMEOUT_MS = 2000;
/** child_process is loaded on the first lookup: the CLI imports this file, and most commands never run git. */
const loadBuiltin = createRequire(import.meta.url);
const SHA_RE = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

/**
 * Where the agent works: its git worktree when the command driver uses one and it exists, else the
 * driver's `cwd` (relative to the folder holding `.dreamos`), else that folder.
 */
export function agentFolder(home: string, agent: AgentConfig): string {
  const root = workspaceRoot(home);
  const driver = agent.driver;
  if (driver.kind === 'command' && driver.worktree) {
    const tree = path.join(path.resolve(home), 'worktrees', agent.id);
    if (fs.existsSync(path.join(tree, '.git'))) return tree;
  }
  if ((driver.kind === 'command' || driver.kind === 'shell') && driver.cwd !== undefined)
    return path.resolve(root, driver.cwd);
  return root;
}

/** Variables that would point git at another repository than the folder's own. */
const REPO_OVERRIDES = ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_COMMON_DIR'];

function gitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_OPTIONAL_LOCKS: '0', LC_ALL: 'C' };
  for (const name of REPO_OVERRIDES) delete env[name];
  return env;
}

/** Is there a `.git` in the folder or above it? Without one git is not even started (most workspaces). */
function maybeRepository(folder: string): boolean {
  for (let dir = path.resolve(folder); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, '.git'))) return true;
    if (path.dirname(dir) === dir) return false;
  }
}

/** Calls for one folder while a lookup is in flight share it: a flood of checkpoints starts one git. */
const inFlight = new Map<string, Promise<string | undefined>>();

/** The commit checked out in `folder`, or undefined. Never rejects. */
export function gitHead(folder: string): Promise<string | undefined> {
  const pending = inFlight.get(folder);
  if (pending) return pending;
  if (!maybeRepository(folder)) return Promise.resolve(undefined);
  const head = new Promise<string | undefined>((resolve) => {
    try {
      (loadBuiltin('node:child_process') as typeof import('node:child_process')).execFile(
        'git',
        ['rev-parse', '--verify', '--quiet', 'HEAD'],
        { cwd: folder, env: gitEnv(), timeout: GIT_TIMEOUT_MS, encoding: 'utf8', windowsHide: true },
        (error, stdout) => {
          const sha = String(stdout ?? '').trim();
          resolve(error === null && SHA_RE.test(sha) ? sha : undefined);
        },
      );
    } catch {
      resolve(undefined);
    }
  }).finally(() => inFlight.delete(folder));
  inFlight.set(folder, head);
  return head;
}

/** The commit of the agent's working folder, or undefined. Never rejects. */
export function agentCommit(home: string, agent: AgentConfig): Promise<string | undefined> {
  return gitHead(agentFolder(home, agent));
}
