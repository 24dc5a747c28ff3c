/**
 * The one place a backend is chosen: every kind of state backend registers here by name, and the
 * workspace opens its state only through these functions (docs/decisions/state-backend.md).
 */
import type { BackendFactory, BackendOptions, StateBackend } from './backend.js';
import type { Change } from './db.js';
import { invalidInput } from './errors.js';
import { jsonBackend } from './json-backend.js';
import type { WorkspacePaths } from './paths.js';

/** The registered backends; the first is the default. */
const BACKENDS: Readonly<Record<string, BackendFactory>> = {
  json: jsonBackend,
};

export const DEFAULT_BACKEND = 'json';

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

export function openBackend(
  paths: WorkspacePaths,
  options: BackendOptions & { backend?: string } = {},
): Promise<StateBackend> {
  const { backend, ...rest } = options;
  return backendFactory(backend).open(paths, rest);
}

export function createBackend(paths: WorkspacePaths, first: Change, backend?: string): Promise<StateBackend> {
  return backendFactory(backend).create(paths, first);
}
