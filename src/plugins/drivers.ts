/**
 * A plugin's driver kind as the orchestrator runs it (docs/plugins.md#drivers): the agents' driver
 * interface around the plugin's `run`, under the guard of every plugin call. A run is bounded as a
 * built-in driver's is, by the task's timeout; on a stop (cancel, timeout, shutdown) its signal is
 * aborted, and a run that has not ended within the plugin timeout after that is a hang. Throwing,
 * hanging, or returning what is not a result switches the plugin off (the alert is the host's);
 * a result with `ok: false` is only a failed attempt.
 */
import fs from 'node:fs';
import type * as z from 'zod';
import type { DriverKind } from '../../agents/drivers/registry.js';
import { type StopReason, settledRun, stoppedOutcome } from '../../agents/drivers/supervise.js';
import type { AgentDriver, DriverContext, DriverOutcome, DriverRun } from '../../agents/drivers/types.js';
import type { Task } from '../../state/schemas.js';
import { oneLine } from '../sanitize.js';
import { type DriverOptionsSchema, DriverResult, firstIssue, type PluginDriver } from './types.js';

/** What the host lends a plugin's driver: whether its plugin is on, and how to switch it off. */
export interface DriverGuard {
  plugin: string;
  on(): boolean;
  /** Why the plugin is off. */
  why(): string | null;
  switchOff(reason: string): void;
  /** How long a run may take to end once asked to stop. */
  timeoutMs: number;
}

/** What one run may write to the task's log; past it, lines still reach whoever watches. */
const MAX_LOG_BYTES = 5 * 1024 * 1024;

const messageOf = (error: unknown) => oneLine(error instanceof Error ? error.message : String(error), 300);

/** The agent's options as the driver's schema (or function) returns them; throws saying what is wrong. */
function checkOptions(driver: PluginDriver<unknown>, raw: Record<string, unknown>): unknown {
  const check = driver.options;
  if (check === undefined) return raw;
  let problem: string;
  try {
    if (typeof check === 'function') return check(raw);
    const parsed = (check as DriverOptionsSchema<unknown>).safeParse(raw);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    problem = issue ? `${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}` : 'refused';
  } catch (error) {
    problem = messageOf(error);
  }
  throw new Error(`its ${driver.kind} driver options are wrong: ${oneLine(problem, 300)}`);
}

function accepts(driver: PluginDriver<unknown>, task: Task, guard: DriverGuard): boolean {
  if (!guard.on()) return false;
  if (driver.accepts === undefined) return true;
  try {
    const answer: unknown = driver.accepts(task);
    if (typeof answer === 'boolean') return answer;
    guard.switchOff(`driver ${driver.kind} accepts returned ${typeof answer}, not true or false`);
  } catch (error) {
    guard.switchOff(`driver ${driver.kind} accepts threw: ${messageOf(error)}`);
  }
  return false;
}

/** Lines into the task's log, up to a cap; a log that cannot be written loses its lines, not the run. */
function taskLog(path: string): { write(line: string): void; close(): void } {
  let fd: number | null = null;
  let bytes = 0;
  try {
    fd = fs.openSync(path, 'a', 0o600);
  } catch {
    // no log: the lines still reach whoever watches the run
  }
  return {
    write(line) {
      if (fd === null || bytes > MAX_LOG_BYTES) return;
      const full = bytes + Buffer.byteLength(line) + 1 > MAX_LOG_BYTES;
      const text = full ? '[dreamos] the rest of the output is not logged\n' : `${line}\n`;
      // Past the cap, the note is written once and nothing after it.
      bytes = full ? MAX_LOG_BYTES + 1 : bytes + Buffer.byteLength(text);
      try {
        fs.writeSync(fd, text);
      } catch {
        bytes = MAX_LOG_BYTES + 1;
      }
    },
    close() {
      if (fd !== null) fs.closeSync(fd);
      fd = null;
    },
  };
}

function outcomeOf(result: z.infer<typeof DriverResult>): DriverOutcome {
  const r = result ?? { ok: true };
  return {
    ok: r.ok,
    ...(r.summary !== undefined ? { summary: oneLine(r.summary, 2000) } : {}),
    ...(r.ok
      ? {}
      : { errorCode: 'E_FAILED' as const, error: oneLine(r.error ?? 'the driver reported a failure', 2000) }),
    ...(r.usage ? { usage: r.usage } : {}),
  };
}

function startRun(
  driver: PluginDriver<unknown>,
  options: unknown,
  ctx: DriverContext,
  guard: DriverGuard,
): DriverRun {
  if (!guard.on()) {
    const error = `plugin ${guard.plugin} is switched off: ${guard.why() ?? 'it failed'}`;
    return settledRun({ ok: false, errorCode: 'E_DRIVER', error });
  }
  const controller = new AbortController();
  const log = taskLog(ctx.logPath);
  let stopReason: StopReason | null = null;
  let settled = false;
  let settle!: (outcome: DriverOutcome) => void;
  const done = new Promise<DriverOutcome>((resolve) => {
    settle = resolve;
  });
  const timers: NodeJS.Timeout[] = [];
  const finish = (outcome: DriverOutcome) => {
    if (settled) return;
    settled = true;
    for (const timer of timers) clearTimeout(timer);
    log.close();
    settle(outcome);
  };
  /** A bug of the plugin: it is switched off, and the attempt fails saying so. */
  const broken = (reason: string) => {
    guard.switchOff(reason);
    finish({ ok: false, errorCode: 'E_DRIVER', error: `plugin ${guard.plugin}: ${reason}` });
  };
  const stopped = () => stoppedOutcome(stopReason!, ctx.timeoutSeconds);
  const work = Promise.resolve().then(() =>
    driver.run(ctx.task, {
      signal: controller.signal,
      options: options as Record<string, unknown>,
      agent: { id: ctx.agent.id, systemPrompt: ctx.agent.systemPrompt },
      cwd: ctx.cwd,
      home: ctx.home,
      checkpoint: ctx.checkpoint
        ? {
            ...(ctx.checkpoint.step !== undefined ? { step: ctx.checkpoint.step } : {}),
            ...(typeof ctx.checkpoint.progress === 'number' ? { progress: ctx.checkpoint.progress } : {}),
            ...(ctx.checkpoint.summary !== undefined ? { summary: ctx.checkpoint.summary } : {}),
            ...(ctx.checkpoint.data !== undefined ? { data: ctx.checkpoint.data } : {}),
          }
        : null,
      log: (text) => {
        if (settled) return;
        for (const line of String(text).split(/\r?\n/)) {
          log.write(line);
          ctx.onLine(line, 'stdout');
        }
      },
      progress: (fraction) => {
        if (!settled && Number.isFinite(fraction)) ctx.onProgress(Math.min(1, Math.max(0, fraction)));
      },
    }),
  );
  work.then(
    (result) => {
      if (settled) return;
      if (stopReason) return finish(stopped());
      const parsed = DriverResult.safeParse(result);
      if (!parsed.success)
        return broken(`driver ${driver.kind} returned what is not a result: ${firstIssue(parsed.error)}`);
      finish(outcomeOf(parsed.data));
    },
    (error: unknown) => {
      if (settled) return;
      if (stopReason) return finish(stopped());
      broken(`driver ${driver.kind} threw: ${messageOf(error)}`);
    },
  );
  const stop = async (reason: StopReason) => {
    if (!settled && stopReason === null) {
      stopReason = reason;
      controller.abort(new Error(reason === 'timeout' ? `timed out after ${ctx.timeoutSeconds} s` : reason));
      timers.push(
        setTimeout(() => {
          const why = `driver ${driver.kind} did not stop within ${guard.timeoutMs} ms of being asked (${reason})`;
          guard.switchOff(why);
          const outcome = stopped();
          finish({ ...outcome, error: `${outcome.error}; plugin ${guard.plugin}: ${why}` });
        }, guard.timeoutMs),
      );
    }
    await done;
  };
  if (ctx.timeoutSeconds !== undefined)
    timers.push(setTimeout(() => void stop('timeout'), ctx.timeoutSeconds * 1000));
  return { done, stop };
}

/** A plugin's driver as a kind for the registry: `create` checks an agent's options with the plugin's schema. */
export function hostedDriverKind(driver: PluginDriver<unknown>, guard: DriverGuard): DriverKind {
  return {
    kind: driver.kind,
    from: `plugin ${guard.plugin}`,
    create(config) {
      const { kind: _, ...raw } = config;
      const options = checkOptions(driver, raw);
      const agentDriver: AgentDriver = {
        kind: driver.kind,
        accepts: (task) => accepts(driver, task, guard),
        start: (ctx) => startRun(driver, options, ctx, guard),
      };
      return agentDriver;
    },
  };
}
