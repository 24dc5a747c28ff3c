/**
 * Bringing a schema to this code's version, and checking it at start: `dreamos db migrate` and
 * `init` apply the missing migrations (state/pg/migrations.ts) under the schema's write lock; opening
 * refuses a schema older or newer than this code, with what to do about it.
 */
import { DreamError } from '../errors.js';
import { connect, type PgLocation, pgError, shownUrl, WRITER_IDLE_SQL } from './connection.js';
import { MIGRATIONS, SCHEMA_VERSION, VERSION_TABLE_SQL } from './migrations.js';

/** The first key of every advisory lock Dream.OS takes; the second is the schema's hash. */
export const LOCK_CLASS = 0x44524d53;

/**
 * SQL taking the schema's write lock for the rest of the transaction: every change holds it. The
 * transaction is ended by the server once it waits WRITER_IDLE_MS for its client, which is gone then.
 */
export const writeLockSql = (schema: string) =>
  `${WRITER_IDLE_SQL}; SELECT pg_advisory_xact_lock(${LOCK_CLASS}, hashtext('${schema}'))`;

export interface MigrateResult {
  from: number;
  to: number;
  applied: { version: number; name: string }[];
}

const where = (location: PgLocation) => `${shownUrl(location.url)} (schema ${location.schema})`;

function newer(version: number, location: PgLocation): DreamError {
  return new DreamError(
    'E_CORRUPT',
    `the state at ${where(location)} has schema version ${version}, newer than this Dream.OS knows (${SCHEMA_VERSION}): upgrade Dream.OS on this host`,
  );
}

/** Apply every migration the schema lacks, each with its number, in one transaction. */
export async function migrate(location: PgLocation): Promise<MigrateResult> {
  const client = await connect(location, { purpose: 'migrate' });
  try {
    await client.query('BEGIN');
    await client.query(writeLockSql(location.schema));
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${location.schema}"`);
    await client.query(VERSION_TABLE_SQL);
    const from = Number(
      (await client.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_version')).rows[0]?.v ??
        0,
    );
    if (from > SCHEMA_VERSION) throw newer(from, location);
    const applied: MigrateResult['applied'] = [];
    for (const migration of MIGRATIONS) {
      if (migration.version <= from) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_version (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
      applied.push({ version: migration.version, name: migration.name });
    }
    await client.query('COMMIT');
    return { from, to: SCHEMA_VERSION, applied };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw pgError(error, location);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The schema's version, or 0 when it holds no Dream.OS state at all. */
export async function schemaVersion(query: (sql: string) => Promise<{ rows: { v: number | null }[] }>) {
  const exists = await query(`SELECT to_regclass('schema_version') IS NOT NULL AS v`);
  if (!exists.rows[0]?.v) return 0;
  return Number((await query('SELECT max(version) AS v FROM schema_version')).rows[0]?.v ?? 0);
}

/** Opening checks the version: a schema this code does not read exactly is refused. */
export function checkVersion(version: number, location: PgLocation): void {
  if (version === SCHEMA_VERSION) return;
  if (version === 0)
    throw new DreamError(
      'E_CORRUPT',
      `no Dream.OS state at ${where(location)}: run \`dreamos init --backend postgres\` for a new workspace, or \`dreamos db migrate\``,
    );
  if (version > SCHEMA_VERSION) throw newer(version, location);
  throw new DreamError(
    'E_CORRUPT',
    `the state at ${where(location)} has schema version ${version}, older than this Dream.OS (${SCHEMA_VERSION}): run \`dreamos db migrate\``,
  );
}
