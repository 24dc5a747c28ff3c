/**
 * One connection to the workspace's PostgreSQL schema, made when first needed and made again after
 * it is lost. A session that does not keep its process alive (a reader's) holds the process open
 * only while a query is in flight, so that a command ends when its work does.
 *
 * Its users take turns: a connection runs one statement and one transaction at a time, so a user's
 * `work` (several statements, a transaction perhaps) has the connection to itself until it ends.
 * Without turns, a statement of one user (a role's renewal, a pull of the journal) would run inside
 * another's transaction, and be rolled back or held with it. A user must not call `use` on the same
 * session from inside its own `work`: it would wait for itself.
 */
import type { Socket } from 'node:net';
import type pg from 'pg';
import { connect, isConnectionError, type PgLocation, pgError } from './connection.js';

/** The socket under a client: pg keeps it on its connection, which its types do not show. */
const socketOf = (client: pg.Client): Socket | undefined =>
  (client as unknown as { connection?: { stream?: Socket } }).connection?.stream;

export class Session {
  private client: pg.Client | null = null;
  private connecting: Promise<pg.Client> | null = null;
  private busy = 0;
  private closed = false;
  /** Settles when the last user to ask has had its turn. */
  private turns: Promise<void> = Promise.resolve();

  constructor(
    readonly location: PgLocation,
    private readonly purpose: string,
    /** Whether the open connection keeps the process alive while idle. */
    private readonly keepsAlive = true,
    /** Whether it takes the write lock (ConnectOptions.writer). */
    private readonly writer = false,
  ) {}

  private async get(): Promise<pg.Client> {
    if (this.closed)
      throw pgError(new Error('Connection terminated: the workspace is closed'), this.location);
    if (this.client) return this.client;
    if (!this.connecting) {
      this.connecting = connect(this.location, { purpose: this.purpose, writer: this.writer }).then(
        (client) => {
          this.connecting = null;
          if (this.closed) {
            void client.end().catch(() => undefined);
            throw pgError(new Error('Connection terminated: the workspace is closed'), this.location);
          }
          client.on('end', () => {
            if (this.client === client) this.client = null;
          });
          this.client = client;
          if (!this.keepsAlive) socketOf(client)?.unref();
          return client;
        },
        (error: unknown) => {
          this.connecting = null;
          throw error;
        },
      );
    }
    return this.connecting;
  }

  /**
   * `work` with the connection, once the users before it have ended. A connection that failed under
   * it is dropped (the next use makes a new one); errors come out as DreamErrors, unless `raw` (the
   * caller decides what they mean).
   */
  async use<T>(work: (client: pg.Client) => Promise<T>, raw = false): Promise<T> {
    const before = this.turns;
    let done!: () => void;
    this.turns = new Promise<void>((resolve) => {
      done = resolve;
    });
    try {
      await before;
      return await this.turn(work, raw);
    } finally {
      done();
    }
  }

  private async turn<T>(work: (client: pg.Client) => Promise<T>, raw: boolean): Promise<T> {
    const client = await this.get();
    this.busy += 1;
    if (!this.keepsAlive) socketOf(client)?.ref();
    try {
      return await work(client);
    } catch (error) {
      if (isConnectionError(error)) this.drop(client);
      throw raw ? error : pgError(error, this.location);
    } finally {
      this.busy -= 1;
      if (!this.keepsAlive && this.busy === 0) socketOf(client)?.unref();
    }
  }

  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>> {
    return this.use((client) => client.query<R>(text, values));
  }

  /** Forget a connection that failed; it is ended in the background. */
  drop(client: pg.Client | null = this.client): void {
    if (!client) return;
    if (this.client === client) this.client = null;
    void client.end().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client ?? (await this.connecting?.catch(() => null)) ?? null;
    this.client = null;
    if (!client) return;
    // Held open until it has ended: an unreferenced socket would let the process exit mid-close.
    socketOf(client)?.ref();
    await client.end().catch(() => undefined);
  }
}
