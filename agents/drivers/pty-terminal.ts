/**
 * The terminal a pty run's program gets: a pseudo-terminal of the orchestrator's (node-pty), or a
 * tmux server of its own (../sessions/tmux.ts), both seen through the same small interface.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadPty } from '../sessions/native.js';
import { type SessionTerminal, startTmux, TmuxTerminal, tmuxPane, tmuxSocketPath } from '../sessions/tmux.js';
import type { DriverContext } from './types.js';

/** What the terminal needs of a run's options. */
export interface TerminalOptions {
  args: readonly string[];
  cwd: string;
  cols: number;
  rows: number;
  /** In tmux (`adopt`: the pid of a program already running there). */
  tmux?: { adopt?: number };
}

/** Variables of the operator's terminal that would mislead the program about its own. */
const TERMINAL_ENV = [
  'TMUX',
  'TMUX_PANE',
  'STY',
  'TERM_PROGRAM',
  'TERM_PROGRAM_VERSION',
  'KITTY_WINDOW_ID',
  'KITTY_PID',
  'WT_SESSION',
  'VTE_VERSION',
  'ITERM_SESSION_ID',
  'COLUMNS',
  'LINES',
];

/** The program's path, as execvp would find it; null when there is none to run. */
export function findExecutable(file: string, cwd: string, pathVar: string | undefined): string | null {
  const candidates = file.includes('/')
    ? [path.resolve(cwd, file)]
    : (pathVar ?? '').split(':').map((dir) => path.join(dir || '.', file));
  for (const candidate of candidates) {
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // Not here.
    }
  }
  return null;
}

/** The program's environment: the operator's terminal left out, the session's own terminal named. */
export function terminalEnv(env: NodeJS.ProcessEnv, term: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined) out[name] = value;
  for (const name of TERMINAL_ENV) delete out[name];
  out.TERM = term;
  out.COLORTERM = 'truecolor';
  return out;
}

export function spawnPty(
  options: TerminalOptions,
  program: string,
  env: Record<string, string>,
): SessionTerminal {
  return loadPty().spawn(program, [...options.args], {
    name: env.TERM!,
    cols: options.cols,
    rows: options.rows,
    cwd: options.cwd,
    env,
  });
}

/** The program in its tmux server: started there, or adopted from a run whose orchestrator died. */
export function tmuxTerminal(
  ctx: DriverContext,
  options: TerminalOptions,
  program: string,
  env: Record<string, string>,
): SessionTerminal {
  const socket = tmuxSocketPath(ctx.home, ctx.agent.id);
  const adopted = options.tmux?.adopt;
  if (adopted) return new TmuxTerminal(socket, adopted, true);
  startTmux(ctx.home, {
    socket,
    program,
    args: options.args,
    cwd: options.cwd,
    env,
    cols: options.cols,
    rows: options.rows,
  });
  const pane = tmuxPane(socket);
  if (pane === null) throw new Error('tmux started no program');
  return new TmuxTerminal(socket, pane.pid, false);
}
