/**
 * A program in a pseudo-terminal, supervised like every driven program (./supervise.ts): its own
 * process group and session, the task's timeout, a stop that reaches the whole group, `done` only
 * once everything of it is gone. What differs is the output: a headless terminal keeps the screen
 * (agents/sessions/screen.ts), the log gets each line as it scrolls off the screen's top (never a
 * spinner's frames), `::dreamos` lines are read from those lines, and the session is served on a
 * socket for attach, peek and send (agents/sessions/server.ts). The terminal is the orchestrator's
 * own, or a tmux server's that outlives it (./pty-terminal.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import { groupAlive, signalGroup, stopProcessGroup, trackGroup, untrackGroup } from '../platform/process.js';
import { hookNeedsInput, readNeedsInput } from '../sessions/needs-input.js';
import type { HookEvent } from '../sessions/protocol.js';
import { SessionScreen } from '../sessions/screen.js';
import { SessionServer } from '../sessions/server.js';
import type { SessionTerminal } from '../sessions/tmux.js';
import { DEFAULT_MAX_LINE_BYTES, RunOutput } from './output.js';
import { findExecutable, spawnPty, terminalEnv, tmuxTerminal } from './pty-terminal.js';
import { applyDirective, type StopReason, settledRun, stoppedOutcome } from './supervise.js';
import type { DriverContext, DriverOutcome, DriverRun, NeedsInput } from './types.js';

export interface PtyRunOptions {
  file: string;
  args: readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  cols: number;
  rows: number;
  /** TERM for the program (default xterm-256color, what the headless terminal understands). */
  term?: string;
  /** The conversation's id when it is known at the start (chosen for the program, or resumed). */
  sessionId?: string;
  /** Record `sessionId` as a checkpoint at the start (a new conversation). */
  announceSession?: boolean;
  /** Finds the session id on the screen, for programs that choose it themselves. */
  sessionIdPattern?: RegExp;
  graceMs?: number;
  maxLogBytes?: number;
  maxLineBytes?: number;
  notes?: readonly string[];
  /**
   * The program runs in a tmux server of its own (sessions/tmux.ts), which outlives the
   * orchestrator; `adopt`: the pid of a program already running there, taken over after a restart.
   */
  tmux?: { adopt?: number };
}

const DIRECTIVE = '::dreamos';
const MAX_NOTES = 5;
/** The screen is read for a question once the program has been quiet this long. */
const QUIET_MS = 800;
/** After the operator types, this long passes before the screen may say it waits again. */
const TYPING_MS = 5000;
/** How often the screen is searched for the session id until it is found. */
const SESSION_SCAN_MS = 500;
const cutText = (text: string, max: number) => (text.length > max ? `${text.slice(0, max)}…` : text);

const signalName = (signal: number | undefined): string | null =>
  signal && signal < 0
    ? 'a signal'
    : signal
      ? (Object.entries(os.constants.signals).find(([, n]) => n === signal)?.[0] ?? `signal ${signal}`)
      : null;

export function runInPty(ctx: DriverContext, options: PtyRunOptions): DriverRun {
  try {
    if (!fs.statSync(options.cwd).isDirectory())
      return settledRun({
        ok: false,
        errorCode: 'E_SPAWN',
        error: `the working folder ${options.cwd} is not a folder`,
      });
  } catch {
    return settledRun({
      ok: false,
      errorCode: 'E_SPAWN',
      error: `the working folder ${options.cwd} does not exist`,
    });
  }
  const program = options.tmux?.adopt
    ? options.file
    : findExecutable(options.file, options.cwd, options.env.PATH);
  if (program === null) {
    const where = options.file.includes('/') ? 'no such executable file' : 'not found on PATH';
    return settledRun({
      ok: false,
      errorCode: 'E_SPAWN',
      error: `cannot start "${options.file}": ${where} (ENOENT)`,
    });
  }
  const env = terminalEnv(options.env, options.term ?? (options.tmux ? 'tmux-256color' : 'xterm-256color'));
  let child: SessionTerminal;
  let screen: SessionScreen;
  try {
    screen = new SessionScreen(options.cols, options.rows, {
      onLine: (line) => handleLine(line),
      // tmux answers the program's queries itself: the headless terminal's answers would be a second.
      onReply: (data) => (options.tmux ? undefined : child.write(data)),
    });
    child = options.tmux ? tmuxTerminal(ctx, options, program, env) : spawnPty(options, program, env);
  } catch (error) {
    return settledRun({
      ok: false,
      errorCode: 'E_SPAWN',
      error: `cannot start "${options.file}": ${(error as Error).message}`,
    });
  }

  const graceMs = options.graceMs ?? 3000;
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const output = new RunOutput(ctx, { maxLogBytes: options.maxLogBytes });
  for (const note of options.notes ?? []) output.note(note);
  const pid = child.pid;
  const pgid = pid; // node-pty starts the program in a new session: it leads its own group
  trackGroup(pgid);

  let settle!: (outcome: DriverOutcome) => void;
  const done = new Promise<DriverOutcome>((resolve) => {
    settle = resolve;
  });
  let stopReason: StopReason | null = null;
  let reportedDone: { summary?: string } | null = null;
  let exited = false;
  let termSentAt = 0;
  let killTimer: NodeJS.Timeout | undefined;
  let timeoutTimer: NodeJS.Timeout | undefined;
  let scanTimer: NodeJS.Timeout | undefined;
  let notes = 0;
  let sessionId = options.sessionId;
  let server: SessionServer | null = null;
  const note = (text: string) => {
    if (notes++ < MAX_NOTES) output.note(text);
  };

  // Every checkpoint of the run carries the conversation's id, so that a resume finds it in any.
  const checkpointCtx = {
    onProgress: (progress: number) => ctx.onProgress(progress),
    onCheckpoint: (cp: Parameters<DriverContext['onCheckpoint']>[0]) =>
      ctx.onCheckpoint({ ...cp, ...(cp.sessionId || !sessionId ? {} : { sessionId }) }),
  };
  const foundSession = (id: string) => {
    if (sessionId === id) return;
    sessionId = id;
    clearInterval(scanTimer);
    safely(() => ctx.onCheckpoint({ step: 'session', sessionId: id }));
  };
  const lookForSession = (text: string) => {
    const pattern = options.sessionIdPattern;
    if (!pattern || sessionId) return;
    const id = pattern.exec(text)?.[1];
    if (id) foundSession(id);
  };

  function safely(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      output.note(`a handler failed: ${(error as Error).message}`);
    }
  }

  function handleLine(raw: string): void {
    const cut = Buffer.byteLength(raw) > maxLineBytes;
    const text = cut
      ? `${Buffer.from(raw).subarray(0, maxLineBytes).toString('utf8')} …[line cut at ${maxLineBytes} bytes]`
      : raw;
    const trimmed = raw.trim();
    if (trimmed.startsWith(DIRECTIVE)) {
      if (cut) note(`ignored a ::dreamos line: longer than ${maxLineBytes} bytes`);
      else directive(trimmed.slice(DIRECTIVE.length).trim());
    }
    lookForSession(raw);
    output.line(text, 'stdout');
  }

  /** A `::dreamos` line: progress and checkpoints as for every program, and `"done": true`. */
  function directive(json: string): void {
    let problem: string | null = null;
    try {
      const value: unknown = JSON.parse(json);
      const report = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
      if (report.done === true) {
        reportedDone = typeof report.summary === 'string' ? { summary: report.summary } : {};
        const { done: _done, summary: _summary, ...rest } = report;
        if (Object.keys(rest).length > 0) problem = applyDirective(JSON.stringify(rest), checkpointCtx);
        if (!exited) {
          output.note(`the program reported the task done: SIGTERM to process group ${pgid}`);
          terminate();
        }
      } else problem = applyDirective(json, checkpointCtx);
    } catch (error) {
      problem =
        error instanceof SyntaxError
          ? 'ignored a ::dreamos line: not valid JSON'
          : `ignored a ::dreamos line: a handler failed: ${(error as Error).message}`;
    }
    if (problem !== null) note(problem);
  }

  const terminate = () => {
    if (termSentAt !== 0) return;
    termSentAt = Date.now();
    signalGroup(pgid, 'SIGTERM');
    killTimer = setTimeout(() => signalGroup(pgid, 'SIGKILL'), graceMs);
  };

  // Whether the program waits for the operator: read from the screen once it is quiet.
  let waiting: NeedsInput | null = null;
  /** The state came from a hook: the screen confirms it or, showing nothing to answer, clears it. */
  let fromHook = false;
  let quietTimer: NodeJS.Timeout | undefined;
  let typedAt = Number.NEGATIVE_INFINITY;
  const tellWaiting = (now: NeedsInput | null) => {
    if (now?.kind === waiting?.kind && now?.text === waiting?.text) return;
    waiting = now;
    safely(() => ctx.onNeedsInput?.(now));
  };
  const lookLater = (ms: number) => {
    clearTimeout(quietTimer);
    quietTimer = setTimeout(() => {
      if (exited) return;
      const typing = TYPING_MS - (Date.now() - typedAt);
      if (typing > 0) return lookLater(typing);
      const seen = readNeedsInput(screen.snapshot().lines);
      if (fromHook && seen) return;
      fromHook = false;
      tellWaiting(seen);
    }, ms);
  };

  child.onData((data) => {
    screen.write(data, (switched) => {
      server?.output(data, switched);
      if (options.sessionIdPattern && !sessionId) scheduleScan();
      if (ctx.onNeedsInput) lookLater(QUIET_MS);
    });
  });
  const scheduleScan = () => {
    if (scanTimer) return;
    scanTimer = setTimeout(() => {
      scanTimer = undefined;
      if (!exited) lookForSession(screen.snapshot().lines.join('\n'));
    }, SESSION_SCAN_MS);
  };

  const host = {
    agent: ctx.agent.id,
    task: ctx.task.id,
    pid,
    screen,
    input: (data: string) => {
      if (exited) return;
      child.write(data);
      // Input arrived: whatever the program waited for is being answered.
      typedAt = Date.now();
      fromHook = false;
      if (waiting) tellWaiting(null);
    },
    hook: (event: HookEvent) => {
      if (exited) return;
      if (event.session_id && !sessionId) foundSession(event.session_id);
      const said = hookNeedsInput(event);
      if (said === undefined) return;
      fromHook = said !== null;
      tellWaiting(said);
    },
    resize: (cols: number, rows: number) => {
      if (exited || (cols === screen.cols && rows === screen.rows)) return;
      child.resize(cols, rows);
      screen.resize(cols, rows);
      server?.resized(cols, rows);
    },
  };
  const serving = SessionServer.listen(ctx.home, host).then(
    (s) => {
      if (exited) void s.close({ exitCode: null, signal: null });
      else server = s;
    },
    (error: Error) => output.note(`the session cannot be attached: ${error.message}`),
  );

  safely(() => ctx.onSpawn({ pid, pgid }));
  if (sessionId && options.announceSession)
    safely(() => ctx.onCheckpoint({ step: 'session', sessionId: sessionId! }));

  const stop = async (reason: StopReason) => {
    if (!exited && stopReason === null && reportedDone === null) {
      stopReason = reason;
      output.note(`stopping (${reason}): SIGTERM to process group ${pgid}`);
      terminate();
    }
    await done;
  };
  if (ctx.timeoutSeconds !== undefined)
    timeoutTimer = setTimeout(() => void stop('timeout'), ctx.timeoutSeconds * 1000);

  const describeExit = (exitCode: number, signal: string | null): DriverOutcome => {
    if (stopReason !== null) return { ...stoppedOutcome(stopReason, ctx.timeoutSeconds), exitCode };
    const last = output.last.stdout;
    if (reportedDone !== null) {
      const summary = (reportedDone as { summary?: string }).summary ?? last;
      return { ok: true, exitCode, ...(summary ? { summary: cutText(summary, 1000) } : {}) };
    }
    if (signal !== null)
      return { ok: false, errorCode: 'E_CRASH', error: `killed by ${signal}`, exitCode: null };
    if (exitCode === 0) return { ok: true, exitCode: 0, ...(last ? { summary: cutText(last, 1000) } : {}) };
    return {
      ok: false,
      errorCode: 'E_EXIT',
      exitCode,
      error: `exited with code ${exitCode}${last ? `: ${cutText(last, 500)}` : ''}`,
    };
  };

  const finish = async (exitCode: number, signal: string | null) => {
    exited = true;
    clearTimeout(timeoutTimer);
    clearTimeout(scanTimer);
    clearTimeout(quietTimer);
    if (groupAlive(pgid)) {
      if (stopReason === null && reportedDone === null)
        output.note('stopping processes the task left running');
      const left = termSentAt === 0 ? graceMs : Math.max(0, graceMs - (Date.now() - termSentAt));
      const gone = await stopProcessGroup(pgid, { graceMs: left });
      if (!gone) output.note(`processes of group ${pgid} survived SIGKILL`);
    }
    clearTimeout(killTimer);
    untrackGroup(pgid);
    // What the program wrote last is parsed before the screen's remaining lines go to the log.
    await new Promise<void>((resolve) => screen.write('', () => resolve()));
    screen.flush();
    await serving;
    await server?.close({ exitCode: signal ? null : exitCode, signal });
    screen.dispose();
    const outcome = describeExit(exitCode, signal);
    output.close();
    settle(outcome);
  };
  child.onExit(({ exitCode, signal }) => {
    const name = signalName(signal);
    finish(exitCode, name).catch((error: Error) => {
      output.note(`supervisor error: ${error.message}`);
      output.close();
      settle(describeExit(exitCode, name));
    });
  });
  return { done, stop };
}
