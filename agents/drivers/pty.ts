/**
 * The pty driver (docs/sessions.md): an interactive agent CLI in a pseudo-terminal the orchestrator
 * owns, started from an argv template like the command driver's (the prompt is an argument, never
 * typed). The operator can attach to it, peek at it and type into it while it runs. The
 * conversation's id goes into the run's checkpoints, so that the next run of the task resumes it
 * (the `resume` template) where the program supports that.
 *
 * Placeholders are the command driver's, plus `{sessionId}`: in `argv`, a new UUID for the run's
 * conversation; in `resume`, the id the last checkpoint holds.
 */
import { randomUUID } from 'node:crypto';
import type { Task } from '../../state/schemas.js';
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

/** The argv of a run, and the conversation it is in: resumed from the checkpoint, or new. */
export function ptyArgv(
  config: Pick<PtyConfig, 'argv' | 'resume'>,
  ctx: DriverContext,
  newId: () => string = randomUUID,
): { template: readonly string[]; argv: string[]; sessionId?: string; fresh: boolean } {
  const resumed = ctx.checkpoint?.sessionId;
  const template = resumed && config.resume ? config.resume : config.argv;
  const usesId = template.some((element) => element.includes(SESSION));
  const sessionId = resumed && config.resume ? resumed : usesId ? newId() : undefined;
  // The id first: it holds no braces, so the one pass of the other placeholders cannot expand it.
  const withId = sessionId === undefined ? template : template.map((e) => e.split(SESSION).join(sessionId));
  const argv = expandArgv(withId, placeholderValues(ctx));
  return { template, argv, ...(sessionId ? { sessionId } : {}), fresh: !(resumed && config.resume) };
}

export function createPtyDriver(config: PtyConfig, tuning: SupervisorTuning = {}): AgentDriver {
  const pattern = config.sessionIdPattern ? new RegExp(config.sessionIdPattern) : undefined;
  return {
    kind: 'pty',
    accepts: (task: Task) => driverAccepts(config, task),
    start(ctx: DriverContext): DriverRun {
      const { template, argv, sessionId, fresh } = ptyArgv(config, ctx);
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
      };
      const cwd = runCwd(ctx, config.cwd);
      if (!config.worktree) return runInPty(ctx, { ...options, cwd, notes });
      return preparedRun(async () => {
        const plan = await agentWorktree(ctx.home, ctx.agent.id, cwd);
        return () => runInPty(ctx, { ...options, cwd: plan.cwd, notes: [plan.note, ...notes] });
      }, ctx.timeoutSeconds);
    },
  };
}
