/**
 * Process supervision for the shell and command drivers (docs/drivers.md): the program runs in its own
 * process group, never through a shell unless the caller asks for one; its output is streamed line
 * by line to `onLine` and the log (capped); `::dreamos {json}` lines report progress and
 * checkpoints; a timeout or stop sends SIGTERM to the whole group and SIGKILL after a grace period.
 * `done` settles only when the program and everything it started are gone.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import { groupAlive, signalGroup, stopProcessGroup, trackGroup, untrackGroup } from '../platform/process.js';
import { DEFAULT_MAX_LINE_BYTES, LineSplitter, RunOutput, type Stream } from './output.js';
import type { DriverContext, DriverOutcome, DriverRun } from './types.js';

export type StopReason = 'cancel' | 'timeout' | 'shutdown' | 'restart';

export interface SuperviseOptions {
  /** The program, looked up on PATH when it has no slash. */
  file: string;
  args: readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Between SIGTERM and SIGKILL (default 3 s). */
  graceMs?: number;
  /** Log size cap for this run (default 10 MiB). */
  maxLogBytes?: number;
  /** Longer lines are cut (default 64 KiB). */
  maxLineBytes?: number;
  /** Notes written to the log before the program's output (e.g. which worktree it runs in). */
  notes?: readonly string[];
}

/** Supervisor settings a driver may pass through (tests shorten the grace period). */
export type SupervisorTuning = Pick<SuperviseOptions, 'graceMs' | 'maxLogBytes' | 'maxLineBytes'>;

const DIRECTIVE = Buffer.from('::dreamos');
const MAX_NOTES = 5;
const CLOSE_WAIT_MS = 2000;

const cutText = (text: string, max: number) => (text.length > max ? `${text.slice(0, max)}…` : text);

/** The outcome of a run that was stopped, by why it was stopped. */
export function stoppedOutcome(reason: StopReason, timeoutSeconds?: number): DriverOutcome {
  if (reason === 'timeout') {
    return { ok: false, errorCode: 'E_TIMEOUT', error: `timed out after ${timeoutSeconds ?? '?'} s` };
  }
  const error = {
    shutdown: 'stopped: the orchestrator is shutting down',
    restart: 'stopped: the agent is restarting',
    cancel: 'cancelled',
  }[reason];
  return { ok: false, errorCode: 'E_CANCELLED', error };
}

export function spawnErrorMessage(file: string, error: NodeJS.ErrnoException): string {
  const code = error.code ?? 'error';
  if (code === 'ENOENT') {
    const where = file.includes('/') ? 'no such file' : 'not found on PATH';
    return `cannot start "${file}": ${where} (ENOENT)`;
  }
  if (code === 'EACCES') return `cannot start "${file}": permission denied (EACCES)`;
  if (code === 'E2BIG') return `cannot start "${file}": arguments or environment too large (E2BIG)`;
  return `cannot start "${file}": ${error.message}`;
}

/** A run that ended before anything started. */
export function settledRun(outcome: DriverOutcome): DriverRun {
  const done = Promise.resolve(outcome);
  return { done, stop: async () => {} };
}

function directoryProblem(cwd: string): string | null {
  try {
    return fs.statSync(cwd).isDirectory() ? null : `the working folder ${cwd} is not a folder`;
  } catch {
    return `the working folder ${cwd} does not exist`;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const clamp01 = (n: number) => Math.min(1, Math.max(0, n));

/**
 * Applies one `::dreamos {json}` line. Returns what the log should say about it: why the line was
 * ignored, or what part of it was; null when all of it was used.
 */
export function applyDirective(
  json: string,
  ctx: Pick<DriverContext, 'onProgress' | 'onCheckpoint'>,
): string | null {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return 'ignored a ::dreamos line: not valid JSON';
  }
  if (!isRecord(value)) return 'ignored a ::dreamos line: not a JSON object';
  let partly: string | null = null;
  let used = false;
  if (typeof value.progress === 'number' && Number.isFinite(value.progress)) {
    ctx.onProgress(clamp01(value.progress));
    used = true;
  }
  const cp = value.checkpoint;
  if (isRecord(cp)) {
    ctx.onCheckpoint({
      ...(typeof cp.step === 'string' ? { step: cp.step } : {}),
      ...(typeof cp.progress === 'number' && Number.isFinite(cp.progress)
        ? { progress: clamp01(cp.progress) }
        : {}),
      ...(typeof cp.summary === 'string' ? { summary: cp.summary } : {}),
      ...(typeof cp.sessionId === 'string' ? { sessionId: cp.sessionId } : {}),
      ...(isRecord(cp.data) ? { data: cp.data } : {}),
    });
    if (cp.data !== undefined && !isRecord(cp.data))
      partly = 'a ::dreamos checkpoint was saved without its "data": it is not a JSON object';
    used = true;
  }
  return used ? partly : 'ignored a ::dreamos line: neither "progress" nor "checkpoint"';
}

export function supervise(ctx: DriverContext, options: SuperviseOptions): DriverRun {
  const problem = directoryProblem(options.cwd);
  if (problem) return settledRun({ ok: false, errorCode: 'E_SPAWN', error: problem });

  const graceMs = options.graceMs ?? 3000;
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  let child: ChildProcess;
  try {
    child = spawn(options.file, options.args, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    // Synchronous refusals: a NUL byte in an argument, an invalid option.
    return settledRun({
      ok: false,
      errorCode: 'E_SPAWN',
      error: spawnErrorMessage(options.file, error as NodeJS.ErrnoException),
    });
  }

  const output = new RunOutput(ctx, { maxLogBytes: options.maxLogBytes });
  for (const note of options.notes ?? []) output.note(note);
  let settle!: (outcome: DriverOutcome) => void;
  const done = new Promise<DriverOutcome>((resolve) => {
    settle = resolve;
  });
  let stopReason: StopReason | null = null;
  let exited = false;
  let termSentAt = 0;
  let killTimer: NodeJS.Timeout | undefined;
  let timeoutTimer: NodeJS.Timeout | undefined;
  let notes = 0;

  const safely = (fn: () => void) => {
    try {
      fn();
    } catch (error) {
      output.note(`a handler failed: ${(error as Error).message}`);
    }
  };

  const handleLine = (line: Buffer, cut: boolean, stream: Stream) => {
    const directive = line.subarray(0, DIRECTIVE.length).equals(DIRECTIVE);
    if (directive && cut && notes++ < MAX_NOTES)
      output.note(`ignored a ::dreamos line: longer than ${maxLineBytes} bytes`);
    if (directive && !cut) {
      const json = line.toString('utf8').slice(DIRECTIVE.length).trim();
      let problem: string | null;
      try {
        problem = applyDirective(json, ctx);
      } catch (error) {
        problem = `ignored a ::dreamos line: a handler failed: ${(error as Error).message}`;
      }
      if (problem !== null && notes++ < MAX_NOTES) output.note(problem);
    }
    const text = line.toString('utf8');
    output.line(cut ? `${text} …[line cut at ${maxLineBytes} bytes]` : text, stream);
  };
  const splitters = {
    stdout: new LineSplitter(maxLineBytes, (line, cut) => handleLine(line, cut, 'stdout')),
    stderr: new LineSplitter(maxLineBytes, (line, cut) => handleLine(line, cut, 'stderr')),
  };
  child.stdout?.on('data', (chunk: Buffer) => splitters.stdout.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => splitters.stderr.push(chunk));

  let closed = false;
  const closedPromise = new Promise<void>((resolve) => {
    child.once('close', () => {
      closed = true;
      resolve();
    });
  });

  const pid = child.pid;
  if (pid === undefined) {
    // The program could not be started: node reports why on 'error'.
    child.once('error', (error: NodeJS.ErrnoException) => {
      child.stdout?.destroy();
      child.stderr?.destroy();
      output.note(spawnErrorMessage(options.file, error));
      output.close();
      settle({ ok: false, errorCode: 'E_SPAWN', error: spawnErrorMessage(options.file, error) });
    });
    return {
      done,
      stop: async () => {
        await done;
      },
    };
  }

  const pgid = pid; // detached: the child leads a new session and process group
  trackGroup(pgid);
  child.on('error', (error) => output.note(`process error: ${error.message}`));
  child.once('spawn', () => safely(() => ctx.onSpawn({ pid, pgid })));

  const terminate = () => {
    if (termSentAt !== 0) return;
    termSentAt = Date.now();
    signalGroup(pgid, 'SIGTERM');
    killTimer = setTimeout(() => signalGroup(pgid, 'SIGKILL'), graceMs);
  };

  const stop = async (reason: StopReason) => {
    if (!exited && stopReason === null) {
      stopReason = reason;
      output.note(`stopping (${reason}): SIGTERM to process group ${pgid}`);
      terminate();
    }
    await done;
  };

  if (ctx.timeoutSeconds !== undefined) {
    timeoutTimer = setTimeout(() => void stop('timeout'), ctx.timeoutSeconds * 1000);
  }

  const finish = async (code: number | null, signal: NodeJS.Signals | null) => {
    exited = true;
    clearTimeout(timeoutTimer);
    if (groupAlive(pgid)) {
      if (stopReason === null) output.note('stopping processes the task left running');
      const left = termSentAt === 0 ? graceMs : Math.max(0, graceMs - (Date.now() - termSentAt));
      const gone = await stopProcessGroup(pgid, { graceMs: left });
      if (!gone) output.note(`processes of group ${pgid} survived SIGKILL`);
    }
    clearTimeout(killTimer);
    untrackGroup(pgid);
    // Everything of the group is gone; a pipe still open belongs to a process that left the group.
    let closeTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      closedPromise,
      new Promise<void>((resolve) => {
        closeTimer = setTimeout(resolve, CLOSE_WAIT_MS);
      }),
    ]);
    clearTimeout(closeTimer);
    if (!closed) {
      child.stdout?.destroy();
      child.stderr?.destroy();
      output.note('output pipes still held open by a process outside the group: closed');
    }
    splitters.stdout.end();
    splitters.stderr.end();
    const outcome = describeExit(code, signal);
    output.close();
    settle(outcome);
  };

  const describeExit = (code: number | null, signal: NodeJS.Signals | null): DriverOutcome => {
    if (stopReason !== null) return { ...stoppedOutcome(stopReason, ctx.timeoutSeconds), exitCode: code };
    if (signal !== null) {
      return { ok: false, errorCode: 'E_CRASH', error: `killed by ${signal}`, exitCode: null };
    }
    if (code === 0) {
      const last = output.last.stdout;
      return { ok: true, exitCode: 0, ...(last ? { summary: cutText(last, 1000) } : {}) };
    }
    const reason = output.last.stderr || output.last.stdout;
    return {
      ok: false,
      errorCode: 'E_EXIT',
      exitCode: code,
      error: `exited with code ${code}${reason ? `: ${cutText(reason, 500)}` : ''}`,
    };
  };

  child.once('exit', (code, signal) => {
    finish(code, signal).catch((error: Error) => {
      // Only a bug can get here; `done` must still settle, or the agent would hang forever.
      output.note(`supervisor error: ${error.message}`);
      output.close();
      settle(describeExit(code, signal));
    });
  });
  return { done, stop };
}

/**
 * A run with an asynchronous preparation before anything is spawned (a git worktree). A stop
 * during preparation is honoured: nothing is started. A failed preparation ends as E_SPAWN.
 */
export function preparedRun(
  prepare: () => Promise<() => DriverRun>,
  timeoutSeconds: number | undefined,
): DriverRun {
  let inner: DriverRun | null = null;
  let stopReason: StopReason | null = null;
  const done = (async (): Promise<DriverOutcome> => {
    let start: () => DriverRun;
    try {
      start = await prepare();
    } catch (error) {
      if (stopReason !== null) return stoppedOutcome(stopReason, timeoutSeconds);
      return { ok: false, errorCode: 'E_SPAWN', error: (error as Error).message };
    }
    if (stopReason !== null) return stoppedOutcome(stopReason, timeoutSeconds);
    inner = start();
    return inner.done;
  })();
  return {
    done,
    stop: async (reason) => {
      stopReason ??= reason;
      const run: DriverRun | null = inner;
      if (run !== null) await run.stop(reason);
      await done;
    },
  };
}
