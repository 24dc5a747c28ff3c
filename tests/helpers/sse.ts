/**
 * The event stream on a real socket, for its tests: a small hono app that mounts the events
 * handler on 127.0.0.1 (port 0), and a reader of Server-Sent Events made of fetch and
 * eventsource-parser, that can stop reading as a slow client does.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { Hono } from 'hono';
import type { ApiEnv } from '../../src/api/context.js';
import type { EventHub } from '../../src/api/event-hub.js';
import { type EventsOptions, eventsHandler } from '../../src/api/events-route.js';
import { DreamError } from '../../src/errors.js';

export interface EventServer {
  url: string;
  close(): Promise<void>;
}

/** The events handler behind `GET /api/v1/events`; a DreamError becomes 400 with its message. */
export async function serveEvents(hub: EventHub, options: EventsOptions = {}): Promise<EventServer> {
  const app = new Hono<ApiEnv>();
  app.onError((error, c) =>
    error instanceof DreamError
      ? c.json({ code: error.code, detail: error.message }, 400)
      : c.text('error', 500),
  );
  app.get('/api/v1/events', eventsHandler(hub, options));
  const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api/v1/events`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}

export interface SseReader {
  readonly status: number;
  readonly events: EventSourceMessage[];
  readonly comments: string[];
  /** Settles when the stream ends (resolved) or breaks (resolved too: a cut connection is an end). */
  readonly ended: Promise<'end' | 'cut'>;
  /** Wait until `check` holds of what was read, polling with a deadline. */
  until(check: (r: SseReader) => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Stop reading (the socket's buffers fill, as with a client that stopped reading). */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

/** Open the stream at `url` and read it as it comes. */
export async function readEvents(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
  const abort = new AbortController();
  const response = await fetch(url, { headers, signal: abort.signal });
  const events: EventSourceMessage[] = [];
  const comments: string[] = [];
  const parser = createParser({
    onEvent: (e) => events.push(e),
    onComment: (c) => comments.push(c),
  });
  let paused = false;
  let unpause: () => void = () => undefined;
  const body = response.body?.getReader();
  const decoder = new TextDecoder();
  const ended = (async (): Promise<'end' | 'cut'> => {
    if (!body) return 'end';
    try {
      for (;;) {
        while (paused) await new Promise<void>((resolve) => (unpause = resolve));
        const { done, value } = await body.read();
        if (done) return 'end';
        parser.feed(decoder.decode(value, { stream: true }));
      }
    } catch {
      return 'cut';
    }
  })();
  const reader: SseReader = {
    status: response.status,
    events,
    comments,
    ended,
    async until(check, what, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!check(reader)) {
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${what} (read ${events.length} events)`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      unpause();
    },
    async close() {
      abort.abort();
      reader.resume();
      await ended;
    },
  };
  return reader;
}

/** The body of a response that is not a stream (a refusal). */
export async function fetchText(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers });
  return { status: response.status, text: await response.text() };
}
