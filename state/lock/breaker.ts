/**
 * Taking over the lock of a dead owner at once, instead of after the stale period.
 *
 * A lock is a directory, `<target>.lock` (proper-lockfile's mkdir). Who may hold it is said by the
 * owner records (owners.ts): each process's record for the target is in one of these states:
 *
 *   W  idle: it neither holds nor wants the lock.
 *   Q  waiting: it tried and found the lock held.
 *   A  about to create the lock directory: written before every mkdir, so a lock directory that no
 *      H record claims was made by a process whose record says A (or said A until it died).
 *   H <ino> <birth>  holding the directory with that inode and birth time. A holder writes W only
 *      after its rmdir, so until the directory is gone its record keeps saying H.
 *
 * The breaker protocol needs no identity of the directory (inode numbers and coarse birth times
 * are reused within a clock tick):
 *
 *   acquirer: write A, then look for `<lock>.breaker`; if it is there, back off (as if the lock
 *             were held); else mkdir the lock.
 *   breaker:  mkdir `<lock>.breaker` (one breaker at a time), then read every record.
 *
 * Whichever goes second sees the other. If no live process is in A or H, no live process holds the
 * directory or can still create one, so it belongs to a dead process: the breaker removes the dead
 * processes' records, renames the directory away and removes it. A breaker that dies mid-break
 * leaves `<lock>.breaker` behind: once that is older than BREAKER_STALE_MS, the next breaker clears it.
 *
 * A live holder on this machine is never overruled, however long it holds the lock. A holder that
 * cannot be verified from here (another host on a shared folder, another PID namespace) or a live
 * process in A is trusted while the lock's mtime is fresh: its update timer refreshes it while its
 * event loop runs, and the stale period decides otherwise.
 */
import fs from 'node:fs';
import { errnoCode } from '../errors.js';
import { alive, isLocal, liveOrUnread, lockDir, readRecords } from './owners.js';

/** How long a breaker may take before another may assume it died mid-break. */
const BREAKER_STALE_MS = 2000;
export const breakerDir = (target: string) => `${lockDir(target)}.breaker`;

/**
 * Could a live process hold the lock? One in A or H may (only the stale period overrules it: its
 * update timer keeps the mtime fresh while its event loop runs); a live H on this host always does.
 */
function ownerLooksAlive(target: string, staleMs: number): boolean {
  const stat = fs.statSync(lockDir(target), { throwIfNoEntry: false });
  if (!stat) return false;
  const others = readRecords(target).filter((r) => r.record.pid !== process.pid);
  if (others.some((r) => r.record.state === 'H' && isLocal(r.record) && liveOrUnread(r.record))) return true;
  const busy = others.some(
    (r) => (r.record.state === 'A' || r.record.state === 'H') && liveOrUnread(r.record),
  );
  return busy && Date.now() - stat.mtimeMs <= staleMs;
}

/**
 * If nobody alive can hold the lock directory, remove it (the protocol above). True when the lock
 * is free now (removed, or released meanwhile): the caller tries again at once. A failure other
 * than a file gone meanwhile (EACCES, EROFS) is thrown: waiting could not end it.
 */
export function breakLockOfDeadOwner(target: string, staleMs: number): boolean {
  // The common case, a live holder, is seen without taking the breaker's turn (which would make
  // acquirers back off).
  if (ownerLooksAlive(target, staleMs)) return false;
  const breaker = breakerDir(target);
  try {
    fs.mkdirSync(breaker);
  } catch (error) {
    if (errnoCode(error) !== 'EEXIST') throw error;
    try {
      if (Date.now() - fs.statSync(breaker).mtimeMs > BREAKER_STALE_MS) fs.rmdirSync(breaker);
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT') throw error; // else another breaker cleared it first
    }
    return false;
  }
  try {
    if (!fs.existsSync(lockDir(target))) return true; // released meanwhile: try again at once
    if (ownerLooksAlive(target, staleMs)) return false;
    for (const r of readRecords(target).filter((r) => r.record.pid !== process.pid)) {
      if (isLocal(r.record) && !alive(r.record)) fs.rmSync(r.file, { force: true });
    }
    const tomb = `${lockDir(target)}.dead-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    try {
      fs.renameSync(lockDir(target), tomb);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return true; // released meanwhile
      throw error;
    }
    fs.rmSync(tomb, { recursive: true, force: true });
    return true;
  } finally {
    fs.rmSync(breaker, { recursive: true, force: true });
  }
}
