/**
 * What every driven program learns about its task: the DREAMOS_* environment variables (docs/drivers.md),
 * and the working folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../../state/errors.js';
import { workspaceRoot } from '../../state/paths.js';
import { withoutPassword } from '../../state/pg/connection.js';
import { realFolder, writeAndClose } from '../../state/safe-files.js';
import type { Task } from '../../state/schemas.js';
import type { DriverContext } from './types.js';

/** Linux refuses a single environment string over 128 KiB (E2BIG); stay well below. */
const MAX_TASK_JSON = 100 * 1024;

/** The task as JSON for DREAMOS_TASK_JSON: without its history, the prompt shortened if it must be. */
export function taskJson(task: Task): string {
  const { history: _history, ...rest } = task;
  const json = JSON.stringify(rest);
  if (Buffer.byteLength(json) <= MAX_TASK_JSON) return json;
  const room = Math.max(0, MAX_TASK_JSON - (Buffer.byteLength(json) - Buffer.byteLength(rest.prompt ?? '')));
  // Cut by characters at a budget of 1/4 of the room: safe for any UTF-8 width and JSON escaping.
  return JSON.stringify({
    ...rest,
    prompt: (rest.prompt ?? '').slice(0, Math.floor(room / 4)),
    promptTruncated: true,
  });
}

/** A checkpoint may be larger than one environment string or argument can hold (its data, a long summary). */
export const MAX_CHECKPOINT_JSON = 64 * 1024;

/**
 * The last checkpoint as JSON for DREAMOS_CHECKPOINT and `{checkpoint}` ('' without one). Past
 * MAX_CHECKPOINT_JSON bytes it is left without `data`, its summary shortened, and marked
 * `"truncated": true` (the whole of it is in DREAMOS_CHECKPOINT_FILE).
 */
export function checkpointJson(ctx: Pick<DriverContext, 'checkpoint'>): string {
  return boundedCheckpoint(ctx).json;
}

function boundedCheckpoint(ctx: Pick<DriverContext, 'checkpoint'>): { json: string; truncated: boolean } {
  if (!ctx.checkpoint) return { json: '', truncated: false };
  const json = JSON.stringify(ctx.checkpoint);
  if (Buffer.byteLength(json) <= MAX_CHECKPOINT_JSON) return { json, truncated: false };
  const { data: _data, summary: full, ...rest } = ctx.checkpoint;
  let summary = full ?? '';
  for (;;) {
    const short = JSON.stringify({ ...rest, ...(summary ? { summary } : {}), truncated: true });
    const size = Buffer.byteLength(short);
    if (size <= MAX_CHECKPOINT_JSON || summary === '') return { json: short, truncated: true };
    summary = summary.slice(0, Math.floor(summary.length * (MAX_CHECKPOINT_JSON / size) * 0.9));
  }
}

/** Where a checkpoint too large for the environment is written for the run: beside its log. */
export function checkpointFilePath(logPath: string): string {
  return `${logPath.replace(/\.log$/, '')}.checkpoint.json`;
}

/**
 * Writes the whole checkpoint to a new file of the run's own, mode 600; null on failure. The folders
 * are checked like the log's (a planted link in place of `logs/<agent>/` is refused), and whatever
 * is at the file's name is removed first, so a link or a hard link there is never written through.
 */
function writeCheckpointFile(ctx: Pick<DriverContext, 'checkpoint' | 'logPath'>): string | null {
  const file = checkpointFilePath(ctx.logPath);
  try {
    const agentDir = path.dirname(file);
    const logsDir = path.dirname(agentDir);
    const home = path.dirname(logsDir);
    realFolder(home, logsDir);
    realFolder(home, agentDir);
    try {
      fs.unlinkSync(file);
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT') throw error;
    }
    const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
    const fd = fs.openSync(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    writeAndClose(fd, Buffer.from(JSON.stringify(ctx.checkpoint)));
    return file;
  } catch {
    return null;
  }
}

export function dreamosEnv(ctx: DriverContext): Record<string, string> {
  const { json: checkpoint, truncated } = boundedCheckpoint(ctx);
  const file = truncated ? writeCheckpointFile(ctx) : null;
  const token = ctx.task.lease?.token;
  return {
    DREAMOS_TASK_ID: ctx.task.id,
    // The fencing token of the claim: `dreamos task complete|fail|renew` sends it, so that a run
    // whose lease was lost cannot report on the task (docs/decisions/lease-fencing.md).
    ...(token !== undefined ? { DREAMOS_LEASE_TOKEN: String(token) } : {}),
    DREAMOS_TASK_JSON: taskJson(ctx.task),
    DREAMOS_AGENT_ID: ctx.agent.id,
    DREAMOS_HOME: ctx.home,
    DREAMOS_CHECKPOINT: checkpoint,
    ...(file ? { DREAMOS_CHECKPOINT_FILE: file } : {}),
  };
}

/**
 * API key variables of the usual model providers: kept from driven programs like every agent's
 * `apiKeyEnv`, since a task that prints its environment would put them in the log and the board.
 */
export const WELL_KNOWN_SECRET_ENV: readonly string[] = [
  'OPENAI_API_KEY',
  'AZURE_OPENAI_API_KEY',
  'ANTHROPIC_API_KEY',
  'ANTHROPIC_AUTH_TOKEN',
  'CLAUDE_CODE_OAUTH_TOKEN',
  'GEMINI_API_KEY',
  'GOOGLE_API_KEY',
  'MISTRAL_API_KEY',
  'GROQ_API_KEY',
  'OPENROUTER_API_KEY',
  'DEEPSEEK_API_KEY',
  'XAI_API_KEY',
  'TOGETHER_API_KEY',
  'FIREWORKS_API_KEY',
  'COHERE_API_KEY',
  'PERPLEXITY_API_KEY',
  'HF_TOKEN',
  // The PostgreSQL backend's password (docs/postgres.md): a driven program's own `dreamos` calls
  // find it in ~/.pgpass, or the driver passes it on by name.
  'PGPASSWORD',
];

export interface DriverEnvConfig {
  /** Variables set for the program (config). */
  env?: Record<string, string>;
  /** Secret variables of this process passed on by name (config), e.g. a CLI's own API key. */
  passEnv?: readonly string[];
}

/**
 * The environment of a driven program: this process's environment without its secrets (every
 * agent's `apiKeyEnv` and the well-known key variables, unless the driver passes them on by name),
 * then the orchestrator's extra variables, then the driver's own (config), then DREAMOS_* (always
 * correct for this task).
 */
export function childEnv(ctx: DriverContext, driver: DriverEnvConfig = {}): NodeJS.ProcessEnv {
  const inherited: NodeJS.ProcessEnv = { ...process.env };
  const passed = new Set(driver.passEnv ?? []);
  for (const name of [...WELL_KNOWN_SECRET_ENV, ...(ctx.secretEnv ?? [])]) {
    if (!passed.has(name)) delete inherited[name];
  }
  // The shared store's address goes on, its password does not (unless passed on by name).
  if (inherited.DREAMOS_STORE && !passed.has('DREAMOS_STORE')) {
    const address = withoutPassword(inherited.DREAMOS_STORE);
    if (address) inherited.DREAMOS_STORE = address;
    else delete inherited.DREAMOS_STORE;
  }
  return { ...inherited, ...ctx.env, ...driver.env, ...dreamosEnv(ctx) };
}

/**
 * The working folder of a run: the driver's `cwd` resolved against the workspace's parent folder,
 * else the context's (which the orchestrator sets to that folder).
 */
export function runCwd(
  ctx: Pick<DriverContext, 'home' | 'cwd' | 'worktree'>,
  driverCwd: string | undefined,
): string {
  const cwd = driverCwd === undefined ? ctx.cwd : path.resolve(workspaceRoot(ctx.home), driverCwd);
  return ctx.worktree ? intoTree(ctx.worktree, cwd) : cwd;
}

/** `cwd`'s place inside the checkout `tree` of `repo` (the tree's top when `cwd` is outside it). */
export function intoTree(worktree: { tree: string; repo: string }, cwd: string): string {
  let real = cwd;
  try {
    real = fs.realpathSync(cwd);
  } catch {
    // a missing folder is reported by the supervisor
  }
  const rel = path.relative(worktree.repo, real);
  const inside = rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
  // The workspace's own folder is inside the repository but never inside a checkout of it.
  return inside && !rel.split(path.sep).includes('.dreamos') ? path.join(worktree.tree, rel) : worktree.tree;
}
