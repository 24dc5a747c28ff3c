/**
 * The sim driver: simulated work for the demo and tests. It takes between minSeconds and
 * maxSeconds, fails with failRate, stalls (hangs until stopped) with stallRate, reports progress
 * and a checkpoint half-way, and resumes from a checkpoint. Every line it prints starts with
 * "[simulated]" so it is never mistaken for real work. No process is started, so a task with a
 * `run` command is never taken: marking real work done without running it would be a lie.
 */

import type { Task } from '../../state/schemas.js';
import { driverAccepts } from './accepts.js';
import type { Driver } from './config.js';
import { RunOutput } from './output.js';
import { type StopReason, stoppedOutcome } from './supervise.js';
import type { AgentDriver, DriverContext, DriverOutcome, DriverRun } from './types.js';

type SimConfig = Extract<Driver, { kind: 'sim' }>;

export interface SimOptions {
  /** Uniform in [0, 1): inject a seeded one for reproducible runs. */
  random?: () => number;
  /** Steps the work is split into (progress is reported after each). */
  steps?: number;
}

const LABEL = '[simulated]';

/** A small seeded generator (mulberry32) for reproducible demos and tests. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ACTIVITIES = ['reading the task', 'planning', 'editing files', 'running checks', 'writing the report'];

export function createSimDriver(config: SimConfig, options: SimOptions = {}): AgentDriver {
  const random = options.random ?? Math.random;
  const steps = options.steps ?? 5;
  return {
    kind: 'sim',
    accepts: (task: Task) => driverAccepts(config, task),
    start(ctx: DriverContext): DriverRun {
      // Decide everything up front, so a seeded generator gives the same run every time.
      const stall = random() < config.stallRate;
      const fail = !stall && random() < config.failRate;
      const low = Math.min(config.minSeconds, config.maxSeconds);
      const seconds = low + random() * Math.abs(config.maxSeconds - config.minSeconds);
      return simulate(ctx, { stall, fail, seconds, steps });
    },
  };
}

interface Plan {
  stall: boolean;
  fail: boolean;
  seconds: number;
  steps: number;
}

function simulate(ctx: DriverContext, plan: Plan): DriverRun {
  const output = new RunOutput(ctx);
  const say = (text: string) => output.line(`${LABEL} ${text}`, 'stdout');
  let stopReason: StopReason | null = null;
  let wake: (() => void) | null = null;
  let timer: NodeJS.Timeout | undefined;
  const pause = (ms: number | null) =>
    new Promise<void>((resolve) => {
      wake = resolve;
      if (ms !== null) timer = setTimeout(resolve, ms);
    });

  const work = async (): Promise<DriverOutcome> => {
    const resumed = ctx.checkpoint?.task === ctx.task.id ? (ctx.checkpoint.progress ?? 0) : 0;
    const first = Math.min(plan.steps, Math.floor(resumed * plan.steps));
    say(
      `${ctx.task.id} "${ctx.task.title}": about ${plan.seconds.toFixed(1)} s of simulated work` +
        (first > 0 ? `, resuming at step ${first + 1}/${plan.steps}` : ''),
    );
    const stallAt = Math.min(plan.steps - 1, first + 1);
    for (let step = first; step < plan.steps; step++) {
      if (plan.stall && step === stallAt) {
        say('stalled: no progress until stopped');
        await pause(null);
      } else {
        await pause((plan.seconds * 1000) / plan.steps);
      }
      if (stopReason !== null) {
        say(`stopped (${stopReason})`);
        return stoppedOutcome(stopReason, ctx.timeoutSeconds);
      }
      const progress = (step + 1) / plan.steps;
      say(`step ${step + 1}/${plan.steps}: ${ACTIVITIES[step % ACTIVITIES.length]}`);
      ctx.onProgress(progress);
      if (step + 1 === Math.ceil(plan.steps / 2)) {
        ctx.onCheckpoint({ step: `${LABEL} step ${step + 1}/${plan.steps}`, progress });
      }
    }
    if (plan.fail) {
      say('failed (a simulated failure)');
      return { ok: false, errorCode: 'E_FAILED', error: `${LABEL} simulated failure` };
    }
    say('done');
    return { ok: true, summary: `${LABEL} completed ${ctx.task.title}` };
  };

  const stop = async (reason: StopReason) => {
    stopReason ??= reason;
    clearTimeout(timer);
    wake?.();
    await done;
  };
  const timeout =
    ctx.timeoutSeconds === undefined
      ? undefined
      : setTimeout(() => void stop('timeout'), ctx.timeoutSeconds * 1000);
  const done = work()
    .catch((error: Error): DriverOutcome => ({ ok: false, errorCode: 'E_FAILED', error: error.message }))
    .finally(() => {
      clearTimeout(timeout);
      output.close();
    });
  return { done, stop };
}
