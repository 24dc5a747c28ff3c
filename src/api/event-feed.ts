/**
 * What one reader of the event stream receives (docs/events.md): the events it missed, read from
 * the history after the id it names (`Last-Event-ID`), then the hub's live events, each once and in
 * the order of the journal. The feed subscribes to the hub before it reads the history, so nothing
 * written in between is lost, and hands over only what comes after what it already gave. A feed
 * runs in one of these modes:
 *
 * - REPLAYING: the history is read from after the reader's id up to `target`, the hub's last
 *   sequence number when the feed subscribed, in chunks bounded like the queue below (each chunk is
 *   one pass over the history's heads; only its own entries are read whole). Live events after
 *   `target` wait in a buffer bounded the same way; when it overflows it is emptied and `target`
 *   moves up to the last of them, which the history holds too. Of the `attention.changed` events
 *   only the last is kept: each is the whole list.
 * - LIVE: the buffer has been handed over; each event the reader wants is queued as the hub hands
 *   it over, and taken by `next()`. The queue is bounded in events and in bytes.
 * - OVERFLOWED: the reader took too long and the queue went past its bound: the feed is emptied
 *   and ends, so a slow reader costs a bounded amount of memory and never holds up the hub. The
 *   reader comes back with the id of the last event it got.
 * - ENDED: the reader went away, or the hub closed.
 *
 * A reader whose id is older than the oldest entry the history still holds (the PostgreSQL
 * backend's retention deletes old entries) is told so first (`lost`), then gets what is left; so is
 * a live reader when the hub itself fell behind retention, in the place of what was lost.
 */
import type { LostEntries } from '../../state/backend.js';
import { type DreamEvent, eventOf } from '../events.js';
import type { EventHub } from './event-hub.js';

export interface FeedOptions {
  /** The sequence number the reader got up to (its `Last-Event-ID`); null: only events from now on. */
  after: number | null;
  /** Which events the reader wants (default: all). */
  wants?: (event: DreamEvent) => boolean;
  /** The most events waiting for the reader (default 5,000)... */
  maxQueue?: number;
  /** ...and the most bytes of their JSON (default 4 MiB); past either the feed ends. */
  maxQueueBytes?: number;
  /**
   * Called once when the feed ends, at once: a reader stuck writing what it took last must be
   * told its feed overflowed without taking anything more.
   */
  onEnd?: (end: FeedEnd) => void;
}

export type FeedItem =
  | { kind: 'event'; event: DreamEvent; json: string }
  /** The entries after `after` and before `oldest` are no longer in the history. */
  | { kind: 'lost'; after: number; oldest: number };

/** Why a feed ended: its queue overflowed, the hub closed, or the reader closed it. */
export type FeedEnd = 'overflow' | 'hub-closed' | 'closed';

type QueuedEvent = { kind: 'event'; event: DreamEvent; json: string; bytes: number };
type Queued = QueuedEvent | { kind: 'lost'; after: number; oldest: number; bytes: number };

/** Where a queued item stands in the journal: an event's entry, or the last entry of a lost run. */
const seqOf = (item: Queued) => (item.kind === 'event' ? item.event.seq : item.oldest - 1);

export const FEED_DEFAULTS = { maxQueue: 5000, maxQueueBytes: 4 * 1024 * 1024 } as const;

export class EventFeed {
  #mode: 'replaying' | 'live' | 'overflowed' | 'ended' = 'replaying';
  #end: FeedEnd | null = null;
  #target: number;
  /** REPLAYING: live events after `target`; LIVE: events waiting for the reader. */
  #queue: Queued[] = [];
  #bytes = 0;
  #attention: QueuedEvent | null = null;
  #wake: (() => void) | null = null;
  readonly #unsubscribe: () => void;
  readonly #run: AsyncGenerator<FeedItem, void>;
  readonly #after: number | null;
  readonly #wants: (event: DreamEvent) => boolean;
  readonly #maxQueue: number;
  readonly #maxBytes: number;
  readonly #onEnd: ((end: FeedEnd) => void) | undefined;

  constructor(
    private readonly hub: EventHub,
    options: FeedOptions,
  ) {
    this.#after = options.after;
    this.#wants = options.wants ?? (() => true);
    this.#maxQueue = options.maxQueue ?? FEED_DEFAULTS.maxQueue;
    this.#maxBytes = options.maxQueueBytes ?? FEED_DEFAULTS.maxQueueBytes;
    this.#onEnd = options.onEnd;
    // Subscribed before anything is read: an entry written while the history is read is either
    // in what is read (up to target) or handed over by the hub (after target).
    this.#target = hub.lastSeq;
    this.#unsubscribe = hub.subscribe(
      (event, json) => this.#onEvent(event, json),
      () => this.#stop('hub-closed'),
      (lost) => this.#onLost(lost),
    );
    // Nothing to read from the history: live from the start, so the queue's bound holds at once.
    if (this.#after === null || this.#after >= this.#target) this.#handOver(this.#after ?? this.#target);
    this.#run = this.#items();
  }

  /** Why the feed ended; null while it runs. */
  get end(): FeedEnd | null {
    return this.#end;
  }

  /** The next item, or null once the feed has ended. Call one at a time. */
  async next(): Promise<FeedItem | null> {
    const { done, value } = await this.#run.next();
    return done ? null : value;
  }

  /** The reader is gone. */
  close(): void {
    this.#stop('closed');
  }

  #stop(end: FeedEnd): void {
    if (this.#end !== null) return;
    this.#end = end;
    this.#mode = end === 'overflow' ? 'overflowed' : 'ended';
    this.#queue = [];
    this.#bytes = 0;
    this.#attention = null;
    this.#unsubscribe();
    this.#wake?.();
    this.#onEnd?.(end);
  }

  #queued(event: DreamEvent, json: string): QueuedEvent {
    return { kind: 'event', event, json, bytes: Buffer.byteLength(json) };
  }

  /**
   * Entries the hub could not read (retention deleted them first): said in their place. While
   * replaying, only a run past the target matters (the history read says the rest itself).
   */
  #onLost(lost: LostEntries): void {
    if (this.#mode === 'overflowed' || this.#mode === 'ended') return;
    if (this.#mode === 'replaying' && lost.to <= this.#target) return;
    this.#queue.push({ kind: 'lost', after: lost.from - 1, oldest: lost.to + 1, bytes: 0 });
    if (this.#mode === 'live') this.#wake?.();
  }

  #full(): boolean {
    return this.#queue.length > this.#maxQueue || this.#bytes > this.#maxBytes;
  }

  #onEvent(event: DreamEvent, json: string): void {
    if (this.#mode === 'replaying') {
      if (event.type === 'attention.changed') {
        this.#attention = this.#queued(event, json);
        return;
      }
      if (event.seq <= this.#target || !this.#wants(event)) return;
      const item = this.#queued(event, json);
      this.#queue.push(item);
      this.#bytes += item.bytes;
      if (this.#full()) {
        // The history holds all of them: read them from there instead.
        this.#queue = [];
        this.#bytes = 0;
        this.#target = event.seq;
      }
      return;
    }
    if (this.#mode !== 'live' || !this.#wants(event)) return;
    const item = this.#queued(event, json);
    this.#queue.push(item);
    this.#bytes += item.bytes;
    if (this.#full()) this.#stop('overflow');
    else this.#wake?.();
  }

  async *#items(): AsyncGenerator<FeedItem, void> {
    let sent = this.#after ?? this.#target;
    if (this.#mode === 'replaying') {
      let first = true;
      while (sent < this.#target) {
        const chunk = await this.#chunk(sent);
        if (this.#mode !== 'replaying') return;
        if (first && chunk.oldest !== null && chunk.oldest > sent + 1)
          yield { kind: 'lost', after: sent, oldest: chunk.oldest };
        first = false;
        // Nothing is left between what was sent and the target: retention took it all.
        if (chunk.items.length === 0) sent = this.#target;
        for (const item of chunk.items) {
          sent = item.event.seq;
          if (this.#wants(item.event)) yield { kind: 'event', event: item.event, json: item.json };
          if (this.#mode !== 'replaying') return;
        }
      }
    }
    this.#handOver(sent);
    for (;;) {
      const item = this.#queue.shift();
      if (item) {
        this.#bytes -= item.bytes;
        yield item.kind === 'event'
          ? { kind: 'event', event: item.event, json: item.json }
          : { kind: 'lost', after: item.after, oldest: item.oldest };
        continue;
      }
      if (this.#mode !== 'live') return;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = null;
    }
  }

  /** From REPLAYING to LIVE: what waited is queued for the reader, after what it was sent. */
  #handOver(sent: number): void {
    if (this.#mode !== 'replaying') return;
    const queue = this.#queue.filter((item) => seqOf(item) > sent);
    const attention = this.#attention;
    if (attention && this.#wants(attention.event)) {
      // A snapshot of the list as of its entry: it goes right after that entry.
      const at = queue.findIndex((item) => seqOf(item) > attention.event.seq);
      queue.splice(at === -1 ? queue.length : at, 0, attention);
    }
    this.#queue = queue;
    this.#bytes = queue.reduce((sum, item) => sum + item.bytes, 0);
    this.#attention = null;
    this.#mode = 'live';
  }

  /**
   * The next entries after `sent`, up to the target, as many as the queue's bounds allow, and the
   * sequence number of the oldest entry the history holds.
   */
  async #chunk(sent: number): Promise<{ items: QueuedEvent[]; oldest: number | null }> {
    const items: QueuedEvent[] = [];
    let bytes = 0;
    let oldest: number | null = null;
    const room = () => items.length < this.#maxQueue && bytes < this.#maxBytes;
    await this.hub.history.forEach(
      (entry) => {
        if (entry.seq <= sent || entry.seq > this.#target || !room()) return;
        const event = eventOf(entry);
        const item = this.#queued(event, JSON.stringify(event));
        items.push(item);
        bytes += item.bytes;
      },
      {
        heads: {
          decode: (head) => {
            oldest ??= head.seq;
            return head.seq > sent && head.seq <= this.#target && room() && this.#mode === 'replaying';
          },
          onHead: () => undefined,
        },
      },
    );
    return { items, oldest };
  }
}
