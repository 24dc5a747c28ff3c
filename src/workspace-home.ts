/**
 * A workspace's folder and its config.json: finding one (like git, upwards from the current folder),
 * creating the folder of a new one, and reading and writing its configuration.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Low } from 'lowdb';
import * as z from 'zod';
import type { BackendFactory } from '../state/backend.js';
import { backendFactory, backendNames, DEFAULT_BACKEND } from '../state/backends.js';
import { WORKSPACE_DIR, type WorkspacePaths, workspacePaths } from '../state/paths.js';
import { cannotCreate } from '../state/safe-files.js';
import { CorruptFileError, ValidatedJsonFile } from '../state/store.js';
import { type AgentConfig, Config, OPERATOR } from './config.js';
import { DreamError, invalidInput, notFound } from './errors.js';
import { checkTrusted } from './trust.js';

/**
 * `home` may name the project folder or its `.dreamos`; returns the `.dreamos` path. A folder is a
 * workspace itself only when it has the workspace's own files: a project's config.json is not one.
 */
function normaliseHome(home: string): string {
  const abs = resolve(home);
  if (abs.endsWith(`/${WORKSPACE_DIR}`) || isWorkspace(abs)) return abs;
  const inside = join(abs, WORKSPACE_DIR);
  if (!fs.existsSync(join(inside, 'config.json')) && fs.existsSync(join(abs, 'config.json'))) {
    throw new DreamError(
      'E_NO_WORKSPACE',
      `${abs} is not a Dream.OS workspace (its config.json is not one, and it has no ${WORKSPACE_DIR}/); pass the folder that holds ${WORKSPACE_DIR}/, or run \`dreamos init\` there`,
    );
  }
  return inside;
}

/**
 * A workspace folder has its config.json and the state of the backend that names: a project's own
 * config.json names none (so json's), and has no journal/ beside it.
 */
function isWorkspace(dir: string): boolean {
  const paths = workspacePaths(dir);
  if (!fs.existsSync(paths.config)) return false;
  const name = backendNameOf(paths);
  return backendNames().includes(name) && backendFactory(name).looksLikeWorkspace(paths);
}

/**
 * The workspace named by --home or DREAMOS_HOME, else the nearest `.dreamos/` upwards from the current
 * folder, like git. The search stops at the user's home folder and where the file system changes, and
 * a workspace found either way must be the user's own (src/trust.ts). Returns the resolved path, the
 * only one to use from then on.
 */
export function findWorkspace(options: { home?: string; cwd?: string } = {}): string {
  const explicit = options.home ?? process.env.DREAMOS_HOME;
  if (explicit) {
    const home = normaliseHome(explicit);
    if (!fs.existsSync(join(home, 'config.json'))) {
      throw new DreamError('E_NO_WORKSPACE', `no Dream.OS workspace at ${home} (run \`dreamos init\` there)`);
    }
    return checkTrusted(home);
  }
  const userHome = realOrSelf(os.homedir());
  let dir = resolve(options.cwd ?? process.cwd());
  const device = fs.statSync(dir).dev;
  for (;;) {
    const candidate = join(dir, WORKSPACE_DIR);
    if (fs.existsSync(join(candidate, 'config.json'))) {
      return checkTrusted(candidate);
    }
    const parent = dirname(dir);
    if (parent === dir || realOrSelf(dir) === userHome || fs.statSync(parent).dev !== device) {
      throw new DreamError(
        'E_NO_WORKSPACE',
        `no Dream.OS workspace here or in any parent folder up to ${dir} (run \`dreamos init\`, or pass --home)`,
      );
    }
    dir = parent;
  }
}

function realOrSelf(path: string): string {
  try {
    return fs.realpathSync(path);
  } catch {
    return path;
  }
}

/** The folder a workspace goes in: an existing folder, or a new one whose parent exists. */
export function prepareProject(project: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(project);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw cannotCreate(project, error);
    const parent = dirname(project);
    if (!fs.existsSync(parent)) {
      throw notFound(
        `cannot create ${project}: its parent folder ${parent} does not exist (create it first: mkdir -p ${project})`,
      );
    }
    try {
      fs.mkdirSync(project);
    } catch (mkdirError) {
      throw cannotCreate(project, mkdirError);
    }
    return;
  }
  if (!st.isDirectory()) throw invalidInput(`cannot create a workspace in ${project}: it is not a folder`);
}

export async function writeConfig(paths: WorkspacePaths, config: Config): Promise<void> {
  const low = new Low(new ValidatedJsonFile(paths.config, Config), config);
  low.data = config;
  await low.write();
}

export function readConfig(paths: WorkspacePaths): Config {
  try {
    const config = new ValidatedJsonFile(paths.config, Config, { jitless: true }).readSync();
    if (!config) throw new DreamError('E_NO_WORKSPACE', `no config.json in ${paths.home}`);
    return config;
  } catch (error) {
    if (error instanceof CorruptFileError) {
      throw new DreamError(
        'E_CORRUPT',
        `${error.message}. Fix the file, or run \`dreamos doctor --repair\` to restore the last valid config`,
      );
    }
    throw error;
  }
}

/** Of config.json, only the state backend it names: read alone, whatever the rest holds. */
const BackendOnly = z.looseObject({ state: z.looseObject({ backend: z.string() }).optional() });

/**
 * The state backend config.json names, read without validating the rest of it: doctor restores a
 * broken config.json from the state, and `dreamos log` reads the history, whatever else it holds.
 * A file that cannot be read this way names the default backend, as one that predates the choice.
 */
export function backendNameOf(paths: WorkspacePaths): string {
  try {
    return new ValidatedJsonFile(paths.config, BackendOnly).readSync()?.state?.backend ?? DEFAULT_BACKEND;
  } catch (error) {
    if (error instanceof CorruptFileError) return DEFAULT_BACKEND;
    throw error;
  }
}

/**
 * The kind of backend the workspace's state is kept in, by the name its config.json records. A name
 * this Dream.OS does not know is the file's fault (a newer version's backend, or a typing mistake).
 */
export function backendOf(paths: WorkspacePaths, name: string): BackendFactory {
  if (!backendNames().includes(name))
    throw new DreamError(
      'E_CORRUPT',
      `${paths.config} names the state backend ${JSON.stringify(name).slice(0, 60)}, which this Dream.OS does not know (known: ${backendNames().join(', ')})`,
    );
  return backendFactory(name);
}

/** A shared writer makes changes only for processes that read the same configuration. */
export function digestOfConfig(config: Config): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 32);
}

/** DREAMOS_AGENT_ID (set for driven programs) names who makes the changes: it must be a known agent. */
export function agentFromEnv(config: Config): string {
  const id = process.env.DREAMOS_AGENT_ID;
  if (!id || id === OPERATOR) return OPERATOR;
  return findAgent(config, id, 'DREAMOS_AGENT_ID names no agent: ').id;
}

/** The configured agent `id`, or a not-found error that lists the known ones. */
export function findAgent(config: Config, id: string, missing: string): AgentConfig {
  const agent = config.agents.find((a) => a.id === id);
  if (!agent)
    throw notFound(
      `${missing}${JSON.stringify(id).slice(0, 60)} (known: ${config.agents.map((a) => a.id).join(', ')})`,
    );
  return agent;
}
