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
 *   W  idle    Q  waiting for the lock    A  about to create the lock directory    H <ino> <birth>  holding it
 * A process writes A before each mkdir, so a lock directory that no H record claims was made by a
 * process whose record says A. When the H record's process is dead — or no H record claims the
 * directory and no live process is in A — the lock is taken over at once, not after the stale period.
 *
 * A process may keep a lock between transactions that follow each other at once (KeptLock, at the
 * end of this file): a keeper thread lets it go when the next one does not come.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import lockfile from 'proper-lockfile';
import { DreamError, errnoCode } from './errors.js';
import { createExclusive } from './store.js';

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

interface OwnedLock extends LockHandle {
  releaseSync(): void;
}

export interface OwnerRecord {
  pid: number;
  host: string;
  /** Boot id and PID namespace (hashed): the pid means this process only where they are the same. */
  machine?: string;
  /** The process's start time (clock ticks since boot): a reused pid is not mistaken for the owner. */
  start: string;
  state: 'W' | 'Q' | 'A' | 'H';
  ino?: string;
  born?: string;
}

const HOST = hostname();

/**
 * This machine and PID namespace: containers that share a hostname (a Kubernetes pod, `docker run
 * --hostname`) see different pids for one process, so a pid can be checked only where the record
 * was written. The boot id tells machines (and reboots) apart, the PID namespace's inode the
 * namespaces of one machine. Empty without /proc (macOS): there the hostname alone decides.
 */
function machineTag(): string {
  const read = (fn: () => string) => {
    try {
      return fn();
    } catch {
      return '';
    }
  };
  const boot = read(() => fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
  const ns = read(() => fs.readlinkSync('/proc/self/ns/pid'));
  if (!boot || !ns) return '';
  return createHash('sha256').update(`${boot}/${ns}`).digest('hex').slice(0, 12);
}
const MACHINE = machineTag();
/** This machine and PID namespace, as owner records name it (tests plant records with it). */
export const LOCAL_MACHINE = MACHINE;
const RECORD_BYTES = 256;
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

/**
 * Was the record written on this machine and in this PID namespace, so that its pid can be checked
 * here? A holder that cannot be verified is treated as remote: only the stale period frees its lock.
 */
function isLocal(record: OwnerRecord): boolean {
  return record.host === HOST && (record.machine ?? '') === MACHINE;
}

/** Alive, and the same process that wrote the record (not a later one with the same pid). */
function alive(record: OwnerRecord): boolean {
  if (!isLocal(record)) return true; // cannot tell: the stale period decides
  try {
    process.kill(record.pid, 0);
  } catch (error) {
    if (errnoCode(error) !== 'EPERM') return false;
  }
  const start = startTime(record.pid);
  return start === null || record.start === '0' || start === record.start;
}

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

/** The state letter of /proc/<pid>/stat: T (stopped) and t (traced) cannot let go; Z and X are gone. */
function processState(pid: number): HolderState {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const letter = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (letter === 'T' || letter === 't') return 'stopped';
    if (letter === 'Z' || letter === 'X') return 'gone';
    return 'running';
  } catch {
    return 'running'; // no /proc (macOS): alive() already said it exists
  }
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

function dirIdentity(path: string): { ino: string; born: string } | null {
  try {
    const st = fs.statSync(path, { bigint: true });
    return { ino: String(st.ino), born: String(st.birthtimeNs || st.ctimeNs) };
  } catch {
    return null;
  }
}

/** One record as written: a fixed-length line, so that rewriting it in place leaves no tail behind. */
function recordLine(state: OwnerRecord['state'], identity?: { ino: string; born: string }): string {
  const text = JSON.stringify({
    pid: process.pid,
    host: HOST,
    machine: MACHINE,
    start: MY_START,
    state,
    ...identity,
  });
  return text.padEnd(RECORD_BYTES - 1, ' ').concat('\n');
}

/** This process's record for one lock target, written in place. */
class Record {
  private fd: number | null = null;
  readonly path: string;

  constructor(target: string) {
    // Two containers with one hostname may both run this as pid 1: the machine keeps their records apart.
    this.path = join(recordsDir(target), `${recordPrefix(target)}${HOST}.${MACHINE || 'x'}.${process.pid}`);
  }

  write(state: OwnerRecord['state'], identity?: { ino: string; born: string }): void {
    if (this.fd === null) {
      fs.mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
      this.fd = createExclusive(this.path);
    }
    fs.writeSync(this.fd, recordLine(state, identity), 0);
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
/** Locks this process holds: an exiting process lets them go rather than leave them to a breaker. */
const holding = new Set<() => void>();
process.once('exit', () => {
  for (const kept of [...keptLocks]) {
    try {
      kept.letGo();
    } catch {
      // exiting anyway
    }
  }
  for (const release of [...holding]) {
    try {
      release();
    } catch {
      // exiting anyway
    }
  }
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
  if (others.some((r) => r.record.state === 'H' && isLocal(r.record) && live(r))) return true;
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
      if (isLocal(r.record) && !alive(r.record)) fs.rmSync(r.file, { force: true });
    }
    const tomb = `${lockDir(target)}.dead-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
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

/**
 * How often a waiter looks for a dead owner (ms). Looking reads every record and /proc entry, and
 * under contention a waiter fails many attempts a second: doing it on each would eat the CPU the
 * holder needs. A lock of a killed process is still taken over within about this long.
 */
const DEAD_OWNER_CHECK_MS = 25;
/** How often a waiter looks whether the holder is stopped, and how long it must stay so (ms). */
const HOLDER_CHECK_MS = 200;
const STOPPED_GRACE_MS = 2000;

/** Is another live process waiting for this lock (or about to take it)? For holders deciding to hand it over. */
function othersWaiting(target: string): boolean {
  return readRecords(target).some(
    (r) =>
      r.record.pid !== process.pid &&
      (r.record.state === 'Q' || r.record.state === 'A') &&
      (r.record.host === '?' || alive(r.record)),
  );
}

export function acquireLock(target: string, options: LockOptions = {}): Promise<LockHandle> {
  return acquire(target, options, null);
}

/**
 * Turns within this process: one acquirer of a lock target at a time. They share one record file,
 * so two at once (two workspaces on one folder in one process) could overwrite each other's H with
 * Q. A kept lock holds the turn, and is asked to let go as soon as another acquirer here queues.
 */
interface Turns {
  busy: boolean;
  queue: Array<() => void>;
  kept: KeptLock | null;
}
const turns = new Map<string, Turns>();
function turnsOf(target: string): Turns {
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
const othersHereWaiting = (target: string) => turnsOf(target).queue.length > 0;

async function acquire(target: string, options: LockOptions, keeper: Keeper | null): Promise<OwnedLock> {
  await takeTurn(target);
  try {
    return await acquireOnDisk(target, options, keeper);
  } catch (error) {
    passTurn(target);
    throw error;
  }
}

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
      if (queued && fs.existsSync(lockDir(target)))
        throw Object.assign(new Error('still held'), { code: 'ELOCKED' });
      attempted = true;
      record.write('A');
      // A breaker at work: let it finish (see breakLockOfDeadOwner), as if the lock were held.
      if (fs.existsSync(breakerDir(target)))
        throw Object.assign(new Error('a breaker is at work'), { code: 'ELOCKED' });
      release = lockfile.lockSync(target, {
        // Only what proper-lockfile needs: it copies the fs object on every call. A kept lock's
        // directory may have been let go by its keeper thread: then there is nothing to remove.
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
      const code = errnoCode(error);
      if (code !== 'ELOCKED') {
        try {
          record.write('W');
        } catch {
          // the disk may be full: the original error is what matters
        }
        throw new DreamError('E_IO', `cannot lock ${target}: ${(error as Error).message}`);
      }
      if (attempted) record.write('Q');
      queued = true;
      if (Date.now() >= deadOwnerCheckAt || Date.now() >= deadline) {
        deadOwnerCheckAt = Date.now() + DEAD_OWNER_CHECK_MS;
        if (breakLockOfDeadOwner(target, staleMs)) continue;
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

// --- Keeping a lock between transactions ------------------------------------------------------

const NOT_HELD = 0;
const BUSY = 1;
const LINGER = 2;
const RELEASING = 3;
const RELEASED = 4;

/**
 * The keeper thread. It sleeps while the lock is not kept; once the main thread leaves the lock
 * kept (LINGER), it waits `lingerMs` and, if the main thread has not taken it back meanwhile (one
 * compare-and-swap; kept again since counts as taken back: the round changed), removes the lock
 * directory and marks the record idle, as a release would. Cell 4 says it is in that timed wait.
 * It needs no event loop of its own: it blocks in Atomics.wait.
 */
const KEEPER_SOURCE = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const cell = new Int32Array(workerData.buffer);
const { lockDir, recordPath, idleRecord } = workerData;
Atomics.store(cell, 2, 1);
for (;;) {
  const state = Atomics.load(cell, 0);
  if (state !== ${LINGER}) {
    Atomics.wait(cell, 0, state);
    continue;
  }
  const round = Atomics.load(cell, 1);
  Atomics.store(cell, 4, 1);
  const waited = Atomics.wait(cell, 0, ${LINGER}, Atomics.load(cell, 3));
  Atomics.store(cell, 4, 0);
  if (waited !== 'timed-out') continue;
  if (Atomics.load(cell, 1) !== round) continue;
  if (Atomics.compareExchange(cell, 0, ${LINGER}, ${RELEASING}) !== ${LINGER}) continue;
  try { fs.rmdirSync(lockDir); } catch {}
  try {
    const fd = fs.openSync(recordPath, fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW);
    try { fs.writeSync(fd, idleRecord, 0); } finally { fs.closeSync(fd); }
  } catch {}
  Atomics.store(cell, 0, ${RELEASED});
  Atomics.notify(cell, 0);
}
`;

/** worker_threads is loaded when the first keeper starts: one-shot commands never need it. */
const loadBuiltin = createRequire(import.meta.url);

/** One keeper thread for one kept lock, and the cell the two threads share. */
class Keeper {
  /** [state, linger round, keeper running, linger ms, keeper in its timed wait] */
  private readonly cell = new Int32Array(new SharedArrayBuffer(20));
  private readonly worker: import('node:worker_threads').Worker;
  private broken = false;

  constructor(target: string, lingerMs: number) {
    // The record file exists by now (every acquisition writes it), and may say H for a lock this
    // process holds: it is not touched here.
    const record = recordFor(target);
    const idleRecord = recordLine('W');
    const { Worker } = loadBuiltin('node:worker_threads') as typeof import('node:worker_threads');
    this.worker = new Worker(KEEPER_SOURCE, {
      eval: true,
      workerData: {
        buffer: this.cell.buffer,
        lockDir: lockDir(target),
        recordPath: record.path,
        idleRecord,
      },
    });
    this.setLinger(lingerMs);
    this.worker.unref();
    const fail = () => {
      this.broken = true;
    };
    this.worker.once('error', fail);
    this.worker.once('exit', fail);
  }

  /** Can the lock be left kept: is the thread running to let it go? (Read from the shared cell: a
   * burst of transactions may never turn the event loop that would deliver the 'online' event.) */
  get ready(): boolean {
    return !this.broken && Atomics.load(this.cell, 2) === 1;
  }

  held(): void {
    Atomics.store(this.cell, 0, BUSY);
  }

  setLinger(ms: number): void {
    Atomics.store(this.cell, 3, Math.max(1, Math.round(ms)));
  }

  /** Kept (or let go by the thread meanwhile), not inside a transaction. */
  get lingering(): boolean {
    const state = Atomics.load(this.cell, 0);
    return state === LINGER || state === RELEASING || state === RELEASED;
  }

  linger(): void {
    Atomics.add(this.cell, 1, 1);
    Atomics.store(this.cell, 0, LINGER);
    // A thread already in its timed wait is not woken (a wake-up per transaction cost the writer of
    // a busy workspace about a tenth of its rate): at the end of that wait it sees the new round
    // and waits again, so the lock is let go between one and two `lingerMs` after the last transaction.
    if (Atomics.load(this.cell, 4) === 0) Atomics.notify(this.cell, 0);
  }

  /**
   * Take the lock back from the keeper thread: 'kept' when it was left kept (it is BUSY now),
   * 'held' when it was not left to the thread, 'gone' when the thread let it go (after waiting for
   * the thread to finish, a matter of microseconds).
   */
  takeBack(): 'kept' | 'held' | 'gone' {
    const was = Atomics.compareExchange(this.cell, 0, LINGER, BUSY);
    if (was === LINGER) return 'kept';
    return this.letGoByThread() ? 'gone' : 'held';
  }

  /** Has the thread let the lock go? (Waits while it is doing so.) Leaves the state as it is. */
  private letGoByThread(): boolean {
    while (Atomics.load(this.cell, 0) === RELEASING) Atomics.wait(this.cell, 0, RELEASING, 5);
    return Atomics.load(this.cell, 0) === RELEASED;
  }

  notHeld(): void {
    Atomics.store(this.cell, 0, NOT_HELD);
  }

  /**
   * The file operations proper-lockfile uses on a kept lock. Once the keeper thread has removed the
   * directory, another process may have made a new one at the same path: proper-lockfile's release,
   * its exit hook and its mtime-refresh timer must then see it as gone, never remove or touch it.
   */
  lockFs() {
    const gone = (path: string) => Object.assign(new Error(`ENOENT: ${path} was let go`), { code: 'ENOENT' });
    return {
      ...LOCK_FS,
      rmdirSync: (path: string) => {
        if (this.takeBack() !== 'gone') fs.rmdirSync(path);
      },
      // A look only: taking the lock back here would leave it BUSY, and the thread would then never
      // let it go if this process stays idle.
      statSync: (path: string, options?: fs.StatSyncOptions) => {
        if (this.letGoByThread()) throw gone(path);
        return fs.statSync(path, options);
      },
      utimesSync: (path: string, atime: fs.TimeLike, mtime: fs.TimeLike) => {
        // Taken back for the moment of the update, so that the keeper cannot remove the directory
        // in between; left kept again afterwards if it was.
        const from = this.takeBack();
        if (from === 'gone') throw gone(path);
        try {
          fs.utimesSync(path, atime, mtime);
        } finally {
          if (from === 'kept' && Atomics.compareExchange(this.cell, 0, BUSY, LINGER) === BUSY)
            Atomics.notify(this.cell, 0);
        }
      },
    };
  }

  stop(): void {
    this.broken = true;
    void this.worker.terminate();
  }
}

const keptLocks = new Set<KeptLock>();

export interface KeptLockOptions {
  timeoutMs: number;
  /** Keep the lock through a burst at most this long while another process waits for it (ms). */
  holdMs: number;
  /** Let the lock go when the next transaction has not come within this long (ms). */
  lingerMs: number;
  /** After handing the lock over, leave it to the waiter this long before competing again (ms). */
  handoverMs: number;
  /** Start keeping the lock from this many acquisitions on (one-shot commands never start a keeper). */
  keepAfter: number;
  /** Lock-free work before taking the lock on disk and while waiting for it (not when it is kept). */
  meanwhile?: () => void;
}

/**
 * A lock a process keeps between its own transactions. Taking and letting go of a lock costs two
 * directory operations and record writes, and catching up with what others wrote; a process that
 * comes back for the lock at once (a claim, then a complete; an import loop) pays that once.
 *
 * Kept is not held forever: a keeper thread lets the lock go `lingerMs` (at most twice that) after
 * the last transaction even if this process's event loop is stuck in synchronous work, and the holder hands it over
 * after `holdMs` when another process is waiting. Waiting processes therefore wait at most about
 * `holdMs` per process ahead of them. A process killed while keeping the lock is treated like one
 * killed holding it (taken over at once); an exiting one lets it go.
 */
export class KeptLock {
  private handle: OwnedLock | null = null;
  private since = 0;
  private keeper: Keeper | null = null;
  private acquisitions = 0;
  private takenAt = 0;
  private doneAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly target: string,
    private readonly options: KeptLockOptions,
  ) {
    keptLocks.add(this);
  }

  async take(timeoutMs = this.options.timeoutMs): Promise<LockHandle> {
    this.takenAt = performance.now();
    if (this.handle) {
      const ours = this.keeper?.takeBack() !== 'gone';
      if (ours && !this.handle.compromised && !othersHereWaiting(this.target)) {
        const now = performance.now();
        if (now - this.since < this.options.holdMs) return this.handle;
        if (!othersWaiting(this.target)) {
          this.since = now;
          return this.handle;
        }
        this.letGo();
        await waitForChange(dirname(this.target), this.options.handoverMs); // a lock taken or let go
      } else {
        this.letGo();
      }
    }
    this.acquisitions += 1;
    if (!this.keeper && this.acquisitions >= this.options.keepAfter) {
      try {
        this.keeper = new Keeper(this.target, this.options.lingerMs);
      } catch {
        this.keeper = null; // no thread: every transaction lets go at its end
      }
    }
    this.options.meanwhile?.();
    this.handle = await acquire(
      this.target,
      { timeoutMs, whileWaiting: this.options.meanwhile },
      this.keeper,
    );
    this.keeper?.held();
    this.since = performance.now();
    turnsOf(this.target).kept = this;
    return this.handle;
  }

  /**
   * The transaction is over. In a burst (this one was asked for within `lingerMs` of the last one's
   * end) keep the lock for the next, if a keeper thread can let it go; else let go now. A lone
   * transaction (a heartbeat) holds the lock no longer than before, so a process stopped between
   * transactions (SIGSTOP, a debugger) is very unlikely to be stopped holding it.
   */
  done(): void {
    const burst = this.takenAt - this.doneAt <= this.options.lingerMs;
    this.doneAt = performance.now();
    if (
      burst &&
      this.handle &&
      this.keeper?.ready &&
      !this.handle.compromised &&
      !othersHereWaiting(this.target)
    )
      this.keeper.linger();
    else this.letGo();
  }

  /**
   * How long to keep the lock after a transaction for the next one (ms). A process that makes
   * changes for others (the shared writer) comes back at their pace, not its own, and keeps it longer.
   */
  setLinger(ms: number): void {
    this.options.lingerMs = ms;
    this.keeper?.setLinger(ms);
  }

  /** Another acquirer in this process queued: let go now if no transaction is running on the lock. */
  yieldTurn(): void {
    if (this.handle && this.keeper?.lingering) this.letGo();
  }

  /** Let go now (when it is still ours; the keeper may have let go already). */
  letGo(): void {
    const handle = this.handle;
    this.handle = null;
    if (!handle) return;
    const t = turnsOf(this.target);
    if (t.kept === this) t.kept = null;
    try {
      handle.releaseSync(); // its rmdir goes through the keeper's check (lockFs)
    } finally {
      this.keeper?.notHeld();
    }
  }

  close(): void {
    try {
      this.letGo();
    } finally {
      this.keeper?.stop();
      this.keeper = null;
      keptLocks.delete(this);
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
