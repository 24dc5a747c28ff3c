/**
 * Taking a lock: one wrapper over proper-lockfile with explicit stale and update periods, our own
 * onCompromised (the default throws from a timer and would kill the console), a bounded wait with a
 * clear lock-timeout error (exit code 5), and the take-over of a dead owner's lock (breaker.ts).
 *
 * Fast path: proper-lockfile's `lockSync` (one mkdir) and a synchronous release (one rmdir): a
 * critical section here is short, and an async hop would cost more than it. Waiters sleep until
 * the locks folder changes (wake.ts) or a short jittered timer fires.
 */
import fs from 'node:fs';
import { dirname } from 'node:path';
import lockfile from 'proper-lockfile';
import { DreamError, errnoCode } from '../errors.js';
import { breakerDir, breakLockOfDeadOwner } from './breaker.js';
import { describeHolder, type LockHolder, lockHolder } from './inspect.js';
import type { Keeper } from './keeper.js';
import { dirIdentity, lockDir, recordFor } from './owners.js';
import { registry, type Turns } from './registry.js';
import { waitForChange } from './wake.js';

export interface LockOptions {
  /** Give up after this long (ms). */
  timeoutMs?: number;
  /** A lock whose mtime is older than this is stale even if its owner cannot be checked (ms, min 2000). */
  staleMs?: number;
  /** Called each time the wait goes on (lock-free work the caller can do meanwhile, e.g. reading ahead). */
  whileWaiting?: () => void;
}

export interface LockHandle {
  /** Set when proper-lockfile found the lock taken over while held. */
  readonly compromised: Error | null;
  release(): Promise<void>;
}

export interface OwnedLock extends LockHandle {
  releaseSync(): void;
}

const NEVER_STALE_MS = 365 * 24 * 3600 * 1000;
/** Only what proper-lockfile needs: it copies the fs object on every call. */
export const LOCK_FS = {
  mkdir: fs.mkdir,
  mkdirSync: fs.mkdirSync,
  realpath: fs.realpath,
  realpathSync: fs.realpathSync,
  stat: fs.stat,
  statSync: fs.statSync,
  rmdir: fs.rmdir,
  rmdirSync: fs.rmdirSync,
  utimes: fs.utimes,
  utimesSync: fs.utimesSync,
};

/**
 * How often a waiter looks for a dead owner (ms). Looking reads every record and /proc entry, and
 * under contention a waiter fails many attempts a second: doing it on each would eat the CPU the
 * holder needs. A lock of a killed process is still taken over within about this long.
 */
const DEAD_OWNER_CHECK_MS = 25;
/** How often a waiter looks whether the holder is stopped, and how long it must stay so (ms). */
const HOLDER_CHECK_MS = 200;
const STOPPED_GRACE_MS = 2000;

export function acquireLock(target: string, options: LockOptions = {}): Promise<LockHandle> {
  return acquire(target, options, null);
}

/** Take the lock; `keeper` when it is a kept lock's (its directory may be let go by the keeper thread). */
export async function acquire(
  target: string,
  options: LockOptions,
  keeper: Keeper | null,
): Promise<OwnedLock> {
  await takeTurn(target);
  try {
    return await acquireOnDisk(target, options, keeper);
  } catch (error) {
    passTurn(target);
    throw error;
  }
}

export function turnsOf(target: string): Turns {
  const { turns } = registry();
  let t = turns.get(target);
  if (!t) {
    t = { busy: false, queue: [], kept: null };
    turns.set(target, t);
  }
  return t;
}
async function takeTurn(target: string): Promise<void> {
  const t = turnsOf(target);
  if (!t.busy) {
    t.busy = true;
    return;
  }
  await new Promise<void>((resolve) => {
    t.queue.push(resolve);
    t.kept?.yieldTurn();
  });
}
function passTurn(target: string): void {
  const t = turnsOf(target);
  const next = t.queue.shift();
  if (next) next();
  else t.busy = false;
}
export const othersHereWaiting = (target: string) => turnsOf(target).queue.length > 0;

const held = (message: string) => Object.assign(new Error(message), { code: 'ELOCKED' });

async function acquireOnDisk(
  target: string,
  options: LockOptions,
  keeper: Keeper | null,
): Promise<OwnedLock> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const staleMs = Math.max(options.staleMs ?? 10_000, 2000);
  const startedAt = Date.now();
  const deadline = startedAt + timeoutMs;
  let holderCheckAt = startedAt + HOLDER_CHECK_MS;
  let stoppedSince: number | null = null;
  const record = recordFor(target);
  let compromised: Error | null = null;
  let wait = 2;
  let deadOwnerCheckAt = Date.now() + DEAD_OWNER_CHECK_MS;
  let queued = false;
  for (;;) {
    let release: () => void;
    let attempted = false;
    try {
      // Once queued, a waiter only looks (one stat) while the directory is there: an attempt writes
      // its record and makes a directory, metadata the holder's next fdatasync would have to carry.
      if (queued && fs.existsSync(lockDir(target))) throw held('still held');
      attempted = true;
      record.write('A');
      // A breaker at work: let it finish (see breaker.ts), as if the lock were held.
      if (fs.existsSync(breakerDir(target))) throw held('a breaker is at work');
      release = lockfile.lockSync(target, {
        // A kept lock's directory may have been let go by its keeper thread: then there is nothing
        // to remove, and nothing to refresh.
        fs: keeper ? keeper.lockFs() : LOCK_FS,
        realpath: false,
        // proper-lockfile never removes a lock here by itself: breakLockOfDeadOwner decides, one
        // breaker at a time, from the holder's record or (when no holder can be known) the stale period.
        stale: NEVER_STALE_MS,
        update: staleMs / 2,
        lockfilePath: lockDir(target),
        onCompromised: (error: Error) => {
          compromised = error;
        },
      });
    } catch (error) {
      const cannotLock = (error: unknown) => {
        try {
          record.write('W');
        } catch {
          // the disk may be full: the original error is what matters
        }
        return new DreamError('E_IO', `cannot lock ${target}: ${(error as Error).message}`);
      };
      if (errnoCode(error) !== 'ELOCKED') throw cannotLock(error);
      if (attempted) record.write('Q');
      queued = true;
      if (Date.now() >= deadOwnerCheckAt || Date.now() >= deadline) {
        deadOwnerCheckAt = Date.now() + DEAD_OWNER_CHECK_MS;
        let free: boolean;
        try {
          free = breakLockOfDeadOwner(target, staleMs);
        } catch (error) {
          throw cannotLock(error); // a dead owner's lock that cannot be removed: no wait would end
        }
        if (free) continue;
      }
      // A stopped holder cannot let go until someone resumes it: waiting out the whole timeout in
      // silence helps nobody, so the waiter gives up once it has seen it stopped for a grace period.
      let stopped: LockHolder | null = null;
      if (Date.now() >= holderCheckAt && Date.now() < deadline) {
        holderCheckAt = Date.now() + HOLDER_CHECK_MS;
        const holder = lockHolder(target);
        if (holder?.state === 'stopped') {
          stoppedSince ??= Date.now();
          if (Date.now() - stoppedSince >= STOPPED_GRACE_MS) stopped = holder;
        } else stoppedSince = null;
      }
      if (stopped || Date.now() >= deadline) {
        record.write('W');
        const holder = stopped ?? lockHolder(target);
        const waited = Math.max(0, Date.now() - startedAt);
        throw new DreamError(
          'E_LOCK_TIMEOUT',
          `gave up after ${(waited / 1000).toFixed(1)} s waiting for the lock ${lockDir(target)}` +
            (holder ? `: ${describeHolder(holder)}` : ''),
          holder ? { holder } : undefined,
        );
      }
      options.whileWaiting?.();
      // Until the locks folder changes (the holder removes its directory), or a short jittered timer.
      await waitForChange(dirname(target), wait * (0.5 + Math.random()));
      // A caller with work to do meanwhile (reading ahead) wakes often enough to keep up with the holder.
      wait = Math.min(options.whileWaiting ? 3 : 50, wait * 1.5);
      continue;
    }
    const identity = dirIdentity(lockDir(target));
    try {
      record.write('H', identity ?? undefined);
    } catch (error) {
      // A full disk: do not keep a lock nobody could attribute.
      release();
      throw new DreamError('E_IO', `cannot lock ${target}: ${(error as Error).message}`);
    }
    const { holding } = registry();
    const releaseNow = () => {
      if (!holding.delete(releaseNow)) return;
      // The directory goes first: until then the record must keep saying H, or a breaker could
      // take the directory for a dead one and this rmdir would remove the next holder's lock.
      let failure: unknown = null;
      try {
        release();
      } catch (error) {
        if (errnoCode(error) !== 'ERELEASED') failure = error;
      }
      // Even when the directory could not be removed, this process no longer uses it: its record
      // says so (a breaker may then clear it) and the next acquirer here gets its turn.
      try {
        record.write('W');
      } catch {
        // the record is only a hint; the directory was the lock
      } finally {
        passTurn(target);
      }
      if (failure) throw failure;
    };
    holding.add(releaseNow);
    return {
      get compromised() {
        return compromised;
      },
      async release() {
        releaseNow();
      },
      releaseSync: releaseNow,
    };
  }
}
