/**
 * Where a workspace's PostgreSQL state is, and the connections to it: the address comes from
 * `DREAMOS_STORE` or config.json's `state.url`, the schema from `state.schema`. A password never sits
 * in config.json (PGPASSWORD or ~/.pgpass hold it, as for every PostgreSQL client) and never appears
 * in a message: addresses are shown without it. Every connection bounds its statements and idle
 * transactions, so that one stuck client cannot hold back vacuum, or the board, for everyone.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type pg from 'pg';
import { DreamError } from '../errors.js';
import type { WorkspacePaths } from '../paths.js';

let loaded: typeof pg | undefined;

/**
 * node-postgres, loaded on first use: only workspaces kept in PostgreSQL need it, so it is left out
 * of the CLI's bundle and the start of every other command.
 */
function pgModule(): typeof pg {
  loaded ??= createRequire(import.meta.url)('pg') as typeof pg;
  return loaded;
}

export const DEFAULT_SCHEMA = 'dreamos';
const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/;
const STORE_RE = /^postgres(ql)?:\/\//;

/** Is this `DREAMOS_STORE` value (or a `state.url`) the address of a PostgreSQL server? */
export const isPostgresUrl = (value: string | undefined): value is string =>
  value !== undefined && STORE_RE.test(value);

export interface PgLocation {
  url: string;
  schema: string;
}

/** The address with no password in it: what messages show. */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    u.search = '';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

/**
 * The address with its password taken out (in the user part or as a `password` parameter), every
 * other part kept: what a driven program is handed, which finds the password in ~/.pgpass if it
 * needs one. A value that cannot be read is dropped whole.
 */
export function withoutPassword(url: string): string | null {
  try {
    const u = new URL(url);
    u.password = '';
    u.searchParams.delete('password');
    return u.toString();
  } catch {
    return null;
  }
}

/** A schema name, checked: it is spliced into SQL as an identifier. */
export function checkedSchema(name: string): string {
  if (!SCHEMA_RE.test(name))
    throw new DreamError(
      'E_INVALID_INPUT',
      `state.schema ${JSON.stringify(name).slice(0, 70)} is not a plain PostgreSQL name (lower-case letters, digits and _, at most 63)`,
    );
  return name;
}

/** A URL, checked: a PostgreSQL address, with no password when it comes from a file. */
export function checkedUrl(url: string, from: 'config.json' | 'DREAMOS_STORE'): string {
  if (!isPostgresUrl(url)) throw new DreamError('E_INVALID_INPUT', `${from} holds no postgres:// address`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DreamError('E_INVALID_INPUT', `${from} holds an address that cannot be read: ${shownUrl(url)}`);
  }
  if (from === 'config.json' && (parsed.password || parsed.searchParams.has('password')))
    throw new DreamError(
      'E_INVALID_INPUT',
      `config.json's state.url holds a password: keep it in PGPASSWORD or ~/.pgpass instead (${shownUrl(url)})`,
    );
  return url;
}

/**
 * The workspace's PostgreSQL location: `DREAMOS_STORE` wins over config.json's `state.url`; the
 * schema is `state.schema`, else `dreamos`. config.json is read raw here (src/config.ts validates it),
 * unless the caller has its `state` already (init, before config.json is written).
 */
export function locate(
  paths: WorkspacePaths,
  given?: { url?: unknown; schema?: unknown },
  env: NodeJS.ProcessEnv = process.env,
): PgLocation {
  let state: { url?: unknown; schema?: unknown } = given ?? {};
  if (!given) {
    try {
      const raw = JSON.parse(fs.readFileSync(paths.config, 'utf8')) as { state?: typeof state };
      state = raw?.state ?? {};
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  const fromEnv = env.DREAMOS_STORE;
  let url: string;
  if (isPostgresUrl(fromEnv)) url = checkedUrl(fromEnv, 'DREAMOS_STORE');
  else if (typeof state.url === 'string') url = checkedUrl(state.url, 'config.json');
  else
    throw new DreamError(
      'E_INVALID_INPUT',
      'this workspace keeps its state in PostgreSQL, but neither DREAMOS_STORE nor config.json (state.url) says where',
    );
  const schema = checkedSchema(typeof state.schema === 'string' ? state.schema : DEFAULT_SCHEMA);
  return { url, schema };
}

export interface ConnectOptions {
  /** Bound on one statement (ms). */
  statementTimeoutMs?: number;
  /** What the connection is for, shown in pg_stat_activity. */
  purpose: string;
  /**
   * The connection takes the schema's write lock: the server gives up on its client as soon as it
   * stops acknowledging or answering probes (WRITER_TCP), so that a host cut off in the middle of a
   * transaction holds the board's lock for seconds (see also WRITER_IDLE_MS).
   */
  writer?: boolean;
}

/** How long one statement may run, and a transaction stay idle, before the server ends it (ms). */
export const STATEMENT_TIMEOUT_MS = 30_000;
export const IDLE_IN_TRANSACTION_MS = 30_000;
/**
 * The same bound in a transaction that holds the schema's write lock: its statements follow each
 * other at once, so a longer pause means its client is gone (a host cut off mid-transaction), and
 * every writer of the board waits for the server to end it. The longest pause a live client makes
 * there is the planning of one change (an import of many tasks), well under this.
 */
export const WRITER_IDLE_MS = 10_000;
export const WRITER_IDLE_SQL = `SET LOCAL idle_in_transaction_session_timeout = '${WRITER_IDLE_MS}ms'`;
/**
 * A writer's connection as the server keeps it: data sent and not acknowledged for 10 s ends it
 * (tcp_user_timeout), and an idle one is probed after 5 s, every 2 s, 3 times (the keepalives).
 * Settings of the server's socket, as PostgreSQL lets each session set them (ignored on a Unix socket).
 */
export const WRITER_TCP = {
  tcp_user_timeout: 10_000,
  tcp_keepalives_idle: 5,
  tcp_keepalives_interval: 2,
  tcp_keepalives_count: 3,
} as const;
/**
 * How long this side waits for any answer beyond the statement's own bound before it gives the
 * connection up (ms). After a network cut the server may have forgotten a connection whose client
 * still waits for a reply: nothing would ever arrive, and nothing would tell the client so.
 */
export const ANSWER_GRACE_MS = 10_000;

/** A new client, connected, its search path set to the workspace's schema. */
export async function connect(location: PgLocation, options: ConnectOptions): Promise<pg.Client> {
  const client = new (pgModule().Client)({
    connectionString: location.url,
    application_name: `dreamos ${options.purpose}`.slice(0, 63),
    statement_timeout: options.statementTimeoutMs ?? STATEMENT_TIMEOUT_MS,
    query_timeout: (options.statementTimeoutMs ?? STATEMENT_TIMEOUT_MS) + ANSWER_GRACE_MS,
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    options: [
      `-c search_path=${location.schema}`,
      ...(options.writer ? Object.entries(WRITER_TCP).map(([name, value]) => `-c ${name}=${value}`) : []),
    ].join(' '),
  });
  // An error on an idle client (the server restarted) must not crash the process: the owner
  // notices on its next query and reconnects.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw pgError(error, location);
  }
  return client;
}

/** SQLSTATEs, and the codes of a connection that is gone. */
const LOCK_NOT_AVAILABLE = '55P03';
const QUERY_CANCELED = '57014';
const UNDEFINED_TABLE = '42P01';
const INVALID_SCHEMA = '3F000';
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
]);

/** Is this the connection itself failing (the change may or may not have been made)? */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08') || code === '57P01'))
    return true;
  const message = (error as Error | null)?.message ?? '';
  return /Connection terminated|connection is closed|Client has encountered a connection error|not queryable|Query read timeout/i.test(
    message,
  );
}

/** A PostgreSQL or connection error as the DreamError the CLI reports (never with a password). */
export function pgError(error: unknown, location: PgLocation): DreamError {
  if (error instanceof DreamError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = ((error as Error | null)?.message ?? String(error)).replaceAll(
    location.url,
    shownUrl(location.url),
  );
  const where = `${shownUrl(location.url)} (schema ${location.schema})`;
  if (code === LOCK_NOT_AVAILABLE)
    return new DreamError(
      'E_LOCK_TIMEOUT',
      `the state at ${where} stayed locked by another client: ${message}`,
    );
  if (code === QUERY_CANCELED)
    return new DreamError('E_LOCK_TIMEOUT', `PostgreSQL at ${where} did not answer in time: ${message}`);
  if (code === UNDEFINED_TABLE || code === INVALID_SCHEMA)
    return new DreamError(
      'E_CORRUPT',
      `no Dream.OS state in ${where} (${message}): run \`dreamos db migrate\`, or \`dreamos init --backend postgres\``,
    );
  if (isConnectionError(error))
    return new DreamError('E_IO', `cannot reach PostgreSQL at ${where}: ${message}`);
  return new DreamError('E_IO', `PostgreSQL at ${where} refused: ${message}`);
}
