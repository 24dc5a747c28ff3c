/**
 * Process groups: every driven program is the leader of its own group, so a signal to the group
 * reaches everything it started. Exported for the orchestrator too: after a crash or restart it
 * stops the groups recorded by the previous run (SPEC §5, honest status).
 */
import fs from 'node:fs';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Send a signal to a whole process group. False when no process of the group is left. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) throw new Error(`refusing to signal process group ${pgid}`);
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return false;
    // EPERM: the group exists but is not ours (the id was reused by someone else's processes).
    if (code === 'EPERM') return false;
    throw error;
  }
}

/**
 * True while a process of the group is still running. A member that has exited but not yet been
 * reaped by its parent (a zombie: it runs nothing and holds nothing) does not count; on Linux
 * /proc tells them apart, elsewhere any member counts.
 */
export function groupAlive(pgid: number): boolean {
  if (!signalGroup(pgid, 0)) return false;
  if (process.platform !== 'linux') return true;
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return true;
  }
  for (const entry of entries) {
    const first = entry.charCodeAt(0);
    if (first < 48 || first > 57) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses, so split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true;
  }
  return false;
}

/** How long a group may take to go after SIGKILL before it is given up on (ms). */
export const KILL_WAIT_MS = 5000;

export interface StopGroupOptions {
  /** Between SIGTERM and SIGKILL. */
  graceMs?: number;
  /** How long to wait after SIGKILL before giving up (a process stuck in the kernel). */
  killWaitMs?: number;
  pollMs?: number;
}

/**
 * SIGTERM to the group, SIGKILL after the grace period, and wait until no member runs.
 * Resolves true when the group is gone, false when something survived SIGKILL for killWaitMs.
 */
export async function stopProcessGroup(pgid: number, options: StopGroupOptions = {}): Promise<boolean> {
  const { graceMs = 3000, killWaitMs = KILL_WAIT_MS, pollMs = 50 } = options;
  if (!groupAlive(pgid)) return true;
  signalGroup(pgid, 'SIGTERM');
  const termAt = Date.now();
  let killAt = 0;
  while (groupAlive(pgid)) {
    const now = Date.now();
    if (killAt === 0 && now - termAt >= graceMs) {
      signalGroup(pgid, 'SIGKILL');
      killAt = now;
    }
    if (killAt !== 0 && now - killAt >= killWaitMs) return false;
    await sleep(pollMs);
  }
  return true;
}

/** Groups started by this process and not yet known to be gone. */
const live = new Set<number>();

/**
 * The last resort: a process that exits without stopping its programs (an exit from an EPIPE
 * handler, an uncaught error) kills the groups still running, so that none outlives it
 * unsupervised, its task shown as working.
 */
process.once('exit', () => {
  killAllGroupsSync();
});

export function trackGroup(pgid: number): void {
  live.add(pgid);
}

export function untrackGroup(pgid: number): void {
  live.delete(pgid);
}

/**
 * Last resort for an orchestrator that is exiting without a clean stop (e.g. from a
 * `process.on('exit')` handler, where nothing asynchronous runs): SIGKILL every live group.
 */
export function killAllGroupsSync(): number {
  let killed = 0;
  for (const pgid of live) {
    if (signalGroup(pgid, 'SIGKILL')) killed++;
  }
  live.clear();
  return killed;
}
