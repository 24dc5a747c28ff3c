/**
 * The database's clock as this process knows it between readings. Leases are judged by the
 * database's clock only; a plan made outside the write lock (store.ts, recordIfLatest) uses the last
 * reading carried forward by this host's clock, and the database refuses the change if that is more
 * than a few milliseconds off. A host whose clock is minutes off reads the same time as the others.
 */
export class DbClock {
  /** The database's clock minus this host's (ms); null until read once. */
  private offset: number | null = null;
  private fastestTrip = Number.POSITIVE_INFINITY;

  /**
   * A reading of the database's clock, taken between `sent` and `answered` (this host's clock). It
   * is taken after the write lock was had, near the end of the round trip, so it is placed half the
   * fastest round trip before the answer: a wait for the lock does not skew it.
   */
  read(dbNow: Date, sent: number, answered: number): void {
    this.fastestTrip = Math.min(this.fastestTrip, answered - sent);
    this.offset = dbNow.getTime() - (answered - this.fastestTrip / 2);
  }

  /** The database's time now, never before `floorMs`; null before the first reading. */
  now(floorMs = 0): Date | null {
    if (this.offset === null) return null;
    return new Date(Math.max(Date.now() + this.offset, floorMs));
  }
}
