/**
 * The shared writer: one process per workspace makes the hot lifecycle changes (claim, renew,
 * complete, fail) for every long-lived process that opened the workspace, in group-committed batches.
 *
 * Why: each process keeps the whole state by reading every journal entry (parse, crc, zod), and
 * takes the journal lock for every change. With several busy processes on a few cores, most of the
 * CPU went into each one re-reading the others' entries and into handing the lock around (README,
 * Performance). With one writer, the others send a request and wait; the writer plans it against its
 * up-to-date state, and makes a whole batch of changes durable with one fdatasync.
 *
 * Correctness never depends on it. The writer takes the journal lock for every batch like any other
 * writer, so direct writers (CLI commands, a process that cannot reach the writer) interleave with
 * it safely, and two writers at once are just two users of the lock.
 *
 * Election: the writer listens on a Unix socket in the workspace (locks/writer.sock, mode 600), so
 * only the workspace's owner may connect. The first long-lived process to make a hot change finds
 * nobody listening; holding the election lock, it looks again, removes a socket left by a dead
 * writer, and listens. The others connect; the writer's greeting names its workspace, which they
 * check. When the writer goes, the next request finds nobody there, and its process is elected the
 * same way. A workspace path too long for a socket address (over 103 bytes with
 * `/locks/writer.sock`) means no shared writer: every process writes for itself.
 *
 * Crash safety: each request carries an id, recorded in the entry its change makes (`req`). The
 * journal is the fence. A client with no answer (the writer vanished without saying goodbye, or did
 * not answer in time) takes the journal lock and looks for its id in the journal. Found: the change
 * was made, and the entry says what it returned. Not found: the client makes the change itself, and
 * records it under the same id (an empty entry if there is nothing to change). The writer plans each
 * request holding the same lock, after reading the journal, and refuses one whose id is already
 * there: whichever comes first, the change is made once. A writer that closes answers every request
 * it has read, then says goodbye: a request it did not answer, it never read, and the client makes
 * the change itself.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import * as z from 'zod';
import type { BatchItem, Change, JournalDb, Outcome, Plan, StateView, Transact } from './db.js';
import { DreamError, ERROR_CODES, type ErrorCode } from './errors.js';
import { acquireLock, type LockHandle } from './lock.js';
import { AGENT_ID_RE, type JournalEntry, REQUEST_ID_RE } from './schemas.js';
import { RequestLog } from './writer/request-log.js';

/** A change any process may ask the writer to make: planned from JSON arguments, the same on both sides. */
export interface SharedChange<T> {
  plan: (view: StateView, now: Date) => Plan<T>;
  /** Validates what the writer answered (every read is validated). */
  check: (value: unknown) => T;
}

/** Turns a request into a change: checks the arguments as the asking process did, or throws. */
export type Resolve = (op: string, args: unknown, actor: string) => SharedChange<unknown>;

/**
 * Crash tests only (tests/state/writer.test.ts): the writer kills its own process with a request it
 * serves planned but not written ('before-commit'), or written and durable but not answered ('after-commit').
 */
const FAILPOINT = process.env.DREAMOS_TEST_WRITER_FAILPOINT;

/** A line longer than this is not a message of this protocol (a task with a 200 kB prompt is far smaller). */
const MAX_LINE = 16 * 1024 * 1024;
/** The longest socket path every platform takes (macOS: 104 bytes with the terminating NUL). */
const MAX_SOCKET_PATH = 103;
/** How long a connecting process waits for the writer's greeting (ms). */
const HELLO_MS = 2000;

const Request = z.strictObject({
  t: z.literal('req'),
  id: z.string().regex(REQUEST_ID_RE),
  op: z.string().max(40),
  args: z.unknown(),
  actor: z.string().regex(AGENT_ID_RE),
  config: z.string().max(64),
});
type Request = z.infer<typeof Request>;

const Reply = z.discriminatedUnion('t', [
  z.strictObject({
    t: z.literal('hello'),
    pid: z.number().int().positive(),
    workspace: z.string().max(4096),
  }),
  z.strictObject({ t: z.literal('ok'), id: z.string(), value: z.unknown() }),
  z.strictObject({
    t: z.literal('err'),
    id: z.string(),
    // A code this version does not know (a peer of another version) makes the whole reply invalid:
    // the request is then settled through the journal, as if the writer had vanished.
    error: z.strictObject({ code: z.enum(ERROR_CODES), message: z.string(), details: z.unknown() }),
  }),
  /** Not taken (the writer is closing, or runs another configuration): make the change yourself. */
  z.strictObject({ t: z.literal('direct'), id: z.string() }),
  z.strictObject({ t: z.literal('bye') }),
]);
type Reply = z.infer<typeof Reply>;
/** What a request waiting for its answer learns: the answer, or that there will be none. */
type Outcomes = Extract<Reply, { id: string }> | { t: 'lost'; bye: boolean } | { t: 'timeout' };

type ErrorJson = { code: ErrorCode; message: string; details: unknown };

function errorJson(error: unknown): ErrorJson {
  if (error instanceof DreamError)
    return { code: error.code, message: error.message, details: error.details ?? null };
  return { code: 'E_IO', message: error instanceof Error ? error.message : String(error), details: null };
}

function errorFrom(json: ErrorJson): DreamError {
  return new DreamError(json.code, json.message, json.details ?? undefined);
}

/** Call `onLine` for each complete line the socket delivers; `onTooLong` when a line passes MAX_LINE. */
function readLines(socket: net.Socket, onLine: (line: string) => void, onTooLong: () => void): void {
  let buffer = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    let start = buffer.length;
    buffer += chunk;
    let nl = buffer.indexOf('\n', start);
    start = 0;
    while (nl !== -1) {
      const line = buffer.slice(start, nl);
      start = nl + 1;
      if (line.length > 0) onLine(line);
      nl = buffer.indexOf('\n', start);
    }
    buffer = buffer.slice(start);
    if (buffer.length > MAX_LINE) {
      buffer = '';
      onTooLong();
    }
  });
}

function parseLine<S extends z.ZodType>(schema: S, line: string): z.infer<S> | null {
  try {
    const parsed = schema.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

function send(socket: net.Socket, message: Reply | Request): void {
  if (!socket.destroyed && socket.writable) socket.write(`${JSON.stringify(message)}\n`);
}

/** This process's connection to the writer. */
class Connection {
  readonly waiting = new Map<string, (outcome: Outcomes) => void>();
  /** The writer said goodbye: whatever it has not answered, it never read. */
  bye = false;
  lost = false;

  constructor(readonly socket: net.Socket) {}

  /** Everything still waiting learns that the writer is gone. */
  drop(): void {
    if (this.lost) return;
    this.lost = true;
    this.socket.destroy();
    for (const settle of this.waiting.values()) settle({ t: 'lost', bye: this.bye });
    this.waiting.clear();
  }
}

export interface SharedWritesOptions {
  /** The writer's socket, and the lock held while electing one. */
  address: string;
  electionLock: string;
  /** The workspace's real path: a writer answers only for its own. */
  workspace: string;
  db: JournalDb;
  /** Digest of the configuration: a writer runs requests only from processes with the same one. */
  config: string;
  resolve: Resolve;
  /** How long to wait for the writer's answer before settling the request through the journal (ms). */
  timeoutMs: number;
}

export class SharedWrites {
  private server: net.Server | null = null;
  private connection: Connection | null = null;
  private connecting: Promise<void> | null = null;
  private readonly clients = new Set<net.Socket>();
  /** The batch that has not started yet: requests join it until it takes its turn. */
  private open: BatchItem[] | null = null;
  private closing = false;
  private readonly usable: boolean;
  private readonly instance = randomBytes(4).toString('hex');
  private count = 0;
  /**
   * What this process did as the writer (requests served, batches, requests refused because their
   * asker had settled them already) and as a client (asked, settled through the journal, made itself).
   */
  readonly stats = { served: 0, batches: 0, stale: 0, asked: 0, recovered: 0, direct: 0 };

  /** The requests in the journal: those this process waits for, and those recorded lately. */
  private readonly log: RequestLog;

  constructor(private readonly options: SharedWritesOptions) {
    this.log = new RequestLog((observer) => options.db.observe(observer));
    this.usable = Buffer.byteLength(options.address) <= MAX_SOCKET_PATH;
  }

  get role(): 'writer' | 'client' | 'none' {
    return this.server ? 'writer' : this.connection && !this.connection.lost ? 'client' : 'none';
  }

  /**
   * Make a change: in the writer's batch when this process is the writer, through the writer when
   * another process is, and directly (its own transaction) when neither can be had.
   */
  async run<T>(op: string, args: unknown, actor: string, local: SharedChange<T>): Promise<T> {
    const db = this.options.db;
    // An actor name the protocol does not carry (a library caller's own label) writes for itself.
    if (this.closing || !this.usable || !AGENT_ID_RE.test(actor)) return db.transact(local.plan);
    if (!this.server && (!this.connection || this.connection.lost)) {
      this.connecting ??= this.connect().finally(() => {
        this.connecting = null;
      });
      await this.connecting;
    }
    if (this.server) {
      // Batches pay off only with others to batch with: alone, a plain transaction is quicker than
      // a batch, which waits a turn of the event loop for requests to join it. Either way the event
      // loop turns first: a process making change after change (its journal lock kept) would
      // otherwise never accept a connection or read a request.
      if (this.clients.size === 0) await new Promise((resolve) => setImmediate(resolve));
      if (this.clients.size === 0) return db.transact(local.plan);
      return new Promise<T>((resolve, reject) => {
        this.join({ plan: local.plan, settle: (o) => (o.ok ? resolve(o.value as T) : reject(o.error)) });
      });
    }
    const connection = this.connection;
    if (!connection || connection.lost) {
      this.stats.direct += 1;
      return db.transact(local.plan);
    }
    return db.exclusive((transact) => this.ask(connection, { op, args, actor }, local, transact));
  }

  private join(item: BatchItem): void {
    if (this.open) {
      this.open.push(item);
      return;
    }
    const batch = [item];
    this.open = batch;
    this.options.db
      .transactBatch(() => {
        if (this.open === batch) this.open = null;
        this.stats.batches += 1;
        return batch;
      })
      .catch(() => undefined);
  }

  // ------------------------------------------------------------ as a client

  private async ask<T>(
    connection: Connection,
    request: { op: string; args: unknown; actor: string },
    local: SharedChange<T>,
    transact: Transact,
  ): Promise<T> {
    this.count += 1;
    const id = `${process.pid}-${this.instance}-${this.count}`;
    this.stats.asked += 1;
    // From before the request is sent: a read by this process meanwhile may catch up past its entry.
    this.log.awaitRequest(id);
    try {
      const reply = await this.exchange(connection, {
        t: 'req',
        id,
        ...request,
        config: this.options.config,
      });
      switch (reply.t) {
        case 'ok':
          try {
            return local.check(reply.value);
          } catch (error) {
            throw new DreamError(
              'E_CORRUPT',
              `the workspace's writer answered ${request.op} with something invalid (request ${id}): ${(error as Error).message.slice(0, 300)}`,
            );
          }
        case 'err':
          throw errorFrom(reply.error);
        case 'direct':
          // Not taken: a writer of another configuration, or one closing. It will not make it.
          connection.drop();
          this.stats.direct += 1;
          return transact(local.plan);
        case 'lost':
          if (reply.bye) {
            this.stats.direct += 1;
            return transact(local.plan);
          }
          break;
        case 'timeout':
          connection.drop();
          break;
      }
      this.stats.recovered += 1;
      return await this.settleThroughJournal(id, request.actor, local, transact).catch((error) => {
        throw this.unknownOutcome(id, error);
      });
    } finally {
      this.log.forgetRequest(id);
    }
  }

  private exchange(connection: Connection, request: Request): Promise<Outcomes> {
    return new Promise<Outcomes>((settle) => {
      const timer = setTimeout(() => {
        connection.waiting.delete(request.id);
        settle({ t: 'timeout' });
      }, this.options.timeoutMs);
      connection.socket.ref();
      connection.waiting.set(request.id, (outcome) => {
        clearTimeout(timer);
        if (connection.waiting.size === 0) connection.socket.unref();
        settle(outcome);
      });
      send(connection.socket, request);
      if (connection.lost) {
        connection.waiting.delete(request.id);
        clearTimeout(timer);
        settle({ t: 'lost', bye: connection.bye });
      }
    });
  }

  /**
   * No answer: holding the journal lock, look for the request's entry. Made: return what it
   * returned (made durable first: a writer killed before its flush leaves the entry in the page
   * cache only). Not made: make the change now, recorded under the request's id, so that a writer
   * still holding the request refuses it (it plans under the same lock, after reading the journal).
   */
  private async settleThroughJournal<T>(
    id: string,
    actor: string,
    local: SharedChange<T>,
    transact: Transact,
  ): Promise<T> {
    let failure: { error: unknown } | null = null;
    const result = await transact((view, now) => {
      const entry = this.log.requestEntry(id);
      if (entry) {
        this.log.syncJournal();
        return { change: null, result: local.check(resultOf(entry)) };
      }
      const fence: Change = { op: 'settle-request', by: actor, req: { id, task: null } };
      try {
        const planned = local.plan(view, now);
        const change = planned.change ?? fence;
        change.req = { id, task: taskIdOf(planned.result) };
        return { change, result: planned.result };
      } catch (error) {
        failure = { error };
        return { change: fence, result: null as T };
      }
    });
    if (failure) throw (failure as { error: unknown }).error;
    return result;
  }

  /** The journal lock could not be had to settle a request: say that its outcome is not known. */
  private unknownOutcome(id: string, error: unknown): unknown {
    if (!(error instanceof DreamError) || error.code !== 'E_LOCK_TIMEOUT') return error;
    return new DreamError(
      'E_LOCK_TIMEOUT',
      `the workspace's writer did not answer, and the journal lock could not be taken to settle the change (${error.message}); whether it was made is not known: look for request ${id} in \`dreamos log\``,
    );
  }

  /**
   * Connect to the writer; when nobody listens, hold the election lock, look again, and become the
   * writer. Failing all of that (the lock busy for too long, the address unusable), write directly.
   */
  private async connect(): Promise<void> {
    this.connection = await this.tryConnect();
    if (this.connection) return;
    let lock: LockHandle;
    try {
      lock = await acquireLock(this.options.electionLock, { timeoutMs: this.options.timeoutMs });
    } catch {
      return;
    }
    try {
      this.connection = await this.tryConnect();
      if (!this.connection && !this.closing) await this.tryListen();
    } finally {
      await lock.release().catch(() => undefined);
    }
  }

  /** A connection greeted by the writer of this workspace, or null (nobody there, or no greeting in time). */
  private tryConnect(): Promise<Connection | null> {
    return new Promise((resolve) => {
      const socket = net.connect(this.options.address);
      const connection = new Connection(socket);
      let greeted = false;
      const fail = () => {
        connection.drop();
        if (!greeted) resolve(null);
      };
      const timer = setTimeout(fail, HELLO_MS);
      socket.once('error', fail);
      socket.on('close', fail);
      readLines(
        socket,
        (line) => {
          const reply = parseLine(Reply, line);
          if (!reply || (reply.t === 'hello') === greeted) return fail();
          if (reply.t === 'hello') {
            clearTimeout(timer);
            if (reply.workspace !== this.options.workspace) return fail();
            greeted = true;
            // An idle connection does not keep the process alive; one with a request waiting does.
            socket.unref();
            resolve(connection);
          } else if (reply.t === 'bye') {
            connection.bye = true;
            connection.drop();
          } else {
            const settle = connection.waiting.get(reply.id);
            connection.waiting.delete(reply.id);
            settle?.(reply);
          }
        },
        fail,
      );
    });
  }

  // ------------------------------------------------------------ as the writer

  /**
   * Holding the election lock, with nobody answering at the address (a socket there is a dead
   * writer's): listen, and be the writer (`this.server`); on any trouble, stay without one.
   */
  private tryListen(): Promise<void> {
    try {
      fs.rmSync(this.options.address, { force: true });
    } catch {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const server = net.createServer((socket) => this.serve(socket));
      server.once('error', () => resolve());
      server.listen(this.options.address, () => {
        try {
          fs.chmodSync(this.options.address, 0o600);
        } catch {
          server.close();
          return resolve();
        }
        server.unref();
        server.on('error', () => undefined);
        this.server = server;
        this.log.serving(0);
        resolve();
      });
    });
  }

  private serve(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.clients.add(socket);
    this.log.serving(this.clients.size);
    socket.unref();
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.clients.delete(socket);
      this.log.serving(this.clients.size);
    });
    send(socket, { t: 'hello', pid: process.pid, workspace: this.options.workspace });
    readLines(
      socket,
      (line) => this.onRequest(socket, line),
      () => socket.destroy(),
    );
  }

  private onRequest(socket: net.Socket, line: string): void {
    const request = parseLine(Request, line);
    if (!request) {
      // Not a request of this protocol: nothing can be answered, so the connection ends.
      socket.destroy();
      return;
    }
    const { id } = request;
    if (this.closing || request.config !== this.options.config) {
      send(socket, { t: 'direct', id });
      return;
    }
    let change: SharedChange<unknown>;
    try {
      change = this.options.resolve(request.op, request.args, request.actor);
    } catch (error) {
      send(socket, { t: 'err', id, error: errorJson(error) });
      return;
    }
    this.stats.served += 1;
    this.join({
      plan: (view, now) => {
        if (FAILPOINT === 'before-commit') process.kill(process.pid, 'SIGKILL');
        // Its asker gave up waiting and settled it through the journal: it is not made twice.
        if (this.log.requestRecorded(id)) {
          this.stats.stale += 1;
          throw new DreamError('E_CONFLICT', `request ${id} was settled by the process that made it`);
        }
        const planned = change.plan(view, now);
        if (planned.change) planned.change.req = { id, task: taskIdOf(planned.result) };
        return planned;
      },
      settle: (outcome: Outcome<unknown>) => {
        if (FAILPOINT === 'after-commit') process.kill(process.pid, 'SIGKILL');
        send(
          socket,
          outcome.ok
            ? { t: 'ok', id, value: outcome.value ?? null }
            : { t: 'err', id, error: errorJson(outcome.error) },
        );
      },
    });
  }

  /**
   * Stop, once this process's own changes are made: as the writer, stop taking requests, answer
   * every one already read, then say goodbye to each client; as a client, hang up.
   */
  async close(): Promise<void> {
    // This process's own changes first (as a client, their answers are still to come).
    await this.options.db.idle();
    this.closing = true;
    await this.connecting;
    this.connection?.drop();
    const server = this.server;
    if (!server) return;
    this.server = null;
    server.close();
    await this.options.db.idle();
    await Promise.all(
      [...this.clients].map(
        (socket) =>
          new Promise<void>((resolve) => {
            const done = () => {
              clearTimeout(timer);
              socket.destroy();
              resolve();
            };
            const timer = setTimeout(done, 1000);
            if (socket.destroyed || !socket.writable) return done();
            socket.end(`${JSON.stringify({ t: 'bye' })}\n`, done);
          }),
      ),
    );
  }
}

/** The task a shared change returned (hot changes return a task, or null for nothing to claim). */
function taskIdOf(result: unknown): string | null {
  return typeof result === 'object' && result !== null && 'id' in result ? String(result.id) : null;
}

function resultOf(entry: JournalEntry): unknown {
  const id = entry.req?.task ?? null;
  return id === null ? null : (entry.tasks?.find((t) => t.task.id === id)?.task ?? null);
}
