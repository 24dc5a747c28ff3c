/**
 * The live events of one serving process (docs/events.md): the hub follows the workspace's history
 * as it grows, whichever backend keeps it, and hands the event of each new entry to every
 * subscriber, in the order of the journal. After each read that found entries it also looks at the
 * attention list, and says `attention.changed` when the set of its (key, reason) pairs moved.
 *
 * One hub serves every reader of the process: the history is read once however many readers
 * listen. A reader that needs what came before it subscribed reads that from the history itself
 * (src/api/event-feed.ts); the hub keeps nothing but the last sequence number it handed over.
 *
 * A failed read does not end the hub: it reports the failure, waits (longer each time), and reads
 * on from the entry after the last one it handed over, so its subscribers see neither a gap nor a
 * repeat, only a pause.
 */
import type { LostEntries } from '../../state/backend.js';
import type { JournalEntry } from '../../state/schemas.js';
import { attention } from '../attention.js';
import { attentionEvent, type DreamEvent, eventOf } from '../events.js';
import { type Following, followHistory } from '../history-follow.js';
import type { Workspace } from '../workspace.js';

/** What the hub needs of the workspace: its history, and the state the attention list is computed from. */
export type HubWorkspace = Pick<Workspace, 'history' | 'view' | 'config' | 'refresh' | 'journalLockHolder'>;

/** Receives each event, with its JSON (made once, for every subscriber). */
export type EventListener = (event: DreamEvent, json: string) => void;

export interface EventHubOptions {
  /** A failed read of the history, or a failed look at the attention list; the hub goes on. */
  onError?: (error: unknown) => void;
  /** The first wait before reading again after a failed read, doubled each time up to 30 s (default 1 s). */
  retryMs?: number;
  /** The clock of `attention.changed` and of the attention rules that look at time. */
  now?: () => Date;
}

interface Subscriber {
  onEvent: EventListener;
  onClose: (() => void) | undefined;
  onLost: ((lost: LostEntries) => void) | undefined;
}

const MAX_RETRY_MS = 30_000;
/**
 * A backend's view may catch up with its history a moment after the entries are read (PostgreSQL's
 * mirror applies what it fetched at the next refresh): the attention list waits for the view this
 * many times, this long apart, and is computed anyway after that.
 */
const VIEW_WAITS = 40;
const VIEW_WAIT_MS = 25;

/** The set of (key, reason) pairs of an attention list, as one comparable string. */
const attentionKey = (items: readonly { key: string; reason: string }[]): string =>
  items
    .map((i) => `${i.key}\u0000${i.reason}`)
    .sort()
    .join('\u0001');

export class EventHub {
  #lastSeq: number;
  #lastBy: string;
  readonly #subscribers = new Set<Subscriber>();
  #clients = 0;
  #following: Following | null = null;
  #closed = false;
  #attentionKey = '';
  #attentionTimer: NodeJS.Timeout | undefined;
  #viewWaits = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryMs: number;
  readonly #firstRetryMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #now: () => Date;

  private constructor(
    readonly workspace: HubWorkspace,
    options: EventHubOptions,
    last: JournalEntry | undefined,
  ) {
    this.#lastSeq = last?.seq ?? 0;
    this.#lastBy = last?.by ?? '';
    this.#firstRetryMs = options.retryMs ?? 1000;
    this.#retryMs = this.#firstRetryMs;
    this.#onError = options.onError ?? (() => undefined);
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * A hub following the workspace's history from its end: the entries already written are not
   * events of this hub (a reader asks for them by id), the ones written from now on are.
   */
  static async start(workspace: HubWorkspace, options: EventHubOptions = {}): Promise<EventHub> {
    const { entries, mark } = await workspace.history.tail(1);
    const hub = new EventHub(workspace, options, entries.at(-1));
    // The list as it is now is where changes are counted from; it is not an event itself.
    workspace.refresh();
    hub.#attentionKey = attentionKey(hub.#attentionNow());
    hub.#follow(mark);
    return hub;
  }

  /** The sequence number of the last entry whose event was handed over (0 before any). */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** The history the hub follows, for readers that replay what they missed. */
  get history() {
    return this.workspace.history;
  }

  /** How many readers of the event stream are connected (what `connect()` counts). */
  get clients(): number {
    return this.#clients;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Count one connected reader until the returned function is called (once). */
  connect(): () => void {
    this.#clients += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#clients -= 1;
    };
  }

  /**
   * Every event from now on, in order, until the returned function is called; `onClose` is called
   * if the hub closes first. `onEvent` is called synchronously as the hub reads: it must not block.
   * `onLost`: entries the history deleted (retention) before the hub read them, told in their place.
   */
  subscribe(onEvent: EventListener, onClose?: () => void, onLost?: (lost: LostEntries) => void): () => void {
    const subscriber: Subscriber = { onEvent, onClose, onLost };
    if (this.#closed) {
      onClose?.();
      return () => undefined;
    }
    this.#subscribers.add(subscriber);
    return () => {
      this.#subscribers.delete(subscriber);
    };
  }

  /** Stop following, and tell every subscriber. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#following?.close();
    this.#following = null;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#attentionTimer);
    const subscribers = [...this.#subscribers];
    this.#subscribers.clear();
    for (const s of subscribers) s.onClose?.();
  }

  #follow(mark: Parameters<typeof followHistory>[1]): void {
    const following = followHistory(
      this.workspace.history,
      mark,
      (entry) => this.#entry(entry),
      () => this.#read(),
      (lost) => this.#lost(lost),
    );
    this.#following = following;
    following.done.catch((error: unknown) => {
      if (this.#closed || this.#following !== following) return;
      this.#following = null;
      this.#onError(error);
      this.#resumeLater();
    });
  }

  #resumeLater(): void {
    const wait = this.#retryMs;
    this.#retryMs = Math.min(this.#retryMs * 2, MAX_RETRY_MS);
    this.#retryTimer = setTimeout(() => void this.#resume(), wait);
  }

  /** Read on from the entry after the last one handed over, then follow again from the end. */
  async #resume(): Promise<void> {
    if (this.#closed) return;
    try {
      let found = false;
      const mark = await this.workspace.history.forEach(
        (entry) => {
          if (this.#closed) return;
          found = this.#entry(entry) || found;
        },
        { heads: { decode: (head) => head.seq > this.#lastSeq, onHead: () => undefined } },
      );
      if (this.#closed) return;
      this.#retryMs = this.#firstRetryMs;
      if (found) this.#read();
      this.#follow(mark);
    } catch (error) {
      if (this.#closed) return;
      this.#onError(error);
      this.#resumeLater();
    }
  }

  /** Entries gone before they were read (a hub that fell behind retention): every subscriber is told. */
  #lost(lost: LostEntries): void {
    if (lost.to <= this.#lastSeq) return;
    this.#lastSeq = lost.to;
    for (const s of [...this.#subscribers]) s.onLost?.(lost);
  }

  /** Hand over the event of an entry after the last one; returns whether it was new. */
  #entry(entry: JournalEntry): boolean {
    if (entry.seq <= this.#lastSeq) return false;
    this.#lastSeq = entry.seq;
    this.#lastBy = entry.by;
    this.#emit(eventOf(entry));
    return true;
  }

  #emit(event: DreamEvent): void {
    const json = JSON.stringify(event);
    for (const s of [...this.#subscribers]) {
      try {
        s.onEvent(event, json);
      } catch (error) {
        this.#onError(error);
      }
    }
  }

  /** Entries were read: look at the attention list again (a look already waiting starts over). */
  #read(): void {
    clearTimeout(this.#attentionTimer);
    this.#viewWaits = 0;
    this.#lookAtAttention();
  }

  #lookAtAttention(): void {
    this.#attentionTimer = undefined;
    if (this.#closed) return;
    try {
      this.workspace.refresh();
      if (this.workspace.view.seq < this.#lastSeq && this.#viewWaits < VIEW_WAITS) {
        this.#viewWaits += 1;
        this.#attentionTimer = setTimeout(() => this.#lookAtAttention(), VIEW_WAIT_MS);
        return;
      }
      const items = this.#attentionNow();
      const key = attentionKey(items);
      if (key === this.#attentionKey) return;
      this.#attentionKey = key;
      this.#emit(attentionEvent(items, { seq: this.#lastSeq, by: this.#lastBy }, this.#now()));
    } catch (error) {
      this.#onError(error);
    }
  }

  #attentionNow() {
    const ws = this.workspace;
    return attention(ws.view, {
      policies: ws.config.policies,
      agents: ws.config.agents,
      now: this.#now(),
      journalLock: ws.journalLockHolder(),
    });
  }
}
