/**
 * The client of a live session (docs/sessions.md): connect to its socket, look at its screen,
 * follow it, type into it, resize it. `dreamos agent attach|peek|send` and the console use it; a
 * read-only console connects with `mode: 'read'`, and the server refuses input from such a
 * connection whatever the client sends.
 */
import net from 'node:net';
import {
  type ClientMessage,
  MessageLines,
  PROTOCOL_VERSION,
  type ScreenSnapshot,
  type ServerMessage,
  type SessionInfo,
  type SessionMode,
  type SessionStream,
} from './protocol.js';

export interface ConnectOptions {
  /** What the connection may do: `read` looks, `write` also types and resizes. */
  mode: SessionMode;
  /**
   * What is pushed without asking: `none`; `raw`, the program's output as it comes after a first
   * screen with `ansi` (for a full-screen attach); `screen`, the screen as plain text whenever it
   * changes, at most every 50 ms (for a pane).
   */
  stream?: SessionStream;
  /** How long to wait for the server's welcome (default 3 s). */
  timeoutMs?: number;
}

/** What a subscriber hears. */
export type SessionEvent =
  /** The screen (`screen` stream); on a `raw` stream: clear the screen and repaint it with `ansi`. */
  | { type: 'screen'; screen: ScreenSnapshot }
  /** The program's output (`raw` stream), safe for the operator's terminal during an attach. */
  | { type: 'output'; data: string }
  | { type: 'resized'; cols: number; rows: number }
  /** The program ended (the connection closes next). */
  | { type: 'exit'; exitCode: number | null; signal: string | null }
  /** A message the server refused (`E_READ_ONLY`: input on a read-only connection). */
  | { type: 'error'; code: string; message: string }
  /** The connection is closed: by `close()`, the program's end, or the server's. */
  | { type: 'closed' };

export interface SessionClient {
  /** The session as the server's welcome described it (agent, task, pid, mode, size). */
  readonly info: SessionInfo;
  /** The screen now; with `ansi`, also the sequences that repaint it. */
  snapshot(options?: { ansi?: boolean }): Promise<ScreenSnapshot>;
  /** Hear the session's events until the returned function is called. */
  subscribe(listener: (event: SessionEvent) => void): () => void;
  /** Keys for the program, as a terminal sends them. Throws on a read-only connection. */
  write(data: string): void;
  /** The program's terminal size. Throws on a read-only connection. */
  resize(cols: number, rows: number): void;
  /** Any other protocol message (a `hook` event). The server checks it against the connection's mode. */
  send(message: ClientMessage): void;
  close(): void;
  /** Settles when the connection is closed. */
  readonly closed: Promise<void>;
}

/** Why a connection could not be made: the socket does not answer, or the server refused the hello. */
export class SessionUnavailable extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** Events kept for the first subscriber (a raw stream's output before it subscribed). */
const MAX_EARLY_EVENTS = 10_000;

/**
 * Connect to the session listening on `socketPath`. Events that arrive before the first
 * `subscribe` (the first screen comes with the welcome) are kept for that subscriber.
 */
export function connectSession(socketPath: string, options: ConnectOptions): Promise<SessionClient> {
  const socket = net.createConnection(socketPath);
  socket.setEncoding('utf8');
  const listeners = new Set<(event: SessionEvent) => void>();
  /** Events that came before anyone listened (the first screen arrives with the welcome). */
  let early: SessionEvent[] | null = [];
  const waiting = new Map<number, (screen: ScreenSnapshot) => void>();
  let nextId = 1;
  let info: SessionInfo | null = null;
  let ended = false;
  let markClosed!: () => void;
  const closed = new Promise<void>((resolve) => {
    markClosed = resolve;
  });
  const tell = (event: SessionEvent) => {
    if (early !== null) {
      if (early.length < MAX_EARLY_EVENTS) early.push(event);
      return;
    }
    for (const listener of [...listeners]) listener(event);
  };
  const send = (message: object) => {
    if (!socket.destroyed && !socket.writableEnded) socket.write(`${JSON.stringify(message)}\n`);
  };

  return new Promise<SessionClient>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new SessionUnavailable(`the session at ${socketPath} did not answer`));
    }, options.timeoutMs ?? 3000);
    const client: SessionClient = {
      get info() {
        return info!;
      },
      snapshot(opts = {}) {
        if (ended) return Promise.reject(new SessionUnavailable('the session connection is closed'));
        const id = nextId++;
        send({ type: 'snapshot', id, ansi: opts.ansi === true });
        return new Promise((done, fail) => {
          waiting.set(id, done);
          void closed.then(() => fail(new SessionUnavailable('the session ended before it answered')));
        });
      },
      subscribe(listener) {
        listeners.add(listener);
        const queued = early;
        early = null;
        for (const event of queued ?? []) listener(event);
        return () => listeners.delete(listener);
      },
      write(data) {
        if (options.mode !== 'write') throw new Error('a read-only session connection cannot type');
        send({ type: 'input', data });
      },
      resize(cols, rows) {
        if (options.mode !== 'write') throw new Error('a read-only session connection cannot resize');
        send({ type: 'resize', cols, rows });
      },
      send(message) {
        send(message);
      },
      close() {
        socket.end();
        socket.destroySoon();
      },
      closed,
    };
    const onMessage = (message: ServerMessage) => {
      switch (message.type) {
        case 'welcome': {
          const { type: _t, protocol: _p, ...rest } = message;
          info = rest;
          clearTimeout(timer);
          resolve(client);
          return;
        }
        case 'screen': {
          const { type: _t, id, ...screen } = message;
          if (id !== undefined) {
            waiting.get(id)?.(screen);
            waiting.delete(id);
          } else tell({ type: 'screen', screen });
          return;
        }
        case 'error':
          if (info === null) {
            clearTimeout(timer);
            reject(new SessionUnavailable(message.message, message.code));
          }
          tell({ type: 'error', code: message.code, message: message.message });
          return;
        default:
          tell(message);
      }
    };
    const lines = new MessageLines(
      Number.POSITIVE_INFINITY,
      (line) => {
        let message: ServerMessage;
        try {
          message = JSON.parse(line) as ServerMessage;
        } catch {
          socket.destroy();
          return;
        }
        onMessage(message);
      },
      () => undefined,
    );
    socket.on('data', (text: string) => lines.push(text));
    socket.once('connect', () =>
      send({
        type: 'hello',
        protocol: PROTOCOL_VERSION,
        mode: options.mode,
        stream: options.stream ?? 'none',
      }),
    );
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (info !== null) return;
      clearTimeout(timer);
      reject(
        new SessionUnavailable(`cannot reach the session at ${socketPath}: ${error.message}`, error.code),
      );
    });
    socket.once('close', () => {
      ended = true;
      clearTimeout(timer);
      if (info === null) reject(new SessionUnavailable(`the session at ${socketPath} closed the connection`));
      markClosed();
      tell({ type: 'closed' });
    });
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Text as it shows on a screen: without spaces, which a program's layout moves about. */
const squeezed = (text: string) => text.replace(/\s+/g, '');

function occurrences(haystack: string, needle: string): number {
  let count = 0;
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + 1)) count++;
  return count;
}

/**
 * Type `text` into the session, then Enter once the text shows on the screen: never both in one
 * write, which agent CLIs read as a paste (and take its newline as part of the text). Resolves
 * true once Enter is sent; false when the text did not show within `timeoutMs` (default 5 s):
 * then no Enter is sent.
 */
export async function typeLine(
  client: SessionClient,
  text: string,
  options: { timeoutMs?: number; pollMs?: number } = {},
): Promise<boolean> {
  const { timeoutMs = 5000, pollMs = 25 } = options;
  const tail = squeezed(text).slice(-24);
  // Shown once more than before: text already on the screen (in the question, say) does not count.
  const shown = async () =>
    tail === '' ? 0 : occurrences(squeezed((await client.snapshot()).lines.join('')), tail);
  const before = await shown();
  client.write(text);
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (tail === '' || (await shown()) > before) break;
    if (Date.now() >= until) return false;
    await sleep(pollMs);
  }
  client.write('\r');
  return true;
}
