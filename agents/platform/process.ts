/**
 * Process groups and the processes driven for an agent. Every driven program is the leader of its
 * own group, so a signal to the group reaches everything it started. The orchestrator uses this
 * too: after a crash or restart it finds the programs the previous run left (by their environment)
 * and stops their groups. What `/proc/<pid>/stat` says is read through state/proc.ts only.
 */
import fs from 'node:fs';
import { errnoCode } from '../../state/errors.js';
import { isGoneState, ownGroup, procStat } from '../../state/proc.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Send a signal to a whole process group. False when no process of the group is left. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) throw new Error(`refusing to signal process group ${pgid}`);
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ESRCH') return false;
    // EPERM: the group exists but is not ours (the id was reused by someone else's processes).
    if (code === 'EPERM') return false;
    throw error;
  }
}

/** The numeric entries of /proc (one per process); null without a /proc (macOS). */
function procPids(): number[] | null {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return null;
    throw error;
  }
  const pids: number[] = [];
  for (const entry of entries) {
    const first = entry.charCodeAt(0);
    if (first >= 48 && first <= 57) pids.push(Number(entry));
  }
  return pids;
}

/** Has this process exited without being reaped (a zombie)? It runs nothing and holds nothing. */
export function isZombie(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== null && isGoneState(stat.state);
}

/**
 * True while a process of the group is still running. A member that has exited but not yet been
 * reaped by its parent (a zombie: it runs nothing and holds nothing) does not count; on Linux
 * /proc tells them apart, elsewhere any member counts.
 */
export function groupAlive(pgid: number): boolean {
  if (!signalGroup(pgid, 0)) return false;
  if (process.platform !== 'linux') return true;
  const pids = procPids();
  if (pids === null) return true;
  for (const pid of pids) {
    const stat = procStat(pid); // null: exited while we looked
    if (stat !== null && stat.pgid === pgid && !isGoneState(stat.state)) return true;
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
/** Installed while `live` holds a group, removed when it empties. */
let exitHook: (() => void) | null = null;

/**
 * Remember a group this process started. While any is remembered, an exit without a clean stop
 * (an exit from an EPIPE handler, an uncaught error) kills the groups still running, so that none
 * outlives this process unsupervised, its task shown as working.
 */
export function trackGroup(pgid: number): void {
  live.add(pgid);
  if (exitHook === null) {
    exitHook = () => killAllGroupsSync();
    process.once('exit', exitHook);
  }
}

export function untrackGroup(pgid: number): void {
  live.delete(pgid);
  if (live.size === 0) releaseExitHook();
}

function releaseExitHook(): void {
  if (exitHook !== null) process.removeListener('exit', exitHook);
  exitHook = null;
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
  releaseExitHook();
  return killed;
}

/**
 * The environment a process was started with (Linux), as `NAME=value` strings; null when it cannot
 * be read: the process is gone, it belongs to another user, or there is no /proc.
 */
export function environOf(pid: number): string[] | null {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT' || code === 'ESRCH' || code === 'EACCES' || code === 'EPERM') return null;
    throw error;
  }
}

/** Does this pid still belong to a program driven for this agent of this workspace? (Guards against pid reuse.) */
export function belongsTo(pid: number, agentId: string, home: string): boolean {
  const env = environOf(pid) ?? [];
  return env.includes(`DREAMOS_AGENT_ID=${agentId}`) && env.includes(`DREAMOS_HOME=${home}`);
}

/**
 * Processes (Linux /proc) driven for this agent of this workspace, found by their environment, one
 * per process group; never this process, its parent or its own group.
 */
export function drivenProcesses(agentId: string, home: string): Array<{ pid: number; pgid: number }> {
  const pids = procPids() ?? [];
  const mine = ownGroup();
  const out: Array<{ pid: number; pgid: number }> = [];
  for (const pid of pids) {
    if (pid === process.pid || pid === process.ppid || !belongsTo(pid, agentId, home)) continue;
    const stat = procStat(pid);
    if (stat === null) continue; // gone meanwhile
    if (stat.pgid > 1 && stat.pgid !== mine && !out.some((p) => p.pgid === stat.pgid))
      out.push({ pid, pgid: stat.pgid });
  }
  return out;
}
