/**
 * The shared writer: one process per workspace makes the hot lifecycle changes (claim, renew,
 * complete, fail) for every long-lived process that opened the workspace, in group-committed
 * batches. Correctness never depends on it: the writer takes the journal lock like any writer, and
 * a request with no answer is settled through the journal. Why, how a writer is elected, and how
 * crashes are made safe: docs/decisions/shared-writer.md.
 */
import fs from 'node:fs';
import type { BackendOptions, PlanFn, WriterStatus } from '../backend.js';
import type { BatchItem, EntryObserver, ObservedDb, Transact } from '../change.js';
import { acquireLock, type LockHandle } from '../lock/index.js';
import type { WorkspacePaths } from '../paths.js';
import { AGENT_ID_RE } from '../schemas.js';
import { Client, type Connection, tryConnect } from './client.js';
import type { EntryRelay, Resolve, SharedChange, WriterStats } from './protocol.js';
import { RequestLog } from './request-log.js';
import { Server } from './server.js';

export type { EntryRelay, Resolve, SharedChange, WriterStats } from './protocol.js';

/** The longest socket path every platform takes (macOS: 104 bytes with the terminating NUL). */
const MAX_SOCKET_PATH = 103;

/**
 * What the writer needs of the state it writes for (JournalDb for the JSON store, PgBackend): its
 * transactions, one at a time in this process's turn, and every entry it reads or writes.
 */
export interface WriterDb {
  transact<T>(plan: PlanFn<T>): Promise<T>;
  /** A batch, group-committed: each item settled once the batch is durable. */
  transactBatch(take: () => BatchItem[]): Promise<void>;
  /** Run `work` in this process's turn; `transact` makes a transaction inside it, on the latest state. */
  exclusive<T>(work: (transact: Transact) => Promise<T>): Promise<T>;
  observe(observer: EntryObserver): ObservedDb;
  /** Resolves once every transaction asked for so far has ended. */
  idle(): Promise<void>;
  /** Set when the state is kept by reading a server: entries travel with the answers (EntryRelay). */
  readonly relay?: EntryRelay;
}

export interface SharedWriterOptions {
  /** The writer's socket, and the lock held while electing one. */
  address: string;
  electionLock: string;
  /** The workspace's real path: a writer answers only for its own. */
  workspace: string;
  db: WriterDb;
  /** Digest of the configuration: a writer runs requests only from processes with the same one. */
  config: string;
  resolve: Resolve;
  /** How long to wait for the writer's answer before settling the request through the journal (ms). */
  timeoutMs: number;
}

/**
 * The shared writer of the workspace at `paths` for this process's state `db`, or null when the
 * process writes only for itself: it was asked not to share, it only reads, or it runs on Windows.
 */
export function sharedWriterFor(
  paths: WorkspacePaths,
  db: WriterDb,
  options: BackendOptions,
  timeoutMs: number,
): SharedWriter | null {
  const share = options.readOnly || process.platform === 'win32' ? null : options.share;
  if (!share) return null;
  return new SharedWriter({
    address: paths.writerSocket,
    electionLock: paths.writerLock,
    workspace: fs.realpathSync(paths.home),
    db,
    config: share.config,
    resolve: share.resolve,
    timeoutMs,
  });
}

export class SharedWriter {
  private server: Server | null = null;
  private connection: Connection | null = null;
  private connecting: Promise<void> | null = null;
  private closing = false;
  private readonly usable: boolean;
  /** The requests in the journal: those this process waits for, and those recorded lately. */
  private readonly log: RequestLog;
  private readonly client: Client;
  /** What this process did as the writer and as a client (see WriterStats). */
  readonly stats: WriterStats = { served: 0, batches: 0, stale: 0, asked: 0, recovered: 0, direct: 0 };

  constructor(private readonly options: SharedWriterOptions) {
    this.usable = Buffer.byteLength(options.address) <= MAX_SOCKET_PATH;
    this.log = new RequestLog((observer) => options.db.observe(observer));
    this.client = new Client({
      log: this.log,
      relay: options.db.relay,
      config: options.config,
      timeoutMs: options.timeoutMs,
      stats: this.stats,
    });
  }

  /** This process's part in shared writes (StateBackend.writer). */
  get status(): WriterStatus {
    return { role: this.role, stats: this.stats };
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
    const server = this.server;
    if (server) {
      // Batches pay off only with others to batch with: alone, a plain transaction is quicker than
      // a batch, which waits a turn of the event loop for requests to join it. Either way the event
      // loop turns first: a process making change after change (its journal lock kept) would
      // otherwise never accept a connection or read a request.
      if (server.clientCount === 0) await new Promise((resolve) => setImmediate(resolve));
      if (server.clientCount === 0) return db.transact(local.plan);
      return new Promise<T>((resolve, reject) => {
        server.join({ plan: local.plan, settle: (o) => (o.ok ? resolve(o.value as T) : reject(o.error)) });
      });
    }
    const connection = this.connection;
    if (!connection || connection.lost) {
      this.stats.direct += 1;
      return db.transact(local.plan);
    }
    return db.exclusive((transact) => this.client.ask(connection, { op, args, actor }, local, transact));
  }

  /**
   * Connect to the writer; when nobody listens, hold the election lock, look again, and become the
   * writer. Failing all of that (the lock busy for too long, the address unusable), write directly.
   */
  private async connect(): Promise<void> {
    const { address, workspace } = this.options;
    this.connection = await tryConnect(address, workspace);
    if (this.connection) return;
    let lock: LockHandle;
    try {
      lock = await acquireLock(this.options.electionLock, { timeoutMs: this.options.timeoutMs });
    } catch {
      return;
    }
    try {
      this.connection = await tryConnect(address, workspace);
      if (!this.connection && !this.closing) this.server = await Server.listen(this.serverContext());
    } finally {
      await lock.release().catch(() => undefined);
    }
  }

  private serverContext() {
    const { address, workspace, config, resolve, db } = this.options;
    return {
      address,
      workspace,
      config,
      resolve,
      relay: db.relay,
      log: this.log,
      stats: this.stats,
      transactBatch: (take: () => BatchItem[]) => db.transactBatch(take),
      closing: () => this.closing,
    };
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
    server.stopListening();
    await this.options.db.idle();
    await server.sayGoodbye();
  }
}
