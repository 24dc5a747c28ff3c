/**
 * Owner records: who may hold a lock, and whether that process is still alive. Each process keeps
 * one small record file per lock, `owners/<target>.by.<host>.<machine>.<pid>`, overwritten in place
 * (no new files, no renames on the hot path). What its states mean, and how a breaker reads them,
 * is in breaker.ts.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { errnoCode } from '../errors.js';
import { isGoneState, procStat } from '../proc.js';
import { createExclusive } from '../store.js';
import { registry } from './registry.js';

export interface OwnerRecord {
  pid: number;
  host: string;
  /** Boot id and PID namespace (hashed): the pid means this process only where they are the same. */
  machine?: string;
  /** The process's start time (clock ticks since boot): a reused pid is not mistaken for the owner. */
  start: string;
  /** W idle, Q waiting, A about to create the lock directory, H holding it (see breaker.ts). */
  state: 'W' | 'Q' | 'A' | 'H';
  ino?: string;
  born?: string;
}

/** The lock directory's identity, as an H record names it. */
export interface DirIdentity {
  ino: string;
  born: string;
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

export const lockDir = (target: string) => `${target}.lock`;
const recordPrefix = (target: string) => `${basename(target)}.by.`;
/** Records live in a folder of their own, so that rewriting them does not wake waiters watching the locks. */
const recordsDir = (target: string) => join(dirname(target), 'owners');

const MY_START = procStat('self')?.startTicks || '0';

/**
 * Was the record written on this machine and in this PID namespace, so that its pid can be checked
 * here? A holder that cannot be verified is treated as remote: only the stale period frees its lock.
 */
export function isLocal(record: OwnerRecord): boolean {
  return record.host === HOST && (record.machine ?? '') === MACHINE;
}

/**
 * Alive, and the same process that wrote the record (not a later one with the same pid). A zombie
 * (exited, not yet reaped by its parent) is gone: it will never let go, and its parent may not reap
 * it for a long time.
 */
export function alive(record: OwnerRecord): boolean {
  if (!isLocal(record)) return true; // cannot tell: the stale period decides
  try {
    process.kill(record.pid, 0);
  } catch (error) {
    if (errnoCode(error) !== 'EPERM') return false;
  }
  const stat = procStat(record.pid);
  if (stat === null) return true; // no /proc (macOS): the signal said it exists
  if (isGoneState(stat.state)) return false;
  return record.start === '0' || stat.startTicks === record.start;
}

/** Alive, or unreadable (being written: it may belong to the holder, so it counts as alive). */
export const liveOrUnread = (record: OwnerRecord) => record.host === '?' || alive(record);

/** Null when there is no such directory (let go meanwhile). */
export function dirIdentity(path: string): DirIdentity | null {
  const st = fs.statSync(path, { bigint: true, throwIfNoEntry: false });
  return st ? { ino: String(st.ino), born: String(st.birthtimeNs || st.ctimeNs) } : null;
}

/** One record as written: a fixed-length line, so that rewriting it in place leaves no tail behind. */
export function recordLine(state: OwnerRecord['state'], identity?: DirIdentity): string {
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
export class Record {
  private fd: number | null = null;
  readonly path: string;

  constructor(target: string) {
    // Two containers with one hostname may both run this as pid 1: the machine keeps their records apart.
    this.path = join(recordsDir(target), `${recordPrefix(target)}${HOST}.${MACHINE || 'x'}.${process.pid}`);
  }

  write(state: OwnerRecord['state'], identity?: DirIdentity): void {
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

/** This process's record for `target` (one per target, kept in the registry until exit). */
export function recordFor(target: string): Record {
  const { records } = registry();
  let record = records.get(target);
  if (!record) {
    record = new Record(target);
    records.set(target, record);
  }
  return record;
}

export interface FoundRecord {
  file: string;
  record: OwnerRecord;
}

/** Every process's record for `target`. */
export function readRecords(target: string): FoundRecord[] {
  const dir = recordsDir(target);
  const prefix = recordPrefix(target);
  const out: FoundRecord[] = [];
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return out; // nobody has written a record yet
    throw error;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    try {
      out.push({
        file: join(dir, name),
        record: JSON.parse(fs.readFileSync(join(dir, name), 'utf8')) as OwnerRecord,
      });
    } catch (error) {
      if (!(error instanceof SyntaxError) && errnoCode(error) !== 'ENOENT') throw error;
      // Being created, read while its owner rewrites it, or removed meanwhile: it may belong to the
      // holder, so it counts as a live attempt (the stale period still frees a lock it really
      // belongs to). Its name says whose it is: one of a process of this machine that is gone (killed
      // between creating its record and writing it) holds nothing, and keeps nobody waiting.
      const pid = Number(name.slice(name.lastIndexOf('.') + 1));
      const local = name === `${prefix}${HOST}.${MACHINE || 'x'}.${pid}`;
      const record: OwnerRecord = local
        ? { pid, host: HOST, machine: MACHINE, start: '0', state: 'A' }
        : { pid, host: '?', start: '0', state: 'A' };
      out.push({ file: join(dir, name), record });
    }
  }
  return out;
}

/**
 * Who may hold this lock directory: a live process whose H record names it (two records may name
 * it when a holder died and the inode and birth time were reused within one clock tick), or a live
 * process in A (between its mkdir and its H record).
 */
export function ownerOf(target: string, identity: DirIdentity) {
  const all = readRecords(target);
  const named = all.filter(
    (r) => r.record.state === 'H' && r.record.ino === identity.ino && r.record.born === identity.born,
  );
  const holder = named.find((r) => alive(r.record))?.record ?? named[0]?.record ?? null;
  const liveHolder = named.some((r) => alive(r.record));
  const liveAttempt = all.some(
    (r) => r.record.state === 'A' && r.record.pid !== process.pid && liveOrUnread(r.record),
  );
  return { holder, liveHolder, liveAttempt, all };
}

/** Is another live process waiting for this lock (or about to take it)? For holders deciding to hand it over. */
export function othersWaiting(target: string): boolean {
  return readRecords(target).some(
    (r) =>
      r.record.pid !== process.pid &&
      (r.record.state === 'Q' || r.record.state === 'A') &&
      liveOrUnread(r.record),
  );
}
