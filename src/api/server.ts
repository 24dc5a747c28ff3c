/**
 * The API on a socket (`dreamos serve`): a node:http server through @hono/node-server, on loopback
 * unless tokens exist, counting its connections and event streams for the console, and closing
 * cleanly: it stops accepting, ends the event streams (their clients resume from their last id),
 * lets the requests under way finish, then closes what is left.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { isIPv4, isIPv6, type Socket } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { DreamError, errnoCode } from '../errors.js';
import type { ServingStatus, TokenVerifier } from './context.js';

/** Where the event stream is served: its open requests are the streams `streams()` counts. */
const EVENTS_PATH = '/api/v1/events';

/** How long the requests under way may take to finish once the server closes. */
const CLOSE_GRACE_MS = 5000;

export interface ServerOptions {
  /** What answers the requests: a hono app, or anything with its `fetch`. */
  app: { fetch: (request: Request, ...rest: never[]) => Response | Promise<Response> };
  /** `HOST:PORT` (`[::1]:PORT` for IPv6); port 0 picks a free one. */
  listen: string;
  /** Listening beyond loopback needs at least one usable token. */
  tokens: TokenVerifier;
}

export interface RunningServer extends ServingStatus {
  /** The API's base address, `http://HOST:PORT/api/v1`, with the port actually bound. */
  readonly url: string;
  /** `http://HOST:PORT`. */
  readonly origin: string;
  readonly host: string;
  readonly port: number;
  /** Requests under way, event streams included. */
  clients(): number;
  /** Open TCP connections (idle keep-alives included). */
  connections(): number;
  /** Clients of the event stream now. */
  streams(): number;
  /** Stop accepting, end the streams, let requests under way finish, close every connection. */
  close(): Promise<void>;
}

/** `HOST:PORT`, `[IPV6]:PORT`, or a bare port (on 127.0.0.1). */
export function parseListen(value: string): { host: string; port: number } {
  const text = value.trim();
  const match = /^\d{1,5}$/.test(text)
    ? [text, undefined, '127.0.0.1', text]
    : /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  const host = match ? (match[1] ?? match[2]!) : '';
  const port = match ? Number(match[3]) : Number.NaN;
  if (!match || port > 65535 || (match[1] !== undefined && !isIPv6(host)))
    throw new DreamError(
      'E_USAGE',
      `--listen takes HOST:PORT (e.g. 127.0.0.1:7420, [::1]:7420), got ${JSON.stringify(value).slice(0, 80)}`,
    );
  return { host, port };
}

/** Whether only this machine can reach an address: 127.0.0.0/8, ::1 or localhost. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^::ffff:/, '');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  return isIPv4(h) && h.startsWith('127.');
}

const hostInUrl = (host: string) => (isIPv6(host) ? `[${host}]` : host);

function listenError(error: unknown, listen: string): DreamError {
  const code = errnoCode(error);
  if (code === 'EADDRINUSE')
    return new DreamError(
      'E_CONFLICT',
      `${listen} is already in use (another dreamos serve?): choose another address with --listen`,
    );
  if (code === 'EACCES')
    return new DreamError('E_USAGE', `not allowed to listen on ${listen}: use a port above 1023`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return new DreamError('E_USAGE', `${listen} is not an address of this machine`);
  return new DreamError('E_IO', `cannot listen on ${listen}: ${(error as Error).message}`);
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { host, port } = parseListen(options.listen);
  if (!isLoopback(host) && options.tokens.usable() === 0)
    throw new DreamError(
      'E_USAGE',
      `refusing to listen on ${host}: other machines could reach it and no usable token exists; create one first (dreamos token create --scope read), or listen on 127.0.0.1`,
    );
  const server = createAdaptorServer({ fetch: options.app.fetch as never }) as Server;
  const sockets = new Set<Socket>();
  const underWay = new Map<ServerResponse, IncomingMessage>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  /** Called when the last request under way has ended, while the server closes. */
  let whenIdle: (() => void) | null = null;
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    underWay.set(response, request);
    response.once('close', () => {
      underWay.delete(response);
      if (underWay.size === 0) whenIdle?.();
    });
  });
  await new Promise<void>((resolve, reject) => {
    const failed = (error: unknown) => reject(listenError(error, options.listen));
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const address = server.address();
  const bound = typeof address === 'object' && address ? address : { address: host, port };
  const isStream = (request: IncomingMessage) => (request.url ?? '').split('?')[0] === EVENTS_PATH;

  let closing: Promise<void> | null = null;
  const close = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    // An event stream never ends by itself: its client reconnects and resumes from its last id.
    for (const [, request] of underWay) if (isStream(request)) request.socket.destroy();
    if (underWay.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => {
          whenIdle = resolve;
        }),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, CLOSE_GRACE_MS);
        }),
      ]);
      clearTimeout(timer);
    }
    server.closeAllConnections();
    await closed;
  };
  const origin = `http://${hostInUrl(bound.address)}:${bound.port}`;
  return {
    url: `${origin}/api/v1`,
    origin,
    host: bound.address,
    port: bound.port,
    clients: () => underWay.size,
    connections: () => sockets.size,
    streams: () => [...underWay.values()].filter(isStream).length,
    close: () => {
      closing ??= close();
      return closing;
    },
  };
}
