/**
 * The shared writer's view of its requests in the journal: which requests this process waits for
 * and the entry each one made, and which request ids the journal holds lately. It watches every
 * entry the db reads or writes (an EntryObserver) and is given only the few db knobs it needs
 * (ObservedDb), so the db knows nothing of the writer's protocol. See docs/decisions/shared-writer.md.
 */
import type { EntryObserver, ObservedDb } from '../change.js';
import type { JournalEntry } from '../schemas.js';

/**
 * How long the writer keeps the journal lock after a batch while it has clients (ms): their
 * requests come at their own pace, a little later than a process's own next change would.
 */
const SERVING_LINGER_MS = 10;
/** A request is settled within seconds: ids older than this are forgotten once there are many. */
const REMEMBER_MS = 3_600_000;
/** How many request ids are kept before the old ones are forgotten. */
const REMEMBER_COUNT = 10_000;

export class RequestLog implements EntryObserver {
  /** Requests whose entries this process is looking for, and the entry once read. */
  private readonly awaited = new Map<string, JournalEntry | null>();
  /**
   * Requests under way (awaited here, or served by this process as the writer), and the last entry
   * their asker had read when it sent them: their entries can only come after it.
   */
  private readonly underWay = new Map<string, number>();
  /** Request ids recorded in the journal lately: when this process read them, and at which entry. */
  private readonly recorded = new Map<string, { at: number; seq: number }>();
  private readonly db: ObservedDb;

  /** `observe` attaches the log to a db (WriterDb.observe) and returns what it may do to it. */
  constructor(observe: (observer: EntryObserver) => ObservedDb) {
    this.db = observe(this);
  }

  onEntry(entry: JournalEntry): void {
    if (!entry.req) return;
    const id = entry.req.id;
    if (this.awaited.has(id)) this.awaited.set(id, entry);
    const now = Date.now();
    this.recorded.set(id, { at: now, seq: entry.seq });
    if (this.recorded.size > REMEMBER_COUNT) {
      for (const [old, { at }] of this.recorded) {
        if (now - at < REMEMBER_MS) break;
        this.recorded.delete(old);
      }
    }
  }

  /** The oldest entry a request under way can have: after the one its asker had read. */
  reloadFrom(): number | null {
    let from: number | null = null;
    for (const seen of this.underWay.values()) from = from === null ? seen + 1 : Math.min(from, seen + 1);
    return from;
  }

  /**
   * The state was loaded anew: what was read from entry `from` on is forgotten, and the entries of
   * requests the journal holds from there are taken again.
   */
  onReload(entries: readonly JournalEntry[], from: number): void {
    for (const [id, entry] of this.awaited) if (entry && entry.seq >= from) this.awaited.set(id, null);
    for (const [id, { seq }] of this.recorded) if (seq >= from) this.recorded.delete(id);
    for (const entry of entries) this.onEntry(entry);
  }

  /**
   * Look out for the entry a shared writer may make for this request (read by catch-up from now on);
   * `seen`: the last entry this process had read.
   */
  awaitRequest(id: string, seen = 0): void {
    this.awaited.set(id, null);
    this.underWay.set(id, seen);
  }

  /** This process, the writer, has read a request whose asker had read up to entry `seen`. */
  serveRequest(id: string, seen = 0): void {
    this.underWay.set(id, seen);
  }

  /** This process, the writer, has answered the request. */
  servedRequest(id: string): void {
    this.underWay.delete(id);
  }

  /** The entry made for an awaited request, once this process has read it. */
  requestEntry(id: string): JournalEntry | null {
    return this.awaited.get(id) ?? null;
  }

  forgetRequest(id: string): void {
    this.awaited.delete(id);
    this.underWay.delete(id);
  }

  /** Is a change for this request in the journal already (made by a writer, or settled by its asker)? */
  requestRecorded(id: string): boolean {
    return this.recorded.has(id);
  }

  /** Holding the journal lock: make the journal's last segment durable (entries a dead writer left). */
  syncJournal(): void {
    this.db.syncJournal();
  }

  /**
   * This process makes changes for `clients` other processes: with clients, keep the lock between
   * their batches, and write snapshots after as many entries as all of them would have written each
   * on their own, not `clients` + 1 times as often.
   */
  serving(clients: number): void {
    // Alone, it keeps the lock no longer than any process: one stopped (SIGSTOP, a debugger) between
    // two transactions is then very unlikely to be stopped holding it.
    this.db.setLinger(clients > 0 ? SERVING_LINGER_MS : null);
    this.db.setSnapshotScale(1 + clients);
  }
}
