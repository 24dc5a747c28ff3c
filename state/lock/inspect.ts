/**
 * The lock as people see it: doctor's view (inspectLock, breakStaleLock) and the holder as a
 * lock-timeout error or an attention item names it (lockHolder, describeHolder). See
 * docs/decisions/stopped-lock-holder.md for why a stopped holder is named and never taken over.
 */
import fs from 'node:fs';
import { basename } from 'node:path';
import { isGoneState, isStoppedState, procStat } from '../proc.js';
import { breakLockOfDeadOwner } from './breaker.js';
import { alive, dirIdentity, isLocal, lockDir, type OwnerRecord, ownerOf } from './owners.js';

export type HolderState = 'running' | 'stopped' | 'gone' | 'unknown';

/** The lock's holder as the user can act on it: which process, and whether it can let go. */
export interface LockHolder {
  pid: number;
  host: string;
  /** running; stopped (SIGSTOP, Ctrl-Z: it cannot let go until resumed); gone; unknown (another machine). */
  state: HolderState;
  /** Its command line, shortened (null when it cannot be read). */
  command: string | null;
  /** Since the lock was last refreshed (ms): a stopped holder stopped refreshing it then. */
  ageMs: number;
}

/** A live holder's state: a stopped or traced one cannot let go. */
function processState(pid: number): HolderState {
  const stat = procStat(pid);
  if (stat === null) return 'running'; // no /proc (macOS): alive() already said it exists
  if (isStoppedState(stat.state)) return 'stopped';
  if (isGoneState(stat.state)) return 'gone';
  return 'running';
}

function commandOf(pid: number): string | null {
  try {
    const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    if (args.length === 0) return null;
    const short = [basename(args[0]!), ...args.slice(1, 2).map((a) => basename(a)), ...args.slice(2)];
    const text = short.join(' ').replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
    return text.length > 60 ? `${text.slice(0, 59)}…` : text;
  } catch {
    return null;
  }
}

/** Who holds the lock at `target`, and in what state; null when it is free or nobody claims it. */
export function lockHolder(target: string): LockHolder | null {
  const status = inspectLock(target);
  const owner = status.owner;
  if (!status.held || !owner) return null;
  const local = isLocal(owner);
  const state: HolderState = !local ? 'unknown' : !alive(owner) ? 'gone' : processState(owner.pid);
  return {
    pid: owner.pid,
    host: owner.host,
    state,
    command: local && state !== 'gone' ? commandOf(owner.pid) : null,
    ageMs: status.ageMs ?? 0,
  };
}

/** One clause for an error or an attention item: who holds the lock, and what the user can do. */
export function describeHolder(holder: LockHolder): string {
  const who = `pid ${holder.pid}${holder.command ? ` (${holder.command})` : ''}`;
  switch (holder.state) {
    case 'stopped':
      return `it is held by ${who}, which is stopped (SIGSTOP or Ctrl-Z) and cannot let go: resume it with \`kill -CONT ${holder.pid}\`, or stop it cleanly with \`kill -TERM ${holder.pid}; kill -CONT ${holder.pid}\``;
    case 'gone':
      return `it was held by ${who}, which has exited: the next attempt takes the lock over`;
    case 'unknown':
      return `it is held by pid ${holder.pid} on ${holder.host}, which cannot be checked from here: the lock is taken over once it has not been refreshed for the stale period`;
    default:
      return `it is held by ${who}, which is running (busy with a long change?): try again, or stop that process`;
  }
}

export interface LockStatus {
  target: string;
  held: boolean;
  owner: OwnerRecord | null;
  ownerAlive: boolean | null;
  ageMs: number | null;
}

/** For doctor: is the lock held, by whom, and is that owner still alive. */
export function inspectLock(target: string): LockStatus {
  const stat = fs.statSync(lockDir(target), { throwIfNoEntry: false });
  if (!stat) return { target, held: false, owner: null, ownerAlive: null, ageMs: null };
  const ageMs = Date.now() - stat.mtimeMs;
  const identity = dirIdentity(lockDir(target));
  const found = identity ? ownerOf(target, identity) : null;
  const owner = found?.holder ?? null;
  const ownerAlive = owner ? (isLocal(owner) ? alive(owner) : null) : found?.liveAttempt ? true : null;
  return { target, held: true, owner, ownerAlive, ageMs };
}

/** For doctor --repair: remove a lock whose owner is dead, or that is older than the stale period. */
export function breakStaleLock(target: string, staleMs = 10_000): boolean {
  return breakLockOfDeadOwner(target, staleMs);
}
