/**
 * `GET /api/v1/events`: the event stream as Server-Sent Events (docs/events.md). Each event is
 * written with its type as the SSE `event`, its journal sequence number as the `id`, and the JSON
 * event as the `data`; a reader that comes back names the last id it got (`Last-Event-ID`, or
 * `?since=` for a client that cannot set headers) and receives exactly what it missed. The reader
 * chooses what it wants with `?types=` (types and kinds, as `eventFilter` reads them) and `?task=`.
 *
 * A reader that does not keep up is dropped once its queue is full (src/api/event-feed.ts): the
 * connection is cut rather than ended, since ending it would wait for the reader to take what the
 * socket already holds. It comes back with its last id.
 */
import type { Context } from 'hono';
import { type SSEStreamingApi, streamSSE } from 'hono/streaming';
import { invalidInput } from '../errors.js';
import { type DreamEvent, eventFilter, tasksOf } from '../events.js';
import { checkTaskId } from '../lifecycle/index.js';
import { cut } from '../sanitize.js';
import type { ApiEnv } from './context.js';
import { EventFeed, type FeedOptions } from './event-feed.js';
import type { EventHub } from './event-hub.js';

export interface EventsOptions {
  /** How often a comment is written to keep the connection open through idle proxies (default 15 s). */
  heartbeatMs?: number;
  /** The most events waiting for one reader (default 5,000); past it the reader is dropped. */
  maxQueue?: FeedOptions['maxQueue'];
  /** The most bytes waiting for one reader (default 4 MiB); past it the reader is dropped. */
  maxQueueBytes?: FeedOptions['maxQueueBytes'];
}

const HEARTBEAT_MS = 15_000;
const SEQ_RE = /^(0|[1-9][0-9]{0,15})$/;

/** The sequence number a reader got up to: `Last-Event-ID` first (a reconnecting EventSource sends it), then `since`. */
function afterOf(c: Context<ApiEnv>): number | null {
  const header = c.req.header('Last-Event-ID');
  const [name, value] =
    header !== undefined && header.trim() !== ''
      ? ['Last-Event-ID', header.trim()]
      : ['since', c.req.query('since')];
  if (value === undefined || value === '') return null;
  if (!SEQ_RE.test(value) || !Number.isSafeInteger(Number(value)))
    throw invalidInput(`${name} is a sequence number (an event's id), not ${JSON.stringify(cut(value, 40))}`);
  return Number(value);
}

/** The comma-separated words of a query parameter given once or more. */
const wordsOf = (c: Context<ApiEnv>, name: string): string[] =>
  (c.req.queries(name) ?? [])
    .flatMap((v) => v.split(','))
    .map((w) => w.trim())
    .filter(Boolean);

/** Which events a reader wants, from `?types=` and `?task=`; a word neither knows is refused. */
function wantsOf(c: Context<ApiEnv>): (event: DreamEvent) => boolean {
  const typeOk = eventFilter(wordsOf(c, 'types'));
  const tasks = wordsOf(c, 'task');
  for (const id of tasks) checkTaskId(id);
  if (tasks.length === 0) return (event) => typeOk(event.type);
  return (event) => {
    if (!typeOk(event.type)) return false;
    const about = tasksOf(event);
    return tasks.some((id) => about.has(id));
  };
}

/**
 * Cut a reader's connection at once. On Node the server's response is the binding `outgoing`;
 * elsewhere aborting the stream is all there is.
 */
function drop(c: Context<ApiEnv>, stream: SSEStreamingApi): void {
  stream.abort();
  const outgoing = (c.env as { outgoing?: { destroy?: () => void } } | undefined)?.outgoing;
  outgoing?.destroy?.();
}

/** The handler of `GET /api/v1/events` (the app checks the `events` scope before it). */
export function eventsHandler(
  hub: EventHub,
  options: EventsOptions = {},
): (c: Context<ApiEnv>) => Response | Promise<Response> {
  const heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
  return (c) => {
    // Read and checked before the stream starts, so that bad input is a 400, not a stream.
    const after = afterOf(c);
    const wants = wantsOf(c);
    return streamSSE(c, async (stream) => {
      const feed = new EventFeed(hub, {
        after,
        wants,
        ...(options.maxQueue !== undefined ? { maxQueue: options.maxQueue } : {}),
        ...(options.maxQueueBytes !== undefined ? { maxQueueBytes: options.maxQueueBytes } : {}),
        onEnd: (end) => {
          if (end === 'overflow') drop(c, stream);
        },
      });
      const release = hub.connect();
      stream.onAbort(() => feed.close());
      let beating = false;
      const heartbeat = setInterval(() => {
        // One beat at a time: a reader that does not read gets no pile of them.
        if (beating || stream.aborted) return;
        beating = true;
        // A comment line: hono's writeSSE writes events only, and a comment is what readers ignore.
        void stream.write(': heartbeat\n\n').finally(() => {
          beating = false;
        });
      }, heartbeatMs);
      // The id a reader reconnects with never goes back (an attention list may come after later entries).
      let lastId = after ?? -1;
      try {
        for (let item = await feed.next(); item !== null; item = await feed.next()) {
          if (item.kind === 'lost') {
            await stream.writeSSE({
              event: 'events-lost',
              data: JSON.stringify({ after: item.after, oldest: item.oldest }),
            });
            continue;
          }
          const { event, json } = item;
          const id = event.seq >= lastId ? String(event.seq) : undefined;
          lastId = Math.max(lastId, event.seq);
          await stream.writeSSE({ event: event.type, data: json, ...(id !== undefined ? { id } : {}) });
          if (stream.aborted) feed.close();
        }
      } finally {
        clearInterval(heartbeat);
        feed.close();
        release();
      }
    });
  };
}
