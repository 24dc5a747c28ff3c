/**
 * The database's clock as this process knows it between readings. Leases are judged by the
 * database's clock; a plan made outside the write lock (store.ts, recordIfLatest) uses the last
 * reading carried forward by this host's monotonic clock, and the database refuses the change if
 * that is ahead of its own clock or more than a few milliseconds behind it. A host whose wall clock
 * is minutes off, or steps, reads the same time as the others.
 */
import { performance } from 'node:perf_hooks';

const monotonic = () => performance.now();

export class DbClock {
  /** The database's clock minus this host's monotonic clock (ms); null until read once. */
  private offset: number | null = null;

  /** A mark of this host's monotonic clock, for `read`: taken when the answer came. */
  static mark(): number {
    return monotonic();
  }

  /**
   * A reading of the database's clock whose answer came at `answered` (a `mark`). It was taken at
   * most then, so carried forward from `answered` it never runs ahead of the database's clock.
   */
  read(dbNow: Date, answered: number): void {
    this.offset = dbNow.getTime() - answered;
  }

  /** The database's time now (never ahead of it), never before `floorMs`; null before the first reading. */
  now(floorMs = 0): Date | null {
    if (this.offset === null) return null;
    return new Date(Math.max(monotonic() + this.offset, floorMs));
  }
}
