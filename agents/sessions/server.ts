/**
 * A live session's server: the Unix socket through which `dreamos agent attach|peek|send` and the
 * console reach the program of a `pty` run (the protocol: ./protocol.ts). The socket is
 * `sessions/<agent>.sock` in the workspace, mode 600, in a folder only its owner can enter; what a
 * connection may do is what its `hello` declared, checked here for every message.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { errnoCode } from '../../state/errors.js';
import { realFolder } from '../../state/safe-files.js';
import { TerminalFilter } from './filter.js';
import {
  type ClientMessage,
  type HookEvent,
  MAX_CLIENT_LINE,
  MessageLines,
  PROTOCOL_VERSION,
  parseClientMessage,
  type ServerMessage,
  type SessionMode,
  type SessionStream,
} from './protocol.js';
import type { SessionScreen } from './screen.js';

/** Where the sockets of a workspace's live sessions are. */
export const sessionsDir = (home: string) => path.join(home, 'sessions');
export const sessionSocketPath = (home: string, agentId: string) =>
  path.join(sessionsDir(home), `${agentId}.sock`);

/** The longest path a Unix socket address holds on Linux and macOS (with its NUL). */
export const MAX_SOCKET_PATH = 103;
/** Screen updates to `screen` streams: at most one per this many ms. */
const SCREEN_EVERY_MS = 50;
/** A client that has not said hello by then is closed. */
const HELLO_WAIT_MS = 5000;
/** A client this far behind (bytes queued) is closed rather than buffered for without end. */
const MAX_QUEUED = 8 * 1024 * 1024;

/** What the server needs of the session it serves. */
export interface SessionHost {
  readonly agent: string;
  readonly task: string;
  readonly pid: number;
  readonly screen: SessionScreen;
  /** Keys from a `write` client, for the program. */
  input(data: string): void;
  /** A `write` client's terminal size. */
  resize(cols: number, rows: number): void;
  /** An event of the program's own hooks. */
  hook(event: HookEvent): void;
}

interface Client {
  socket: net.Socket;
  /** Closes a client that never says hello. */
  helloTimer: NodeJS.Timeout;
  mode: SessionMode | null;
  stream: SessionStream;
}

export class SessionServer {
  private readonly clients = new Set<Client>();
  private readonly filter = new TerminalFilter();
  private screenTimer: NodeJS.Timeout | null = null;
  private closed = false;

  private constructor(
    private readonly server: net.Server,
    readonly socketPath: string,
    private readonly host: SessionHost,
  ) {}

  /** Listen on the agent's socket (a socket left by a dead run is replaced). */
  static async listen(home: string, host: SessionHost): Promise<SessionServer> {
    const socketPath = sessionSocketPath(home, host.agent);
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH)
      throw new Error(`the session socket's path ${socketPath} is too long for a Unix socket`);
    const dir = sessionsDir(home);
    realFolder(home, dir);
    fs.chmodSync(dir, 0o700);
    try {
      const st = fs.lstatSync(socketPath);
      if (!st.isSocket()) throw new Error(`${socketPath} is not a socket: it is left alone`);
      fs.unlinkSync(socketPath);
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT') throw error;
    }
    const server = net.createServer();
    const session = new SessionServer(server, socketPath, host);
    server.on('connection', (socket) => session.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', () => undefined);
    fs.chmodSync(socketPath, 0o600);
    return session;
  }

  /** The program wrote `data`, and the screen has taken it (`switched`: to or from the alternate screen). */
  output(data: string, switched: boolean): void {
    const kept = this.filter.push(data);
    if (switched) this.repaintRaw();
    else if (kept !== '') this.broadcast('raw', { type: 'output', data: kept });
    this.screenChanged();
  }

  /** The program's terminal changed size. */
  resized(cols: number, rows: number): void {
    for (const client of this.clients)
      if (client.mode !== null) this.send(client, { type: 'resized', cols, rows });
    this.repaintRaw();
    this.screenChanged();
  }

  /** The program ended: every client is told, then the socket goes. */
  async close(exit: { exitCode: number | null; signal: string | null }): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.screenTimer) clearTimeout(this.screenTimer);
    this.pushScreen();
    for (const client of this.clients) {
      if (client.mode !== null) this.send(client, { type: 'exit', ...exit });
      client.socket.end();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const client of this.clients) client.socket.destroy();
    try {
      fs.unlinkSync(this.socketPath);
    } catch {
      // Already gone (the server removes it on close on some systems).
    }
  }

  private accept(socket: net.Socket): void {
    const helloTimer = setTimeout(() => socket.destroy(), HELLO_WAIT_MS);
    const client: Client = { socket, helloTimer, mode: null, stream: 'none' };
    this.clients.add(client);
    socket.setEncoding('utf8');
    const lines = new MessageLines(
      MAX_CLIENT_LINE,
      (line) => this.receive(client, line),
      () => this.refuse(client, 'E_PROTOCOL', `a message is longer than ${MAX_CLIENT_LINE} characters`),
    );
    socket.on('data', (text: string) => lines.push(text));
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearTimeout(helloTimer);
      this.clients.delete(client);
    });
  }

  private receive(client: Client, line: string): void {
    if (client.socket.destroyed) return;
    const message = parseClientMessage(line);
    if (typeof message === 'string') this.refuse(client, 'E_PROTOCOL', message);
    else if (client.mode === null && message.type !== 'hello')
      this.refuse(client, 'E_PROTOCOL', 'the first message must be "hello"');
    else this.handle(client, message);
  }

  private handle(client: Client, message: ClientMessage): void {
    const { screen } = this.host;
    switch (message.type) {
      case 'hello': {
        if (client.mode !== null) {
          this.refuse(client, 'E_PROTOCOL', 'hello was already said');
          return;
        }
        client.mode = message.mode;
        client.stream = message.stream;
        clearTimeout(client.helloTimer);
        this.send(client, {
          type: 'welcome',
          protocol: PROTOCOL_VERSION,
          agent: this.host.agent,
          task: this.host.task,
          pid: this.host.pid,
          mode: message.mode,
          cols: screen.cols,
          rows: screen.rows,
        });
        if (client.stream === 'raw') this.send(client, this.rawScreen());
        if (client.stream === 'screen') this.send(client, { type: 'screen', ...screen.snapshot() });
        return;
      }
      case 'snapshot':
        this.send(client, { type: 'screen', id: message.id, ...screen.snapshot(message.ansi === true) });
        return;
      case 'input':
      case 'resize':
      case 'hook':
        if (client.mode !== 'write') {
          this.send(client, {
            type: 'error',
            code: 'E_READ_ONLY',
            message: `this connection is read-only: ${message.type} refused`,
          });
          return;
        }
        if (message.type === 'input') this.host.input(message.data);
        else if (message.type === 'hook') this.host.hook(message.event);
        else this.host.resize(message.cols, message.rows);
        return;
    }
  }

  private refuse(client: Client, code: 'E_PROTOCOL', message: string): void {
    this.send(client, { type: 'error', code, message });
    client.socket.end();
  }

  private send(client: Client, message: ServerMessage): void {
    const { socket } = client;
    if (socket.destroyed || socket.writableEnded) return;
    if (socket.writableLength > MAX_QUEUED) {
      socket.destroy();
      return;
    }
    socket.write(`${JSON.stringify(message)}\n`);
  }

  private broadcast(stream: SessionStream, message: ServerMessage): void {
    for (const client of this.clients)
      if (client.mode !== null && client.stream === stream) this.send(client, message);
  }

  /** Raw streams start again from a repaint (the program switched screens, or the size changed). */
  private repaintRaw(): void {
    if (![...this.clients].some((c) => c.stream === 'raw' && c.mode !== null)) return;
    this.broadcast('raw', this.rawScreen());
  }

  /** The screen with the sequences that repaint it, filtered like the output. */
  private rawScreen(): ServerMessage {
    const snapshot = this.host.screen.snapshot(true);
    return { type: 'screen', ...snapshot, ansi: new TerminalFilter().push(snapshot.ansi ?? '') };
  }

  private screenChanged(): void {
    if (this.screenTimer || this.closed) return;
    if (![...this.clients].some((c) => c.stream === 'screen' && c.mode !== null)) return;
    this.screenTimer = setTimeout(() => {
      this.screenTimer = null;
      this.pushScreen();
    }, SCREEN_EVERY_MS);
  }

  private pushScreen(): void {
    if (![...this.clients].some((c) => c.stream === 'screen' && c.mode !== null)) return;
    this.broadcast('screen', { type: 'screen', ...this.host.screen.snapshot() });
  }
}
