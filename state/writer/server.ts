/**
 * The shared writer seen from the process that is it: it listens on the workspace's socket, reads
 * requests, and makes them in group-committed batches with its own changes, refusing a request
 * whose asker has settled it through the journal already (docs/decisions/shared-writer.md).
 */
import fs from 'node:fs';
import net from 'node:net';
import type { BatchItem, Outcome } from '../db.js';
import { DreamError } from '../errors.js';
import {
  type EntryRelay,
  errorJson,
  parseLine,
  Request,
  type Resolve,
  readLines,
  type SharedChange,
  send,
  sendAnswer,
  taskIdOf,
  type WriterStats,
} from './protocol.js';
import type { RequestLog } from './request-log.js';

/**
 * Crash tests only (tests/system/state/writer.test.ts): the writer kills its own process with a request it
 * serves planned but not written ('before-commit'), or written and durable but not answered ('after-commit').
 */
const FAILPOINT = process.env.DREAMOS_TEST_WRITER_FAILPOINT;

/** What serving uses of the shared writer it belongs to. */
export interface ServerContext {
  readonly address: string;
  /** The workspace's real path, named in the greeting. */
  readonly workspace: string;
  /** Digest of the configuration: requests from processes with another one are not taken. */
  readonly config: string;
  readonly resolve: Resolve;
  /** Set when the asker's entries travel with the answers (the PostgreSQL backend). */
  readonly relay: EntryRelay | undefined;
  readonly log: RequestLog;
  readonly stats: WriterStats;
  /** Run a batch in the db's turn (WriterDb.transactBatch). */
  transactBatch(take: () => BatchItem[]): Promise<void>;
  /** The shared writer is closing: requests are no longer taken. */
  closing(): boolean;
}

export class Server {
  private readonly clients = new Set<net.Socket>();
  /** The batch that has not started yet: requests join it until it takes its turn. */
  private open: BatchItem[] | null = null;

  private constructor(
    private readonly context: ServerContext,
    private readonly server: net.Server,
  ) {}

  /**
   * Holding the election lock, with nobody answering at the address (a socket there is a dead
   * writer's): listen, and be the writer; on any trouble, null (stay without one).
   */
  static listen(context: ServerContext): Promise<Server | null> {
    try {
      fs.rmSync(context.address, { force: true });
    } catch {
      return Promise.resolve(null);
    }
    return new Promise((resolve) => {
      let writer: Server | null = null;
      const server = net.createServer((socket) => (writer ? writer.serve(socket) : socket.destroy()));
      server.once('error', () => resolve(null));
      server.listen(context.address, () => {
        try {
          fs.chmodSync(context.address, 0o600);
        } catch {
          server.close();
          return resolve(null);
        }
        server.unref();
        server.on('error', () => undefined);
        writer = new Server(context, server);
        context.log.serving(0);
        resolve(writer);
      });
    });
  }

  /** How many processes are connected to this writer. */
  get clientCount(): number {
    return this.clients.size;
  }

  /** Add a change to the batch that has not started yet, or start one. */
  join(item: BatchItem): void {
    if (this.open) {
      this.open.push(item);
      return;
    }
    const batch = [item];
    this.open = batch;
    this.context
      .transactBatch(() => {
        if (this.open === batch) this.open = null;
        this.context.stats.batches += 1;
        return batch;
      })
      .catch(() => undefined);
  }

  private serve(socket: net.Socket): void {
    if (this.context.closing()) {
      socket.destroy();
      return;
    }
    this.clients.add(socket);
    this.context.log.serving(this.clients.size);
    socket.unref();
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.clients.delete(socket);
      this.context.log.serving(this.clients.size);
    });
    send(socket, { t: 'hello', pid: process.pid, workspace: this.context.workspace });
    readLines(
      socket,
      (line) => this.onRequest(socket, line),
      () => socket.destroy(),
    );
  }

  private onRequest(socket: net.Socket, line: string): void {
    const { log, stats } = this.context;
    const request = parseLine(Request, line);
    if (!request) {
      // Not a request of this protocol: nothing can be answered, so the connection ends.
      socket.destroy();
      return;
    }
    const { id } = request;
    if (this.context.closing() || request.config !== this.context.config) {
      send(socket, { t: 'direct', id });
      return;
    }
    let change: SharedChange<unknown>;
    try {
      change = this.context.resolve(request.op, request.args, request.actor);
    } catch (error) {
      send(socket, { t: 'err', id, error: errorJson(error) });
      return;
    }
    stats.served += 1;
    log.serveRequest(id, request.seen);
    // A plan may be made more than once (the PostgreSQL backend plans again on a newer state).
    let stale = false;
    this.join({
      plan: (view, now) => {
        if (FAILPOINT === 'before-commit') process.kill(process.pid, 'SIGKILL');
        // Its asker gave up waiting and settled it through the journal: it is not made twice.
        if (log.requestRecorded(id)) {
          if (!stale) stats.stale += 1;
          stale = true;
          throw new DreamError('E_CONFLICT', `request ${id} was settled by the process that made it`);
        }
        const planned = change.plan(view, now);
        if (planned.change) planned.change.req = { id, task: taskIdOf(planned.result) };
        return planned;
      },
      settle: (outcome: Outcome<unknown>) => {
        if (FAILPOINT === 'after-commit') process.kill(process.pid, 'SIGKILL');
        log.servedRequest(id);
        if (!outcome.ok) return send(socket, { t: 'err', id, error: errorJson(outcome.error) });
        // With the answer, the entries the asker has not read, up to its change's (when at hand).
        const entries =
          request.seen === undefined
            ? null
            : this.context.relay?.entriesAfter(request.seen, request.seenCrc ?? null);
        if (entries) sendAnswer(socket, id, outcome.value ?? null, entries);
        else send(socket, { t: 'ok', id, value: outcome.value ?? null });
      },
    });
  }

  /** Stop listening (the batches already asked for go on). */
  stopListening(): void {
    this.server.close();
  }

  /** Say goodbye to each client: whatever it has not been answered, this writer never read. */
  async sayGoodbye(): Promise<void> {
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
