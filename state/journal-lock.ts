/**
 * How a db holds the journal lock: kept between this process's transactions while it keeps coming
 * back for it (KeptLock), and let go after a change that failed or whose lock was taken over
 * meanwhile, which is then reported as such rather than as made.
 */
import { DreamError } from './errors.js';
import { KeptLock } from './lock/index.js';

/** How long a process keeps the journal lock through a burst while another process waits for it (ms). */
const HOLD_MS = 20;
/** Let the journal lock go when this process has not come back for it within this long (ms). */
const LINGER_MS = 1;
/** After handing the lock over, how long to leave it to the waiter before competing again (ms). */
const HANDOVER_MS = 4;
/** Keep the journal lock between transactions from the third acquisition on (not in one-shot commands). */
const KEEP_AFTER = 3;

export class JournalLock {
  private readonly kept: KeptLock;

  /** `meanwhile` runs while waiting for the lock (reading new entries ahead, without it). */
  constructor(path: string, timeoutMs: number, meanwhile: () => void) {
    this.kept = new KeptLock(path, {
      timeoutMs,
      holdMs: HOLD_MS,
      lingerMs: LINGER_MS,
      handoverMs: HANDOVER_MS,
      keepAfter: KEEP_AFTER,
      meanwhile,
    });
  }

  /**
   * `work` holding the journal lock: the lock is kept for the next transaction when `work`
   * succeeds and the lock was not taken over meanwhile, let go otherwise.
   */
  async hold<T>(work: () => T | Promise<T>, lockWaitMs: number): Promise<T> {
    const lock = await this.kept.take(lockWaitMs);
    let ok = false;
    try {
      const result = await work();
      if (lock.compromised) {
        throw new DreamError(
          'E_LOCK_COMPROMISED',
          `the journal lock was taken over while held: ${lock.compromised.message}`,
        );
      }
      ok = true;
      return result;
    } finally {
      if (ok) this.kept.done();
      else this.kept.letGo();
    }
  }

  /** Keep the lock this long after a transaction when nobody waits for it (ms); null: the usual. */
  setLinger(ms: number | null): void {
    this.kept.setLinger(ms ?? LINGER_MS);
  }

  letGo(): void {
    this.kept.letGo();
  }

  close(): void {
    this.kept.close();
  }
}
