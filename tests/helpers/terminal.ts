/**
 * Real terminals for system tests: a private tmux server per test file, consoles started in its
 * sessions, and what their screens show. Tests that need tmux skip themselves when it is missing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { processGone } from './agents.js';

export const hasTmux = spawnSync('tmux', ['-V']).status === 0;

/** Is a process with this pid still running? A zombie (exited, not yet reaped by tmux) is not. */
export function alive(pid: number): boolean {
  return !processGone(pid);
}

export interface TmuxServer {
  /** Run a tmux command on this server; its stdout. */
  tmux(...args: string[]): string;
  /** Start `command` in a new 160x48 session in `cwd`; the pid of the process it runs. */
  open(session: string, cwd: string, command: string): number;
  /** What the session's pane shows now. */
  screen(session?: string): string;
  /** Stop the server and every session on it. */
  kill(): void;
}

/** A tmux server of this test process's own (`-L name-pid`), with no user configuration. */
export function tmuxServer(name: string): TmuxServer {
  const socket = `${name}-${process.pid}`;
  const tmux = (...args: string[]) =>
    execFileSync('tmux', ['-L', socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
  return {
    tmux,
    open(session, cwd, command) {
      tmux('new-session', '-d', '-s', session, '-x', '160', '-y', '48', '-c', cwd, command);
      return Number(tmux('display', '-p', '-t', session, '#{pane_pid}').trim());
    },
    screen: (session = 'main') => tmux('capture-pane', '-p', '-t', session),
    kill() {
      if (hasTmux) spawnSync('tmux', ['-L', socket, 'kill-server']);
    },
  };
}
