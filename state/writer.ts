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
 * it safely, and two writers (say, in two network namespaces) are just two users of the lock.
 *
 * Election: the writer listens on a Unix socket in the workspace (locks/writer.sock), so the file
 * system's permissions decide who may connect, as they decide who may write the journal. The first
 * long-lived process to make a hot change finds nobody listening; holding the election lock, it
 * looks again, removes a socket left by a dead writer, and listens. The others connect. When the
 * writer goes, the next request finds nobody there, and its process is elected the same way. (A
 * workspace path too long for a socket address, about 100 bytes, means no shared writer: every
 * process writes for itself.)
 *
 * Crash safety: each request carries an id, recorded in the entry its change makes (`req`). A client
 * whose writer vanished without saying goodbye waits until that process is gone (then it can no
 * longer append), and, holding the journal lock, looks for its id in the journal. Found: the change
 * was made, and the entry says what it returned. Not found: it was not made, and the client makes it
 * itself. A writer closing normally answers every request it has read, then says goodbye: a request
 * a client sent and got no answer for was never read, and the client makes it itself.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import * as z from 'zod';
import { DreamError, errnoCode } from '../src/errors.js';
import type { BatchItem, JournalDb, Outcome, Plan, StateView, Transact } from './db.js';
import { acquireLock, type LockHandle } from './lock.js';
import { type JournalEntry, REQUEST_ID_RE } from './schemas.js';

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
const POLL_MS = 10;

const Request = z.strictObject({
  t: z.literal('req'),
  id: z.string().regex(REQUEST_ID_RE),
  op: z.string().max(40),
  args: z.unknown(),
  actor: z.string().max(64),
  config: z.string().max(64),
});
type Request = z.infer<typeof Request>;

const Reply = z.discriminatedUnion('t', [
  z.strictObject({ t: z.literal('hello'), pid: z.number().int().positive() }),
  z.strictObject({ t: z.literal('ok'), id: z.string(), value: z.unknown() }),
  z.strictObject({
    t: z.literal('err'),
    id: z.string(),
    error: z.strictObject({ code: z.string().max(40), message: z.string(), details: z.unknown() }),
  }),
  /** Not taken (the writer is closing, or runs another configuration): make the change yourself. */
  z.strictObject({ t: z.literal('direct'), id: z.string() }),
  z.strictObject({ t: z.literal('bye') }),
]);
type Reply = z.infer<typeof Reply>;

function errorJson(error: unknown): { code: string; message: string; details: unknown } {
  if (error instanceof DreamError)
    return { code: error.code, message: error.message, details: error.details ?? null };
  return { code: 'E_IO', message: error instanceof Error ? error.message : String(error), details: null };
}

function errorFrom(json: { code: string; message: string; details: unknown }): DreamError {
  return new DreamError(
    json.code as DreamError['code'],
    json.message,
    (json.details ?? undefined) as DreamError['details'],
  );
}

/** Call `onLine` for each complete line the socket delivers; false when a line is too long. */
function readLines(socket: net.Socket, onLine: (line: string) => void, onTooLong: () => void): void {
  let buffer = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let nl = buffer.indexOf('\n');
    while (nl !== -1) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.length > 0) onLine(line);
      nl = buffer.indexOf('\n');
    }
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

interface Waiter {
  settle: (reply: Reply | { t: 'lost'; bye: boolean }) => void;
}

/** This process's connection to the writer. */
class Connection {
  readonly waiting = new Map<string, Waiter>();
  pid = 0;
  /** The writer said goodbye: whatever it has not answered, it never read. */
  bye = false;
  lost = false;

  constructor(readonly socket: net.Socket) {}

  /** Everything still waiting learns that the writer is gone. */
  drop(): void {
    if (this.lost) return;
    this.lost = true;
    this.socket.destroy();
    for (const waiter of this.waiting.values()) waiter.settle({ t: 'lost', bye: this.bye });
    this.waiting.clear();
  }
}

export interface SharedWritesOptions {
  /** The writer's socket, and the lock held while electing one. */
  address: string;
  electionLock: string;
  db: JournalDb;
  /** Digest of the configuration: a writer runs requests only from processes with the same one. */
  config: string;
  resolve: Resolve;
  /** How long to wait for the writer's answer, or for a vanished writer's process to end (ms). */
  timeoutMs: number;
}

export class SharedWrites {
  private server: net.Server | null = null;
  private connection: Connection | null = null;
  private readonly clients = new Set<net.Socket>();
  /** The batch that has not started yet: requests join it until it takes its turn. */
  private open: BatchItem[] | null = null;
  private closing = false;
  private readonly instance = randomBytes(4).toString('hex');
  private count = 0;
  /** Requests made for other processes, and batches run (for tests and the bench). */
  readonly stats = { served: 0, batches: 0, asked: 0, recovered: 0, direct: 0 };

  constructor(private readonly options: SharedWritesOptions) {}

  get role(): 'writer' | 'client' | 'none' {
    return this.server ? 'writer' : this.connection && !this.connection.lost ? 'client' : 'none';
  }

  /**
   * Make a change: in the writer's batch when this process is the writer, through the writer when
   * another process is, and directly (its own transaction) when neither can be had.
   */
  async run<T>(op: string, args: unknown, actor: string, local: SharedChange<T>): Promise<T> {
    if (this.closing) return this.options.db.transact(local.plan);
    if (!this.server && (!this.connection || this.connection.lost)) await this.connect();
    if (this.server) return this.joinBatch(local.plan) as Promise<T>;
    const connection = this.connection;
    if (!connection || connection.lost) {
      this.stats.direct += 1;
      return this.options.db.transact(local.plan);
    }
    return this.options.db.exclusive((transact) => this.ask(connection, op, args, actor, local, transact));
  }

  private joinBatch(plan: BatchItem['plan']): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.join({ plan, settle: (o) => (o.ok ? resolve(o.value) : reject(o.error)) });
    });
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
    op: string,
    args: unknown,
    actor: string,
    local: SharedChange<T>,
    transact: Transact,
  ): Promise<T> {
    this.count += 1;
    const id = `${process.pid}-${this.instance}-${this.count}`;
    this.stats.asked += 1;
    // From before the request is sent: a read by this process meanwhile may catch up past its entry.
    this.options.db.awaitRequest(id);
    try {
      return await this.answer(connection, id, op, args, actor, local, transact);
    } finally {
      this.options.db.forgetRequest(id);
    }
  }

  private async answer<T>(
    connection: Connection,
    id: string,
    op: string,
    args: unknown,
    actor: string,
    local: SharedChange<T>,
    transact: Transact,
  ): Promise<T> {
    const reply = await new Promise<Reply | { t: 'lost'; bye: boolean } | { t: 'timeout' }>((settle) => {
      const timer = setTimeout(() => {
        connection.waiting.delete(id);
        settle({ t: 'timeout' });
      }, this.options.timeoutMs);
      connection.socket.ref();
      connection.waiting.set(id, {
        settle: (r) => {
          clearTimeout(timer);
          if (connection.waiting.size <= 1) connection.socket.unref();
          settle(r);
        },
      });
      send(connection.socket, { t: 'req', id, op, args, actor, config: this.options.config });
      if (connection.lost) connection.waiting.get(id)?.settle({ t: 'lost', bye: connection.bye });
    });
    switch (reply.t) {
      case 'ok':
        try {
          return local.check(reply.value);
        } catch (error) {
          throw new DreamError(
            'E_CORRUPT',
            `the workspace's writer answered ${op} with something invalid (request ${id}): ${(error as Error).message.slice(0, 300)}`,
          );
        }
      case 'err':
        throw errorFrom(reply.error);
      case 'direct':
        this.stats.direct += 1;
        return transact(local.plan);
      case 'timeout':
        connection.drop();
        throw new DreamError(
          'E_LOCK_TIMEOUT',
          `the workspace's writer (process ${connection.pid}) did not answer within ${Math.round(this.options.timeoutMs / 1000)} s; whether ${op} was made is not known (request ${id}: see \`dreamos log\`)`,
        );
      case 'lost': {
        if (reply.bye) {
          this.stats.direct += 1;
          return transact(local.plan);
        }
        await this.waitGone(connection.pid, op, id);
        this.stats.recovered += 1;
        return this.recover(id, local, transact);
      }
      default:
        throw new DreamError('E_IO', `unexpected answer from the workspace's writer: ${reply.t}`);
    }
  }

  /**
   * The writer vanished with this request unanswered, and its process is gone: holding the journal
   * lock, look for the request's entry. Made: return what it returned. Not made: make it now.
   */
  private recover<T>(id: string, local: SharedChange<T>, transact: Transact): Promise<T> {
    return transact((view, now) => {
      const entry = this.options.db.requestEntry(id);
      if (entry) return { change: null, result: local.check(resultOf(entry)) };
      return local.plan(view, now);
    });
  }

  private async waitGone(pid: number, op: string, id: string): Promise<void> {
    const deadline = Date.now() + this.options.timeoutMs;
    while (isAlive(pid)) {
      if (Date.now() > deadline) {
        throw new DreamError(
          'E_LOCK_TIMEOUT',
          `the workspace's writer (process ${pid}) dropped the connection but has not exited; whether ${op} was made is not known (request ${id})`,
        );
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
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
      if (!this.connection) await this.tryListen();
    } finally {
      await lock.release().catch(() => undefined);
    }
  }

  private tryConnect(): Promise<Connection | null> {
    return new Promise((resolve) => {
      const socket = net.connect(this.options.address);
      const connection = new Connection(socket);
      let hello = false;
      socket.once('error', () => {
        connection.drop();
        if (!hello) resolve(null);
      });
      socket.on('close', () => {
        connection.drop();
        if (!hello) resolve(null);
      });
      readLines(
        socket,
        (line) => {
          const reply = parseLine(Reply, line);
          if (!reply) {
            connection.drop();
            return;
          }
          if (reply.t === 'hello') {
            connection.pid = reply.pid;
            hello = true;
            // An idle connection does not keep the process alive; one with a request waiting does.
            socket.unref();
            resolve(connection);
          } else if (reply.t === 'bye') {
            connection.bye = true;
            connection.drop();
          } else {
            const waiter = connection.waiting.get(reply.id);
            connection.waiting.delete(reply.id);
            waiter?.settle(reply);
          }
        },
        () => connection.drop(),
      );
    });
  }

  // ------------------------------------------------------------ as the writer

  /** Holding the election lock, with nobody answering at the address: a socket there is a dead writer's. */
  private tryListen(): Promise<boolean> {
    try {
      fs.rmSync(this.options.address, { force: true });
    } catch {
      return Promise.resolve(false);
    }
    return new Promise((resolve) => {
      const server = net.createServer((socket) => this.serve(socket));
      server.once('error', () => resolve(false));
      server.listen(this.options.address, () => {
        server.unref();
        server.on('error', () => undefined);
        this.server = server;
        this.options.db.serving(0);
        resolve(true);
      });
    });
  }

  private serve(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.clients.add(socket);
    this.options.db.serving(this.clients.size);
    socket.unref();
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.clients.delete(socket);
      this.options.db.serving(this.clients.size);
    });
    send(socket, { t: 'hello', pid: process.pid });
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
   * Stop: as the writer, stop taking requests, answer every one already read (the caller waits for
   * this process's transactions first), then say goodbye to each client; as a client, hang up.
   */
  async close(): Promise<void> {
    this.closing = true;
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
            if (socket.destroyed || !socket.writable) return resolve();
            const timer = setTimeout(resolve, 1000);
            socket.end(`${JSON.stringify({ t: 'bye' })}\n`, () => {
              clearTimeout(timer);
              resolve();
            });
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

/** Is the process still there? A zombie (dead, not yet reaped by its parent) can no longer write. */
function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return errnoCode(error) === 'EPERM';
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch (error) {
    return errnoCode(error) !== 'ENOENT';
  }
}
