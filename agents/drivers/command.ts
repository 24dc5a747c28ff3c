/**
 * The command driver: runs a program from an argv template such as `["claude", "-p", "{prompt}"]`.
 * Placeholders are replaced inside argv elements and the program is started directly, never
 * through a shell, so a prompt full of shell syntax is just text. The task also arrives in the
 * DREAMOS_* environment variables.
 *
 * `{prompt}` is the task's prompt, or its title when it has none; the title is always available
 * as `{title}` (a template may combine them). `{checkpoint}` is the last checkpoint as JSON (empty
 * when there is none), like DREAMOS_CHECKPOINT.
 */

import type { Task } from '../../state/schemas.js';
import { driverAccepts } from './accepts.js';
import type { Driver } from './config.js';
import { checkpointJson, childEnv, runCwd } from './env.js';
import { preparedRun, type SupervisorTuning, settledRun, supervise } from './supervise.js';
import type { AgentDriver, DriverContext, DriverRun } from './types.js';
import { agentWorktree } from './worktree.js';

type CommandConfig = Extract<Driver, { kind: 'command' }>;

export const PLACEHOLDERS = ['prompt', 'title', 'taskId', 'agentId', 'home', 'checkpoint'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

const PLACEHOLDER_RE = new RegExp(`\\{(${PLACEHOLDERS.join('|')})\\}`, 'g');

export function promptOf(task: Task): string {
  return task.prompt ?? task.title;
}

export function placeholderValues(ctx: DriverContext): Record<Placeholder, string> {
  return {
    prompt: promptOf(ctx.task),
    title: ctx.task.title,
    taskId: ctx.task.id,
    agentId: ctx.agent.id,
    home: ctx.home,
    checkpoint: checkpointJson(ctx),
  };
}

/**
 * One pass over each element: a value that itself contains `{title}` is not expanded again.
 * Unknown braces (`{"json": 1}`) are left alone.
 */
export function expandArgv(template: readonly string[], values: Record<Placeholder, string>): string[] {
  return template.map((element) =>
    element.replace(PLACEHOLDER_RE, (_match, name: Placeholder) => values[name]),
  );
}

/** Linux refuses one argument of 128 KiB or more (MAX_ARG_STRLEN, counting its final NUL): E2BIG. */
export const MAX_ARG_BYTES = 128 * 1024 - 1;

/** Why the expanded argv cannot be started (an element too long for execve), or null. */
export function oversizedArgument(template: readonly string[], argv: readonly string[]): string | null {
  for (const [i, element] of argv.entries()) {
    const bytes = Buffer.byteLength(element);
    if (bytes <= MAX_ARG_BYTES) continue;
    const names = [...(template[i] ?? '').matchAll(PLACEHOLDER_RE)].map((m) => m[0]);
    const what = names.length > 0 ? names.join(', ') : `argument ${i}`;
    return (
      `the argv element with ${what} is ${bytes} bytes, over the ${MAX_ARG_BYTES} bytes one program ` +
      'argument may hold: shorten the prompt, or have the program read the task itself ' +
      '(`dreamos task show "$DREAMOS_TASK_ID" --json`)'
    );
  }
  return null;
}

/** Placeholders whose values are free text that a task's author (or an llm agent) chooses. */
const FREE_TEXT = new Set(['{prompt}', '{title}']);

/**
 * Why the expanded argv would hand free text to the program as an option, or null: an element that
 * is exactly `{prompt}` or `{title}`, whose value starts with "-", not after a "--" element.
 */
export function optionLikeArgument(template: readonly string[], argv: readonly string[]): string | null {
  const end = template.indexOf('--');
  for (const [i, element] of template.entries()) {
    if (end !== -1 && i > end) break;
    if (!FREE_TEXT.has(element) || !argv[i]?.startsWith('-')) continue;
    return (
      `${element} starts with "-" and would reach the program as an option: put "--" before ${element} ` +
      `in the argv template (when the program supports it), or write the option as --name=${element}`
    );
  }
  return null;
}

export function createCommandDriver(config: CommandConfig, tuning: SupervisorTuning = {}): AgentDriver {
  return {
    kind: 'command',
    accepts: (task: Task) => driverAccepts(config, task),
    start(ctx: DriverContext): DriverRun {
      const [file, ...args] = expandArgv(config.argv, placeholderValues(ctx));
      if (file === undefined || file === '') {
        return settledRun({ ok: false, errorCode: 'E_SPAWN', error: 'the argv template names no program' });
      }
      const tooLong = oversizedArgument(config.argv, [file, ...args]);
      if (tooLong) return settledRun({ ok: false, errorCode: 'E_SPAWN', error: tooLong });
      const optionLike = optionLikeArgument(config.argv, [file, ...args]);
      if (optionLike) return settledRun({ ok: false, errorCode: 'E_SPAWN', error: optionLike });
      const cwd = runCwd(ctx, config.cwd);
      const env = childEnv(ctx, config);
      if (!config.worktree || ctx.worktree) return supervise(ctx, { ...tuning, file, args, cwd, env });
      return preparedRun(async () => {
        const plan = await agentWorktree(ctx.home, ctx.agent.id, cwd);
        return () => supervise(ctx, { ...tuning, file, args, cwd: plan.cwd, env, notes: [plan.note] });
      }, ctx.timeoutSeconds);
    },
  };
}
