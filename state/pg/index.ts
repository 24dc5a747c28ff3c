/**
 * The PostgreSQL backend as registered in state/backends.ts (docs/decisions/postgres-backend.md).
 * Its state is in one schema of one database, named by config.json (`state.url`, `state.schema`) or
 * `DREAMOS_STORE`; the workspace folder keeps only what is the host's own (config.json, logs).
 */
import type { BackendFactory, BackendOptions, Change, HealthReport } from '../backend.js';
import type { WorkspacePaths } from '../paths.js';
import { privateDir } from '../safe-files.js';
import { invalidRows } from './check.js';
import { locate, type PgLocation } from './connection.js';
import { Doorbell } from './doorbell.js';
import { PgHistory } from './history.js';
import { checkVersion, type MigrateResult, migrate, schemaVersion } from './schema.js';
import { Session } from './session.js';
import { PgBackend } from './store.js';
import { exportJson, importJson, type TransferResult } from './transfer.js';

export { locate, type PgLocation, shownUrl } from './connection.js';
export { type MigrateResult, migrate } from './schema.js';
export { PgBackend } from './store.js';
export type { TransferResult } from './transfer.js';

export const postgresBackend: BackendFactory = {
  open: (paths: WorkspacePaths, options: BackendOptions) => PgBackend.open(locate(paths), options, paths),

  /**
   * A new workspace's state: the schema made or brought up to date, then the first change. A schema
   * that holds a board already is joined, not replaced: that is how a second host joins a fleet.
   */
  async create(paths: WorkspacePaths, first: Change) {
    const location = locate(
      paths,
      (first.config as { state?: { url?: unknown; schema?: unknown } }).state ?? {},
    );
    await migrate(location);
    // The host's own: the shared writer's socket and election lock (state/writer/).
    privateDir(paths.locksDir);
    const backend = await PgBackend.open(location);
    try {
      // Joining a board that has a history already: the join is recorded, but the configuration
      // the board last recorded (a fleet's first host's, or its last change through Dream.OS) stays.
      await backend.transact((view) => ({
        change: view.seq > 0 ? { op: 'join', by: first.by } : first,
        result: undefined,
      }));
    } catch (error) {
      await backend.close();
      throw error;
    }
    return backend;
  },

  /**
   * No lock files to find: what doctor checks before opening is the schema's version and config, and
   * rows that are not valid objects (the state does not open with one), which a repair rebuilds.
   */
  async inspect(
    paths: WorkspacePaths,
    options: { repair: boolean },
  ): Promise<HealthReport & { config: unknown }> {
    const location = locate(paths);
    const session = new Session(location, 'doctor', false);
    try {
      checkVersion(await schemaVersion((sql) => session.query(sql)), location);
      const invalid = await invalidRows(session, location, options.repair);
      const { rows } = await session.query<{ config: unknown }>('SELECT config FROM settings WHERE id = 1');
      return { ...invalid, config: rows[0]?.config ?? undefined };
    } finally {
      await session.close();
    }
  },

  /** The state is elsewhere: a config.json naming this backend is all a workspace folder holds. */
  looksLikeWorkspace: () => true,

  history(paths: WorkspacePaths) {
    const location = locate(paths);
    return new PgHistory(new Session(location, 'history', false), new Doorbell(location));
  },
};

/** `dreamos db migrate` for the workspace at `paths`. */
export function migrateWorkspace(paths: WorkspacePaths): Promise<MigrateResult & { location: PgLocation }> {
  const location = locate(paths);
  return migrate(location).then((result) => ({ ...result, location }));
}

/**
 * `dreamos db import`: the JSON workspace at `source` into this workspace's schema (migrated first).
 * `state` is config.json's, for a workspace whose config.json is written only once the import is made.
 */
export function importWorkspace(
  paths: WorkspacePaths,
  source: WorkspacePaths,
  state?: { url?: unknown; schema?: unknown },
): Promise<TransferResult> {
  return importJson(source, locate(paths, state));
}

/** `dreamos db export`: this workspace's state as a new JSON store at `target`. */
export function exportWorkspace(paths: WorkspacePaths, target: WorkspacePaths): Promise<TransferResult> {
  return exportJson(locate(paths), target);
}
