import fs from 'node:fs';

/** What `/proc/<pid>/stat` says about a process (Linux). */
export interface ProcStat {
  /** The state letter: R, S, D (running or waiting), T/t (stopped or traced), Z (zombie), X (dead). */
  state: string;
  ppid: number;
  /** Its process group. */
  pgid: number;
  /** When it started, in clock ticks since boot: with the pid, it names one process for good. */
  startTicks: string;
}

/**
 * The one parser of `/proc/<pid>/stat` ("pid (comm) state ppid pgrp … starttime …"). The command
 * name may hold spaces and parentheses, so the fields are read after the last ')'. Null when the
 * process is gone or there is no `/proc` (macOS).
 */
export function procStat(pid: number | 'self'): ProcStat | null {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    state: fields[0] ?? '',
    ppid: Number(fields[1]),
    pgid: Number(fields[2]),
    startTicks: fields[19] ?? '',
  };
}

/** A zombie (exited, not yet reaped) or dead process: it holds nothing and will do nothing more. */
export const isGoneState = (state: string): boolean => state === 'Z' || state === 'X';

/** Stopped (SIGSTOP, Ctrl-Z) or traced: alive, but it cannot act until resumed. */
export const isStoppedState = (state: string): boolean => state === 'T' || state === 't';

/**
 * Does this process exist and can it still act? A zombie counts as gone. A process of another user
 * (EPERM) exists; without `/proc` the signal's answer stands.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
  const stat = procStat(pid);
  return stat === null || !isGoneState(stat.state); // no /proc (macOS): the signal said it exists
}

/** The process group this process belongs to. */
export const ownGroup = (): number => procStat('self')?.pgid ?? process.pid;
