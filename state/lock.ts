/**
 * The one lock wrapper over proper-lockfile. Explicit stale/update/retries, our own onCompromised
 * (the default throws from a timer and would kill the console), a lock-timeout error with exit code 5,
 * and fast take-over of a lock whose owner process is dead (its pid is recorded beside the lock),
 * so a writer killed inside its critical section costs the others milliseconds, not the stale period.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { hostname } from 'node:os';
import lockfile from 'proper-lockfile';
import { DreamError, errnoCode } from '../src/errors.js';

export interface LockOptions {
  /** Give up after this long (ms). */
  timeoutMs?: number;
  /** A lock whose mtime is older than this is stale even if its owner cannot be checked (ms, min 2000). */
  staleMs?: number;
}

export interface LockHandle {
  /** Set when proper-lockfile found the lock taken over while held. */
  readonly compromised: Error | null;
  release(): Promise<void>;
}

const HOST = hostname();

interface OwnerRecord {
  pid: number;
  host: string;
  /** Inode and birth time of the lock directory this record belongs to. */
  ino: string;
  born: string;
}

const lockDir = (target: string) => `${target}.lock`;
const ownerFile = (target: string) => `${target}.owner`;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoCode(error) === 'EPERM';
  }
}

function dirIdentity(path: string): { ino: string; born: string } | null {
  try {
    const st = fs.statSync(path, { bigint: true });
    return { ino: String(st.ino), born: String(st.birthtimeNs || st.ctimeNs) };
  } catch {
    return null;
  }
}

function readOwner(target: string): OwnerRecord | null {
  try {
    return JSON.parse(fs.readFileSync(ownerFile(target), 'utf8')) as OwnerRecord;
  } catch {
    return null;
  }
}

/**
 * If the lock directory belongs to a dead process on this host, remove it. The directory is first
 * renamed to a unique name; if the renamed directory turns out to be a newer lock (taken between our
 * check and the rename) it is put back.
 */
function breakLockOfDeadOwner(target: string): boolean {
  const owner = readOwner(target);
  const identity = dirIdentity(lockDir(target));
  if (!owner || !identity || owner.host !== HOST) return false;
  if (owner.ino !== identity.ino || owner.born !== identity.born) return false;
  if (processAlive(owner.pid)) return false;
  const tomb = `${lockDir(target)}.dead-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    fs.renameSync(lockDir(target), tomb);
  } catch {
    return false;
  }
  const moved = dirIdentity(tomb);
  if (moved && moved.ino === identity.ino && moved.born === identity.born) {
    fs.rmSync(tomb, { recursive: true, force: true });
    return true;
  }
  try {
    fs.renameSync(tomb, lockDir(target));
  } catch {
    fs.rmSync(tomb, { recursive: true, force: true });
  }
  return false;
}

export async function acquireLock(target: string, options: LockOptions = {}): Promise<LockHandle> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const staleMs = Math.max(options.staleMs ?? 10_000, 2000);
  const deadline = Date.now() + timeoutMs;
  let compromised: Error | null = null;
  for (;;) {
    try {
      const release = await lockfile.lock(target, {
        realpath: false,
        stale: staleMs,
        update: staleMs / 2,
        lockfilePath: lockDir(target),
        // Short, jittered retries: critical sections here last about a millisecond.
        retries: { retries: 25, minTimeout: 1, maxTimeout: 25, factor: 1.35, randomize: true },
        onCompromised: (error: Error) => {
          compromised = error;
        },
      });
      const identity = dirIdentity(lockDir(target));
      if (identity) {
        const record: OwnerRecord = { pid: process.pid, host: HOST, ...identity };
        const tmp = `${ownerFile(target)}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, JSON.stringify(record));
        fs.renameSync(tmp, ownerFile(target));
      }
      return {
        get compromised() {
          return compromised;
        },
        async release() {
          // The owner record goes first, while the lock is still ours, so it never describes another holder.
          const current = readOwner(target);
          if (current?.pid === process.pid) fs.rmSync(ownerFile(target), { force: true });
          try {
            await release();
          } catch (error) {
            if (errnoCode(error) !== 'ERELEASED') throw error;
          }
        },
      };
    } catch (error) {
      if (errnoCode(error) !== 'ELOCKED') {
        throw new DreamError('E_IO', `cannot lock ${target}: ${(error as Error).message}`);
      }
      if (breakLockOfDeadOwner(target)) continue;
      if (Date.now() >= deadline) {
        const owner = readOwner(target);
        throw new DreamError(
          'E_LOCK_TIMEOUT',
          `timed out after ${timeoutMs} ms waiting for the lock ${lockDir(target)}` +
            (owner ? ` (held by pid ${owner.pid} on ${owner.host})` : ''),
        );
      }
    }
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
  let ageMs: number | null = null;
  try {
    ageMs = Date.now() - fs.statSync(lockDir(target)).mtimeMs;
  } catch {
    return { target, held: false, owner: null, ownerAlive: null, ageMs: null };
  }
  const owner = readOwner(target);
  const ownerAlive = owner && owner.host === HOST ? processAlive(owner.pid) : null;
  return { target, held: true, owner, ownerAlive, ageMs };
}

/** For doctor --repair: remove a lock whose owner is dead, or that is older than the stale period. */
export function breakStaleLock(target: string, staleMs = 10_000): boolean {
  if (breakLockOfDeadOwner(target)) return true;
  const status = inspectLock(target);
  if (status.held && status.ownerAlive !== true && (status.ageMs ?? 0) > staleMs) {
    fs.rmSync(lockDir(target), { recursive: true, force: true });
    return true;
  }
  return false;
}
