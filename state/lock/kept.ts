/**
 * A lock a process keeps between its own transactions. Taking and letting go of a lock costs two
 * directory operations and record writes, and catching up with what others wrote; a process that
 * comes back for the lock at once (a claim, then a complete; an import loop) pays that once. Why,
 * and what it gained: docs/decisions/kept-lock.md.
 *
 * Kept is not held forever: a keeper thread (keeper.ts) lets the lock go `lingerMs` (at most twice
 * that) after the last transaction even if this process's event loop is stuck in synchronous work,
 * and the holder hands it over after `holdMs` when another process is waiting. Waiting processes
 * therefore wait at most about `holdMs` per process ahead of them. A process killed while keeping
 * the lock is treated like one killed holding it (taken over at once); an exiting one lets it go.
 */
import { dirname } from 'node:path';
import { acquire, type LockHandle, type OwnedLock, othersHereWaiting, turnsOf } from './acquire.js';
import { Keeper } from './keeper.js';
import { othersWaiting } from './owners.js';
import { registry } from './registry.js';
import { waitForChange } from './wake.js';

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

export class KeptLock {
  private handle: OwnedLock | null = null;
  private since = 0;
  private keeper: Keeper | null = null;
  private acquisitions = 0;
  private takenAt = 0;
  private doneAt = Number.NEGATIVE_INFINITY;
  /** In the registry's kept locks: from the first take on, so that a lock never taken registers nothing. */
  private registered = false;

  constructor(
    private readonly target: string,
    private readonly options: KeptLockOptions,
  ) {}

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
    if (!this.registered) {
      registry().kept.add(this); // let go at exit from now on (the registry's exit hook)
      this.registered = true;
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
      if (this.registered) registry().kept.delete(this);
      this.registered = false;
    }
  }
}
