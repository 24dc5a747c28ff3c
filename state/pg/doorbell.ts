/**
 * How processes on other hosts learn that the state changed, without polling: LISTEN/NOTIFY as a
 * doorbell. A NOTIFY carries nothing and is sent after the commit, outside the writing transaction
 * (NOTIFY takes a lock at commit that every notifying transaction shares), at most one per tick per
 * process: a change rings at once when the last bell was a tick ago or more, else at the end of the
 * tick, once for every change made meanwhile. A listener that hears the bell reads the journal
 * itself. A lost connection is made again, with a read on reconnecting, and a
 * cheap periodic look at the journal's end covers a bell missed in between.
 */
import type { Socket } from 'node:net';
import type pg from 'pg';
import type { Watching, WatchOptions } from '../backend.js';
import { connect, isConnectionError, type PgLocation } from './connection.js';
import { Session } from './session.js';

/** How often a listener looks at the journal's end in case a bell was missed (ms). */
export const FALLBACK_MS = 1000;
/**
 * The shortest time between two bells of one process (ms). A process that writes continuously would
 * otherwise ring once per change (a NOTIFY costs the server a round trip and its shared lock, about
 * as much as the change); a change made alone still rings at once.
 */
export const BELL_TICK_MS = 20;
const RECONNECT_MIN_MS = 50;
const RECONNECT_MAX_MS = 2000;

interface Subscriber {
  onRing: () => void;
  persistent: boolean;
  onError?: (error: Error) => void;
}

export class Doorbell {
  private readonly subscribers = new Set<Subscriber>();
  private client: pg.Client | null = null;
  private connecting = false;
  private fallback: NodeJS.Timeout | null = null;
  private retry: NodeJS.Timeout | null = null;
  private retryMs = RECONNECT_MIN_MS;
  private lastSeen = -1;
  private readonly sender: Session;
  private sending: Promise<void> | null = null;
  /** The bell at the end of the tick, for the changes made since the last one. */
  private later: NodeJS.Timeout | null = null;
  /** When the last bell was sent (performance.now()). */
  private rangAt = Number.NEGATIVE_INFINITY;
  private looking = false;
  private again = false;
  private closed = false;

  constructor(
    private readonly location: PgLocation,
    /** The schema's channel: every process of one workspace listens on it. */
    private readonly channel = `dreamos_${location.schema}`,
    private readonly tickMs = BELL_TICK_MS,
  ) {
    this.sender = new Session(location, 'doorbell', false);
  }

  /** Tell every listener the state changed. Never throws: a lost bell is covered by their fallback. */
  ring(): void {
    if (this.closed || this.later) return;
    if (this.sending) {
      this.again = true;
      return;
    }
    const wait = this.rangAt + this.tickMs - performance.now();
    if (wait > 0) {
      this.later = setTimeout(() => {
        this.later = null;
        this.send();
      }, wait);
      // A process that closes its state sends it then (close); one that exits without closing leaves
      // it to the listeners' fallback look, as a bell lost with its connection.
      this.later.unref();
      return;
    }
    this.send();
  }

  private send(): void {
    this.again = false;
    this.rangAt = performance.now();
    this.sending = this.sender
      .query(`NOTIFY "${this.channel}"`)
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => {
        this.sending = null;
        if (this.again) this.ring();
      });
  }

  /** Call `onRing` whenever the bell rings, a reconnect may have missed it, or the journal moved. */
  subscribe(onRing: () => void, options: WatchOptions = {}): Watching {
    const subscriber: Subscriber = {
      onRing,
      persistent: options.persistent ?? true,
      ...(options.onError ? { onError: options.onError } : {}),
    };
    this.subscribers.add(subscriber);
    if (!this.client && !this.connecting) void this.listen();
    this.holdProcess();
    return {
      close: () => {
        this.subscribers.delete(subscriber);
        if (this.subscribers.size === 0) this.stopListening();
        else this.holdProcess();
      },
    };
  }

  private ringSubscribers(): void {
    for (const subscriber of [...this.subscribers]) subscriber.onRing();
  }

  private async listen(): Promise<void> {
    if (this.closed || this.subscribers.size === 0) return;
    this.connecting = true;
    let client: pg.Client | null = null;
    try {
      client = await connect(this.location, { purpose: 'listener' });
      if (this.closed || this.subscribers.size === 0) {
        await client.end().catch(() => undefined);
        return;
      }
      const listening = client;
      client.on('notification', () => this.ringSubscribers());
      const lost = () => {
        if (this.client !== listening) return;
        this.client = null;
        void listening.end().catch(() => undefined);
        this.reconnectLater();
      };
      client.on('error', lost);
      client.on('end', lost);
      await client.query(`LISTEN "${this.channel}"`);
      // The end of the journal as listening starts is what the fallback's first look compares with:
      // a change made after this without a bell (its process ended before it rang) is still seen.
      this.lastSeen = await journalEnd(client);
      this.client = client;
      this.retryMs = RECONNECT_MIN_MS;
      this.holdProcess();
      this.fallback ??= setInterval(() => void this.look(), FALLBACK_MS);
      // Whatever changed while nobody listened (first start or a reconnect) is read now.
      this.ringSubscribers();
    } catch (error) {
      // A connection made before LISTEN failed is ended here: nothing else holds it.
      if (client && this.client !== client) void client.end().catch(() => undefined);
      for (const s of this.subscribers) s.onError?.(error as Error);
      this.reconnectLater();
    } finally {
      this.connecting = false;
    }
  }

  private reconnectLater(): void {
    if (this.closed || this.subscribers.size === 0 || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.listen();
    }, this.retryMs);
    this.retryMs = Math.min(RECONNECT_MAX_MS, this.retryMs * 2);
    this.holdProcess();
  }

  /** The fallback: a look at the journal's end; a move since the last look rings. */
  private async look(): Promise<void> {
    const client = this.client;
    if (!client || this.looking) return;
    this.looking = true;
    try {
      const seq = await journalEnd(client);
      if (this.lastSeen >= 0 && seq !== this.lastSeen) this.ringSubscribers();
      this.lastSeen = seq;
    } catch (error) {
      // A lost connection's own error handler reconnects; one that stopped answering is given up here.
      if (isConnectionError(error) && this.client === client) {
        this.client = null;
        void client.end().catch(() => undefined);
        this.reconnectLater();
      }
    } finally {
      this.looking = false;
    }
  }

  /** Keep the process alive only while a persistent subscriber listens. */
  private holdProcess(): void {
    const persistent = [...this.subscribers].some((s) => s.persistent);
    const socket = (this.client as unknown as { connection?: { stream?: Socket } } | null)?.connection
      ?.stream;
    for (const handle of [socket, this.fallback, this.retry]) {
      if (!handle) continue;
      if (persistent) handle.ref();
      else handle.unref();
    }
  }

  private stopListening(): void {
    if (this.fallback) clearInterval(this.fallback);
    if (this.retry) clearTimeout(this.retry);
    this.fallback = null;
    this.retry = null;
    const client = this.client;
    this.client = null;
    if (client) void client.end().catch(() => undefined);
  }

  async close(): Promise<void> {
    // A bell still owed for this process's last changes goes now, after any in flight (one that
    // ends may send the next at once, if its tick has passed).
    while (this.sending) await this.sending;
    if (this.later || this.again) {
      if (this.later) clearTimeout(this.later);
      this.later = null;
      this.send();
      await this.sending;
    }
    this.closed = true;
    this.subscribers.clear();
    this.stopListening();
    await this.sender.close();
  }
}

/** The sequence number of the journal's last entry (0 when it has none). */
async function journalEnd(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ seq: string | null }>('SELECT max(seq) AS seq FROM journal');
  return Number(rows[0]?.seq ?? 0);
}
