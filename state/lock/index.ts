/**
 * Locks between processes: a directory per lock (proper-lockfile), owner records that say who
 * holds it, the take-over of a dead owner's lock (breaker.ts), and locks kept between a process's
 * own transactions (kept.ts).
 */
export { acquireLock, type LockHandle, type LockOptions } from './acquire.js';
export {
  breakStaleLock,
  describeHolder,
  type HolderState,
  inspectLock,
  type LockHolder,
  type LockStatus,
  lockHolder,
} from './inspect.js';
export { KeptLock, type KeptLockOptions } from './kept.js';
export { LOCAL_MACHINE, type OwnerRecord } from './owners.js';
