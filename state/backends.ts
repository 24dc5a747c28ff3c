/**
 * The one place a backend is chosen: every kind of state backend registers here by name, and the
 * workspace finds the one its config.json names through `backendFactory` (docs/decisions/state-backend.md).
 */
import type { BackendFactory } from './backend.js';
import { invalidInput } from './errors.js';
import { jsonBackend } from './json-backend.js';
import { isPostgresUrl } from './pg/connection.js';
import { postgresBackend } from './pg/index.js';

/** The registered backends; the first is the default. */
const BACKENDS: Readonly<Record<string, BackendFactory>> = {
  json: jsonBackend,
  postgres: postgresBackend,
};

export const DEFAULT_BACKEND = 'json';

/**
 * The backend `DREAMOS_STORE` names, when it holds an address (`postgres://…`): what `init` makes
 * when no backend is asked for. An existing workspace keeps the backend its config.json names, and
 * takes from `DREAMOS_STORE` only where its PostgreSQL server is.
 */
export function backendFromEnv(env: NodeJS.ProcessEnv = process.env): string | null {
  return isPostgresUrl(env.DREAMOS_STORE) ? 'postgres' : null;
}

export function backendNames(): string[] {
  return Object.keys(BACKENDS);
}

/** The backend registered as `name` (default: the journaled JSON store). */
export function backendFactory(name: string = DEFAULT_BACKEND): BackendFactory {
  if (!Object.hasOwn(BACKENDS, name))
    throw invalidInput(
      `no state backend ${JSON.stringify(name).slice(0, 60)} (known: ${backendNames().join(', ')})`,
    );
  return BACKENDS[name]!;
}
