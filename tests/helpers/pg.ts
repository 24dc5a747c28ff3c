/**
 * PostgreSQL for the tests: where the test server is, whether it answers, and a schema of one's own.
 *
 * A suite that needs the server is declared with `describePg(name, fn)`. When the server answers, it
 * runs. When it does not, a developer's run skips it and says so in one line on stderr, once per
 * run (tests/helpers/pg-run.ts prints it); a CI run fails it instead, since a CI machine without its
 * server would otherwise pass without testing the backend at all.
 *
 * Each suite works in a schema of its own (`freshSchema`, `suiteSchema`, `testSchema`), dropped
 * with everything in it when the suite or test ends, failed or not.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, inject, it, onTestFinished } from 'vitest';
import { initWorkspace, openWorkspace, type Workspace } from '../../src/workspace.js';
import type { PgBackend } from '../../state/pg/index.js';
import { type RetentionResult, retain } from '../../state/pg/retention.js';
import { Session } from '../../state/pg/session.js';
import { notAnsweringLine, type PgSuiteMode, pgSuiteMode } from './pg-mode.js';
import { tempDir } from './workspace.js';

export { notAnsweringLine, type PgSuiteMode, pgSuiteMode, redactUrl } from './pg-mode.js';

/** The test database: DREAMOS_TEST_PG, else the local server's `test` database. */
export const TEST_PG_URL = process.env.DREAMOS_TEST_PG || 'postgres://postgres@127.0.0.1:5432/test';

/** Whether a PostgreSQL server at `url` accepts a connection and answers `select 1` within `timeoutMs`. */
export async function pgAvailable(url = TEST_PG_URL, timeoutMs = 2000): Promise<boolean> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
  });
  // A server that drops the connection later must not crash the test process.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

declare module 'vitest' {
  interface ProvidedContext {
    /** From tests/helpers/pg-run.ts: CI as the run started, and where files report skipped suites. */
    dreamosPg?: { ci: string; reportDir: string };
  }
}

/** What the run's global setup provides; absent when a config runs these helpers without it. */
function provided(): { ci: string | undefined; reportDir: string | undefined } {
  let context: { ci: string; reportDir: string } | undefined;
  try {
    context = inject('dreamosPg');
  } catch {
    context = undefined;
  }
  // tests/helpers/setup.ts unsets CI in the test processes, so it is read from the run's setup.
  return { ci: context?.ci ?? process.env.CI, reportDir: context?.reportDir };
}

const run = provided();

/** This test file's mode, decided once when the file is loaded. */
export const PG_MODE: PgSuiteMode = pgSuiteMode(await pgAvailable(), { CI: run.ci });

/** Say once per run that the suites were skipped: leave a note for the run's teardown, else print. */
function reportSkipped(): void {
  if (run.reportDir && fs.existsSync(run.reportDir)) {
    fs.writeFileSync(path.join(run.reportDir, `${process.pid}-${Date.now()}`), `${TEST_PG_URL}\n`);
    return;
  }
  process.stderr.write(`${notAnsweringLine(TEST_PG_URL, 'skip')}\n`);
}

/** `describe`, for a suite that needs the PostgreSQL server at TEST_PG_URL (see the top of this file). */
export function describePg(name: string, fn: () => void): void {
  if (PG_MODE === 'run') {
    describe(name, fn);
  } else if (PG_MODE === 'skip') {
    reportSkipped();
    describe.skip(name, fn);
  } else {
    describe(name, () => {
      it('needs the PostgreSQL server', () => {
        throw new Error(notAnsweringLine(TEST_PG_URL, 'fail'));
      });
    });
  }
}

// ------------------------------------------------------------------ schemas

export interface FreshSchema {
  /** TEST_PG_URL with this schema first on the search path. */
  url: string;
  schema: string;
  /** DROP SCHEMA … CASCADE; safe to call more than once. */
  drop(): Promise<void>;
}

/** `url` with `schema` as its search path (a libpq `options` parameter, which node-postgres passes on). */
export function urlWithSchema(url: string, schema: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('options', `-c search_path=${schema}`);
  return parsed.toString();
}

/** Run one statement on its own connection. */
async function execute(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A new schema in the test database, named `prefix` + this process's id + a random part (so that
 * files running at once, and runs on one server, never share one).
 */
export async function freshSchema(prefix = 'dreamos_test', url = TEST_PG_URL): Promise<FreshSchema> {
  const random = Math.random().toString(36).slice(2, 10);
  const schema = `${prefix}_${process.pid}_${random}`.toLowerCase();
  if (!/^[a-z_][a-z0-9_]*$/.test(schema) || schema.length > 63)
    throw new Error(`freshSchema: "${schema}" is not a plain PostgreSQL identifier of at most 63 bytes`);
  await execute(url, `CREATE SCHEMA "${schema}"`);
  let dropped: Promise<void> | null = null;
  return {
    url: urlWithSchema(url, schema),
    schema,
    drop: () => {
      dropped ??= execute(url, `DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      return dropped;
    },
  };
}

/**
 * A schema for a whole `describe`: made before its first test, dropped after its last. Call it in the
 * describe's body; the returned function gives the schema inside tests and hooks.
 */
export function suiteSchema(prefix?: string): () => FreshSchema {
  let current: FreshSchema | undefined;
  beforeAll(async () => {
    current = await freshSchema(prefix);
  });
  afterAll(async () => {
    await current?.drop();
  });
  return () => {
    if (!current) throw new Error('suiteSchema: the schema is made in beforeAll; use it inside a test');
    return current;
  };
}

/** A schema for the current test only, dropped when it finishes, passed or failed. */
export async function testSchema(prefix?: string): Promise<FreshSchema> {
  const schema = await freshSchema(prefix);
  onTestFinished(() => schema.drop());
  return schema;
}

// ------------------------------------------------------------------ a relay to cut connections

export interface PgRelay {
  /** The server's address through the relay (no parameters). */
  url: string;
  /** A network cut: from now on nothing passes, on any connection, and nothing is closed. */
  freeze(): void;
  /** Every connection open now passes nothing, for good (the server forgot it); new ones pass. */
  cut(): void;
  /**
   * A network cut right after the server has been sent `marker` (a piece of SQL): that message goes
   * through, then nothing passes, on any connection, and nothing is closed.
   */
  freezeAfter(marker: string): void;
  /**
   * The connection that next sends `marker` loses the server's answer: that message goes through,
   * nothing comes back on it, and `afterMs` later it is closed both ways (the server has done the
   * work by then). Other connections, and new ones, pass.
   */
  dropAnswerTo(marker: string, afterMs: number): void;
  close(): Promise<void>;
}

/** A TCP relay on 127.0.0.1 to `target`, which a test can freeze or cut (see PgRelay). */
export async function pgRelay(target: URL): Promise<PgRelay> {
  const sockets = new Set<net.Socket>();
  const dead = new WeakSet<net.Socket>();
  /** Connections whose answers are dropped: what the client sends still goes (all of a long message). */
  const deaf = new WeakSet<net.Socket>();
  let frozen = false;
  let freezeMarker: string | null = null;
  let dropMarker: { marker: string; afterMs: number } | null = null;
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    const blocked = () => frozen || dead.has(client);
    client.on('data', (d: Buffer) => {
      if (blocked()) return;
      upstream.write(d);
      if (freezeMarker !== null && d.includes(freezeMarker)) frozen = true;
      if (dropMarker !== null && d.includes(dropMarker.marker)) {
        deaf.add(client);
        setTimeout(() => {
          client.destroy();
          upstream.destroy();
        }, dropMarker.afterMs);
        dropMarker = null;
      }
    });
    upstream.on('data', (d) => blocked() || deaf.has(client) || client.write(d));
    client.on('end', () => blocked() || upstream.end());
    upstream.on('end', () => blocked() || deaf.has(client) || client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as net.AddressInfo).port);
  url.search = '';
  return {
    url: url.toString(),
    freeze: () => {
      frozen = true;
    },
    cut: () => {
      for (const s of sockets) dead.add(s);
    },
    freezeAfter: (marker) => {
      freezeMarker = marker;
    },
    dropAnswerTo: (marker, afterMs) => {
      dropMarker = { marker, afterMs };
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * A new workspace kept in PostgreSQL, on a schema of its own (dropped with the suite), in a temporary
 * folder whose removal goes on `cleanups`. Returns its `.dreamos` folder, to open as each test needs,
 * and its schema.
 */
export async function postgresWorkspace(
  prefix: string,
  cleanups: Array<() => unknown>,
): Promise<{ home: string; schema: string }> {
  const { schema } = await testSchema(prefix);
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  const made = await initWorkspace({
    dir,
    backend: 'postgres',
    config: { state: { url: TEST_PG_URL, schema } },
  });
  await made.close();
  return { home: made.home, schema };
}

/**
 * A PostgreSQL workspace (postgresWorkspace), and `open` to open it as one more process would: with
 * connections of its own, closed at cleanup.
 */
export async function postgresOpener(
  prefix: string,
  cleanups: Array<() => unknown>,
): Promise<{ home: string; schema: string; open: () => Promise<Workspace> }> {
  const { home, schema } = await postgresWorkspace(prefix, cleanups);
  const open = async () => {
    const ws = await openWorkspace({ home, share: false });
    cleanups.push(() => ws.close());
    return ws;
  };
  return { home, schema, open };
}

/**
 * One retention run on `schema` now, keeping only the journal's last `keepEntries` entries (no age
 * bound), as a test that needs entries gone before a reader got to them.
 */
export async function trimJournal(
  schema: string,
  keepEntries: number,
  bounds: { archiveKeepDays?: number; maxBatches?: number } = {},
): Promise<RetentionResult> {
  const where = { url: TEST_PG_URL, schema };
  const session = new Session(where, 'test', false);
  try {
    return await retain(session, where, {
      keepEntries,
      keepDays: 0,
      archiveKeepDays: bounds.archiveKeepDays ?? 365,
      batch: 1000,
      pauseMs: 1,
      maxBatches: bounds.maxBatches ?? 10,
      everyMs: 0,
    });
  } finally {
    await session.close();
  }
}

/**
 * Hot changes on `ws` (a task added, claimed by `agent`, completed) until one was recorded in one
 * round trip: the workspace has read the database's clock. Throws if none was in ten tries.
 */
export async function warmHot(ws: Workspace, agent: string): Promise<void> {
  const stats = (ws.db as PgBackend).hotStats;
  for (let i = 0; i < 10 && stats.latest === 0; i++) {
    const t = await ws.addTask({ title: `warm-up ${i} for ${agent}`, run: 'true' });
    await ws.claim(agent, { taskId: t.id });
    await ws.complete(t.id, { agent });
  }
  if (stats.latest === 0) throw new Error(`no change of ${agent} was recorded in one round trip`);
}
