/**
 * The shell driver: runs the task's `run` command with `<shell> -c` in the agent's working folder.
 * The command is the operator's own text, so a shell is what they asked for; nothing else is ever
 * put through one.
 */

import type { Task } from '../../state/schemas.js';
import { driverAccepts } from './accepts.js';
import type { Driver } from './config.js';
import { childEnv, runCwd } from './env.js';
import { type SupervisorTuning, settledRun, supervise } from './supervise.js';
import type { AgentDriver, DriverContext, DriverRun } from './types.js';

type ShellConfig = Extract<Driver, { kind: 'shell' }>;

export function createShellDriver(config: ShellConfig, tuning: SupervisorTuning = {}): AgentDriver {
  return {
    kind: 'shell',
    accepts: (task: Task) => driverAccepts(config, task),
    start(ctx: DriverContext): DriverRun {
      const run = ctx.task.run;
      if (run === undefined || run.trim() === '') {
        return settledRun({ ok: false, errorCode: 'E_SPAWN', error: 'the task has no `run` command' });
      }
      return supervise(ctx, {
        ...tuning,
        file: config.shell,
        args: ['-c', run],
        cwd: runCwd(ctx, config.cwd),
        env: childEnv(ctx, config),
      });
    },
  };
}
