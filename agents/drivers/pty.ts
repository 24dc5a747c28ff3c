/**
 * The pty driver (docs/sessions.md): an interactive agent CLI in a pseudo-terminal the orchestrator
 * owns, started from an argv template like the command driver's (the prompt is an argument, never
 * typed). The operator can attach to it, peek at it and type into it while it runs. The
 * conversation's id goes into the run's checkpoints, so that the next run of the task resumes it
 * (the `resume` template) where the program supports that.
 *
 * Placeholders are the command driver's, plus `{sessionId}`: in `argv`, a new UUID for the run's
 * conversation; in `resume`, the id the last checkpoint holds; and `{hookSettings}`, the file of
 * the Claude Code settings that report its hooks (`"hooks": "claude"`).
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { realFolder, writeAndClose } from '../../state/safe-files.js';
import type { Task } from '../../state/schemas.js';
import { claudeHookSettings } from '../sessions/needs-input.js';
import { tmuxHolds, tmuxPane, tmuxSocketPath } from '../sessions/tmux.js';
import { driverAccepts } from './accepts.js';
import { expandArgv, optionLikeArgument, oversizedArgument, placeholderValues } from './command.js';
import type { Driver } from './config.js';
import { childEnv, runCwd } from './env.js';
import { runInPty } from './pty-run.js';
import { preparedRun, type SupervisorTuning, settledRun } from './supervise.js';
import type { AgentDriver, DriverContext, DriverRun } from './types.js';
import { agentWorktree } from './worktree.js';

type PtyConfig = Extract<Driver, { kind: 'pty' }>;

const SESSION = '{sessionId}';
const HOOK_SETTINGS = '{hookSettings}';

/** Where a run's hook settings are written: beside its log. */
export const hookSettingsPath = (logPath: string) => `${logPath.replace(/\.log$/, '')}.hooks.json`;

/**
 * Writes the run's Claude Code hook settings (mode 600, never through a link); null when the
 * `dreamos` command to report with is unknown (DREAMOS_BIN) or the file cannot be written.
 */
function writeHookSettings(ctx: DriverContext): string | null {
  const bin = ctx.env.DREAMOS_BIN;
  if (!bin) return null;
  const file = hookSettingsPath(ctx.logPath);
  try {
    const agentDir = path.dirname(file);
    realFolder(ctx.home, path.dirname(agentDir));
    realFolder(ctx.home, agentDir);
    fs.rmSync(file, { force: true });
    const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
    const fd = fs.openSync(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    writeAndClose(fd, Buffer.from(JSON.stringify(claudeHookSettings(process.execPath, bin), null, 2)));
    return file;
  } catch {
    return null;
  }
}

/** The argv of a run, and the conversation it is in: resumed from the checkpoint, or new. */
export function ptyArgv(
  config: Pick<PtyConfig, 'argv' | 'resume'>,
  ctx: DriverContext,
  newId: () => string = randomUUID,
  hookSettings?: string,
): { template: readonly string[]; argv: string[]; sessionId?: string; fresh: boolean } {
  const resumed = ctx.checkpoint?.sessionId;
  const template = resumed && config.resume ? config.resume : config.argv;
  const usesId = template.some((element) => element.includes(SESSION));
  const sessionId = resumed && config.resume ? resumed : usesId ? newId() : undefined;
  // The id first: it holds no braces, so the one pass of the other placeholders cannot expand it.
  const withId = sessionId === undefined ? template : template.map((e) => e.split(SESSION).join(sessionId));
  const withHooks =
    hookSettings === undefined ? withId : withId.map((e) => e.split(HOOK_SETTINGS).join(hookSettings));
  const argv = expandArgv(withHooks, placeholderValues(ctx));
  return { template, argv, ...(sessionId ? { sessionId } : {}), fresh: !(resumed && config.resume) };
}

/** The run of this task a dead orchestrator left in its tmux server, followed again; null when there is none. */
function adoptTmux(
  config: PtyConfig,
  ctx: DriverContext,
  tuning: SupervisorTuning,
  pattern: RegExp | undefined,
): DriverRun | null {
  const socket = tmuxSocketPath(ctx.home, ctx.agent.id);
  const pane = tmuxHolds(socket, ctx.agent.id, ctx.home, ctx.task.id) ? tmuxPane(socket) : null;
  if (!pane) return null;
  const sessionId = ctx.checkpoint?.sessionId;
  return runInPty(ctx, {
    ...tuning,
    file: 'tmux',
    args: [],
    cwd: ctx.cwd,
    env: childEnv(ctx, config),
    cols: pane.cols,
    rows: pane.rows,
    ...(sessionId ? { sessionId, announceSession: false } : {}),
    ...(pattern ? { sessionIdPattern: pattern } : {}),
    tmux: { adopt: pane.pid },
    notes: [`adopted the live session in tmux: its program (pid ${pane.pid}) goes on`],
  });
}

export function createPtyDriver(config: PtyConfig, tuning: SupervisorTuning = {}): AgentDriver {
  const pattern = config.sessionIdPattern ? new RegExp(config.sessionIdPattern) : undefined;
  return {
    kind: 'pty',
    accepts: (task: Task) => driverAccepts(config, task),
    start(ctx: DriverContext): DriverRun {
      const hooks = config.hooks === 'claude' ? writeHookSettings(ctx) : undefined;
      if (hooks === null)
        return settledRun({
          ok: false,
          errorCode: 'E_SPAWN',
          error:
            'the hook settings could not be written (the `dreamos` command is unknown, or the logs folder refused them)',
        });
      const { template, argv, sessionId, fresh } = ptyArgv(config, ctx, randomUUID, hooks);
      const [file, ...args] = argv;
      if (file === undefined || file === '')
        return settledRun({ ok: false, errorCode: 'E_SPAWN', error: 'the argv template names no program' });
      const problem = oversizedArgument(template, argv) ?? optionLikeArgument(template, argv);
      if (problem) return settledRun({ ok: false, errorCode: 'E_SPAWN', error: problem });
      const notes = [
        ...(!fresh ? [`resuming the conversation ${sessionId}`] : []),
        ...(fresh && ctx.checkpoint?.sessionId && !config.resume
          ? [
              `the checkpoint names the conversation ${ctx.checkpoint.sessionId}, but the driver has no "resume" template: a new one starts`,
            ]
          : []),
      ];
      const options = {
        ...tuning,
        file,
        args,
        env: childEnv(ctx, config),
        cols: config.cols,
        rows: config.rows,
        ...(config.env.TERM ? { term: config.env.TERM } : {}),
        ...(sessionId ? { sessionId, announceSession: fresh } : {}),
        ...(pattern ? { sessionIdPattern: pattern } : {}),
        ...(config.backend === 'tmux' ? { tmux: {} } : {}),
      };
      const cwd = runCwd(ctx, config.cwd);
      if (!config.worktree) return runInPty(ctx, { ...options, cwd, notes });
      return preparedRun(async () => {
        const plan = await agentWorktree(ctx.home, ctx.agent.id, cwd);
        return () => runInPty(ctx, { ...options, cwd: plan.cwd, notes: [plan.note, ...notes] });
      }, ctx.timeoutSeconds);
    },
    // A tmux session outlives its orchestrator: the next one takes it over.
    ...(config.backend === 'tmux'
      ? { adopt: (ctx: DriverContext) => adoptTmux(config, ctx, tuning, pattern) }
      : {}),
  };
}
