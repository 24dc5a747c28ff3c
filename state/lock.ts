/**
 * The one lock wrapper over proper-lockfile: explicit stale/update periods, our own onCompromised
 * (the default throws from a timer and would kill the console), a bounded wait with a clear
 * lock-timeout error (exit code 5), and fast take-over of a lock whose owner process died.
 *
 * Fast path: proper-lockfile's `lockSync` (one mkdir) and a synchronous release (one rmdir): a
 * critical section here lasts well under a millisecond, and every async hop would cost more than it.
 * Waiters sleep until the locks folder changes (inotify) or a short jittered timer fires.
 *
 * Who holds a lock: each process keeps one small record file per lock, `<target>.by.<host>.<pid>`,
 * overwritten in place (no new files, no renames on the hot path) with its state:
 *   W  waiting (or idle)    A  about to create the lock directory    H <ino> <birth>  holding it
 * A process writes A before each mkdir, so a lock directory that no H record claims was made by a
 * process whose record says A. When the H record's process is dead — or no H record claims the
 * directory and no live process is in A — the lock is taken over at once, not after the stale period.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
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

export interface OwnerRecord {
  pid: number;
  host: string;
  /** The process's start time (clock ticks since boot): a reused pid is not mistaken for the owner. */
  start: string;
  state: 'W' | 'A' | 'H';
  ino?: string;
  born?: string;
}

const HOST = hostname();
const RECORD_BYTES = 160;
const NEVER_STALE_MS = 365 * 24 * 3600 * 1000;
const LOCK_FS = {
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
const lockDir = (target: string) => `${target}.lock`;
const recordPrefix = (target: string) => `${basename(target)}.by.`;
/** Records live in a folder of their own, so that rewriting them does not wake waiters watching the locks. */
const recordsDir = (target: string) => join(dirname(target), 'owners');

function startTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}
const MY_START = startTime(process.pid) ?? '0';

/** Alive, and the same process that wrote the record (not a later one with the same pid). */
function alive(record: OwnerRecord): boolean {
  if (record.host !== HOST) return true; // cannot tell: the stale period decides
  try {
    process.kill(record.pid, 0);
  } catch (error) {
    if (errnoCode(error) !== 'EPERM') return false;
  }
  const start = startTime(record.pid);
  return start === null || record.start === '0' || start === record.start;
}

function dirIdentity(path: string): { ino: string; born: string } | null {
  try {
    const st = fs.statSync(path, { bigint: true });
    return { ino: String(st.ino), born: String(st.birthtimeNs || st.ctimeNs) };
  } catch {
    return null;
  }
}

/** This process's record for one lock target, written in place. */
class Record {
  private fd: number | null = null;
  readonly path: string;

  constructor(target: string) {
    this.path = join(recordsDir(target), `${recordPrefix(target)}${HOST}.${process.pid}`);
  }

  write(state: OwnerRecord['state'], identity?: { ino: string; born: string }): void {
    if (this.fd === null) {
      fs.mkdirSync(dirname(this.path), { recursive: true });
      this.fd = fs.openSync(this.path, 'w');
    }
    const text = JSON.stringify({ pid: process.pid, host: HOST, start: MY_START, state, ...identity });
    fs.writeSync(this.fd, text.padEnd(RECORD_BYTES - 1, ' ').concat('\n'), 0);
  }

  remove(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
    fs.rmSync(this.path, { force: true });
  }
}

const records = new Map<string, Record>();
function recordFor(target: string): Record {
  let record = records.get(target);
  if (!record) {
    record = new Record(target);
    records.set(target, record);
  }
  return record;
}
process.once('exit', () => {
  for (const record of records.values()) {
    try {
      record.remove();
    } catch {
      // exiting anyway
    }
  }
});

function readRecords(target: string): Array<{ file: string; record: OwnerRecord }> {
  const dir = recordsDir(target);
  const prefix = recordPrefix(target);
  const out: Array<{ file: string; record: OwnerRecord }> = [];
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    try {
      out.push({
        file: join(dir, name),
        record: JSON.parse(fs.readFileSync(join(dir, name), 'utf8')) as OwnerRecord,
      });
    } catch {
      // Being created, or read while its owner rewrites it: it may belong to the holder, so it
      // counts as a live attempt (the stale period still frees a lock it really belongs to).
      const pid = Number(name.slice(name.lastIndexOf('.') + 1));
      out.push({ file: join(dir, name), record: { pid, host: '?', start: '0', state: 'A' } });
    }
  }
  return out;
}

/**
 * Who may hold this lock directory: a live process whose H record names it (two records may name
 * it when a holder died and the inode and birth time were reused within one clock tick), or a live
 * process in A (between its mkdir and its H record).
 */
function ownerOf(target: string, identity: { ino: string; born: string }) {
  const all = readRecords(target);
  const named = all.filter(
    (r) => r.record.state === 'H' && r.record.ino === identity.ino && r.record.born === identity.born,
  );
  const holder = named.find((r) => alive(r.record))?.record ?? named[0]?.record ?? null;
  const liveHolder = named.some((r) => alive(r.record));
  const liveAttempt = all.some(
    (r) =>
      r.record.state === 'A' && r.record.pid !== process.pid && (r.record.host === '?' || alive(r.record)),
  );
  return { holder, liveHolder, liveAttempt, all };
}

/**
 * Could a live process hold the lock? One in A or H may (only the stale period overrules it: its
 * update timer keeps the mtime fresh while its event loop runs); a live H on this host always does.
 */
function ownerLooksAlive(target: string, staleMs: number): boolean {
  const stat = fs.statSync(lockDir(target), { throwIfNoEntry: false });
  if (!stat) return false;
  const others = readRecords(target).filter((r) => r.record.pid !== process.pid);
  const live = (r: { record: OwnerRecord }) => r.record.host === '?' || alive(r.record);
  if (others.some((r) => r.record.state === 'H' && r.record.host === HOST && live(r))) return true;
  const busy = others.some((r) => (r.record.state === 'A' || r.record.state === 'H') && live(r));
  return busy && Date.now() - stat.mtimeMs <= staleMs;
}

/** How long a breaker may take before another may assume it died mid-break. */
const BREAKER_STALE_MS = 2000;
const breakerDir = (target: string) => `${lockDir(target)}.breaker`;

/**
 * If nobody alive can hold the lock directory, remove it. The protocol needs no identity of the
 * directory (inode numbers and coarse birth times are reused within a clock tick):
 *   acquirer: write A, then look for `<lock>.breaker`; if it is there, back off; else mkdir.
 *   breaker:  mkdir `<lock>.breaker` (one breaker at a time), then read every record.
 * Whichever goes second sees the other. If no live process is in A or H, no live process holds the
 * directory or can still create one, so it belongs to a dead process and is renamed away.
 */
function breakLockOfDeadOwner(target: string, staleMs: number): boolean {
  // The common case, a live holder, is seen without taking the breaker's turn (which would make
  // acquirers back off).
  if (ownerLooksAlive(target, staleMs)) return false;
  const breaker = breakerDir(target);
  try {
    fs.mkdirSync(breaker);
  } catch (error) {
    if (errnoCode(error) !== 'EEXIST') return false;
    try {
      if (Date.now() - fs.statSync(breaker).mtimeMs > BREAKER_STALE_MS) fs.rmdirSync(breaker);
    } catch {
      // another breaker cleared it first
    }
    return false;
  }
  try {
    if (!fs.existsSync(lockDir(target))) return true; // released meanwhile: try again at once
    if (ownerLooksAlive(target, staleMs)) return false;
    for (const r of readRecords(target).filter((r) => r.record.pid !== process.pid)) {
      if (r.record.host === HOST && !alive(r.record)) fs.rmSync(r.file, { force: true });
    }
    const tomb = `${lockDir(target)}.dead-${process.pid}-${randomBytes(4).toString('hex')}`;
    fs.renameSync(lockDir(target), tomb);
    fs.rmSync(tomb, { recursive: true, force: true });
    return true;
  } catch {
    return false;
  } finally {
    fs.rmSync(breaker, { recursive: true, force: true });
  }
}

/** Wake-ups for waiters: one inotify watch per locks folder, shared by every wait in this process. */
const waiters = new Map<string, { watcher: fs.FSWatcher | null; wake: Set<() => void> }>();
function waitForChange(dir: string, maxMs: number): Promise<void> {
  let entry = waiters.get(dir);
  if (!entry) {
    const created: { watcher: fs.FSWatcher | null; wake: Set<() => void> } = {
      watcher: null,
      wake: new Set(),
    };
    try {
      created.watcher = fs.watch(dir, { persistent: false }, () => {
        for (const wake of [...created.wake]) wake();
      });
      created.watcher.on('error', () => undefined);
    } catch {
      created.watcher = null;
    }
    waiters.set(dir, created);
    entry = created;
  }
  const { wake } = entry;
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      wake.delete(done);
      resolve();
    };
    const timer = setTimeout(done, maxMs);
    wake.add(done);
  });
}

export async function acquireLock(target: string, options: LockOptions = {}): Promise<LockHandle> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const staleMs = Math.max(options.staleMs ?? 10_000, 2000);
  const deadline = Date.now() + timeoutMs;
  const record = recordFor(target);
  let compromised: Error | null = null;
  let wait = 2;
  for (;;) {
    let release: () => void;
    try {
      record.write('A');
      // A breaker at work: let it finish (see breakLockOfDeadOwner), as if the lock were held.
      if (fs.existsSync(breakerDir(target)))
        throw Object.assign(new Error('a breaker is at work'), { code: 'ELOCKED' });
      release = lockfile.lockSync(target, {
        // Only what proper-lockfile needs: it copies the fs object on every call.
        fs: LOCK_FS,
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
      const code = errnoCode(error);
      if (code !== 'ELOCKED') {
        try {
          record.write('W');
        } catch {
          // the disk may be full: the original error is what matters
        }
        throw new DreamError('E_IO', `cannot lock ${target}: ${(error as Error).message}`);
      }
      record.write('W');
      if (breakLockOfDeadOwner(target, staleMs)) continue;
      if (Date.now() >= deadline) {
        const { owner } = inspectLock(target);
        throw new DreamError(
          'E_LOCK_TIMEOUT',
          `timed out after ${timeoutMs} ms waiting for the lock ${lockDir(target)}` +
            (owner ? ` (held by pid ${owner.pid} on ${owner.host})` : ''),
        );
      }
      // Until the locks folder changes (the holder removes its directory), or a short jittered timer.
      await waitForChange(dirname(target), wait * (0.5 + Math.random()));
      wait = Math.min(50, wait * 1.5);
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
    return {
      get compromised() {
        return compromised;
      },
      async release() {
        // The directory goes first: until then the record must keep saying H, or a breaker could
        // take the directory for a dead one and this rmdir would remove the next holder's lock.
        try {
          release();
        } catch (error) {
          if (errnoCode(error) !== 'ERELEASED') throw error;
        }
        try {
          record.write('W');
        } catch {
          // the record is only a hint; the directory was the lock
        }
      },
    };
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
  const identity = dirIdentity(lockDir(target));
  const found = identity ? ownerOf(target, identity) : null;
  const owner = found?.holder ?? null;
  const ownerAlive = owner ? (owner.host === HOST ? alive(owner) : null) : found?.liveAttempt ? true : null;
  return { target, held: true, owner, ownerAlive, ageMs };
}

/** For doctor --repair: remove a lock whose owner is dead, or that is older than the stale period. */
export function breakStaleLock(target: string, staleMs = 10_000): boolean {
  return breakLockOfDeadOwner(target, staleMs);
}
