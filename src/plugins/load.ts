/**
 * Finding and loading plugins (docs/plugins.md): the `.mjs` files in `.dreamos/plugins/`, then the
 * packages `plugins` in config.json names, resolved from the project folder. A plugin is code that
 * runs in the process, so a file someone else could have written is refused before it is imported
 * (the rule of docs/security.md, "Workspace trust"); a definition that does not match the schema
 * is refused with the first thing wrong. Nothing refused stops the others from loading.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BUILT_IN_KINDS } from '../../agents/drivers/config.js';
import { oneLine } from '../sanitize.js';
import { type DreamPlugin, firstIssue, PluginDefinition } from './types.js';

export type PluginState = 'on' | 'refused' | 'off';

/** What `dreamos plugin list` shows of one plugin: what it offers, or why it is not running. */
export interface PluginReport {
  /** Its name, once its definition was read; null when it was refused before. */
  name: string | null;
  version: string | null;
  /** The file, relative to the project folder, or the package name. */
  from: string;
  origin: 'file' | 'package';
  state: PluginState;
  /** Why it was refused or switched off. */
  reason: string | null;
  notifiers: string[];
  sources: string[];
  drivers: string[];
  onEvent: boolean;
  /** What of it is not used, and why. */
  notes: string[];
}

export interface LoadedPlugin {
  report: PluginReport;
  plugin: DreamPlugin;
}

export interface LoadOptions {
  /** How long importing one plugin may take (default 10 s). */
  timeoutMs?: number;
}

export const DEFAULT_PLUGIN_TIMEOUT_MS = 10_000;
export const PLUGIN_DIR = 'plugins';

const uid = () => (typeof process.getuid === 'function' ? process.getuid() : null);

/** Who may change `st`, or null when only the user (or root) may. */
function changeableBy(st: fs.Stats, me: number, what: string): string | null {
  if (st.uid !== me && st.uid !== 0) return `${what} belongs to uid ${st.uid}, not to you (uid ${me})`;
  const sticky = st.isDirectory() && (st.mode & 0o1000) !== 0;
  if ((st.mode & 0o022) !== 0 && !sticky)
    return `${(st.mode & 0o002) !== 0 ? 'every user' : 'its group'} may write in ${what} (mode ${(st.mode & 0o777).toString(8)})`;
  return null;
}

/**
 * The file to import, checked: a regular file and its folder that only the user (or root) may
 * change, reached through no link another user owns. Throws the reason otherwise.
 */
export function trustedPluginFile(path: string): string {
  const me = uid();
  const link = fs.lstatSync(path);
  const real = fs.realpathSync(path);
  if (me === null) return real; // Windows: no uids to compare
  if (link.isSymbolicLink() && link.uid !== me && link.uid !== 0)
    throw new Error(`it is a symbolic link that belongs to uid ${link.uid}, not to you (uid ${me})`);
  const st = fs.statSync(real);
  if (!st.isFile()) throw new Error('it is not a file');
  const problem =
    changeableBy(st, me, 'it') ?? changeableBy(fs.statSync(dirname(real)), me, `its folder ${dirname(real)}`);
  if (problem) throw new Error(`${problem}: run \`chmod go-w\` on it if it is yours, or remove it`);
  return real;
}

/**
 * Import a plugin module. On Node 20 the CLI runs from a vm.Script (for its code cache,
 * docs/decisions/code-cache.md), where import() has no loader: there the module is required
 * instead, which Node 20.19 and later do for an ES module without top-level await.
 */
async function importModule(file: string): Promise<{ default?: unknown }> {
  try {
    return await import(pathToFileURL(file).href);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING') throw error;
  }
  try {
    return createRequire(import.meta.url)(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_REQUIRE_ASYNC_MODULE')
      throw new Error('it uses top-level await, which plugins cannot on Node 20: move it into a function');
    throw error;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const emptyReport = (from: string, origin: PluginReport['origin']): PluginReport => ({
  name: null,
  version: null,
  from,
  origin,
  state: 'refused',
  reason: null,
  notifiers: [],
  sources: [],
  drivers: [],
  onEvent: false,
  notes: [],
});

const messageOf = (error: unknown) => oneLine(error instanceof Error ? error.message : String(error), 500);

/** The plugin files of a workspace: `.dreamos/plugins/*.mjs`, by name. */
function pluginFiles(home: string): string[] {
  const dir = join(home, PLUGIN_DIR);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return names
    .filter((n) => n.endsWith('.mjs'))
    .sort()
    .map((n) => join(dir, n));
}

/** Import one module and check its default export; the report says what it offers or why not. */
async function loadOne(
  report: PluginReport,
  locate: () => string,
  timeoutMs: number,
  taken: Map<string, string>,
  kinds: Map<string, string>,
): Promise<LoadedPlugin | null> {
  let module: { default?: unknown };
  try {
    const file = trustedPluginFile(locate());
    module = await withTimeout(importModule(file), timeoutMs, 'loading it');
  } catch (error) {
    report.reason = messageOf(error);
    return null;
  }
  if (module.default === undefined) {
    report.reason = 'it has no default export (export default definePlugin({ name, version, … }))';
    return null;
  }
  const parsed = PluginDefinition.safeParse(module.default);
  if (!parsed.success) {
    report.reason = `its definition is wrong: ${oneLine(firstIssue(parsed.error), 500)}`;
    return null;
  }
  // The module's own objects are kept, not zod's copies: a notifier may be a class instance.
  const plugin = module.default as DreamPlugin;
  report.name = plugin.name;
  report.version = plugin.version;
  const other = taken.get(plugin.name);
  if (other) {
    report.reason = `another plugin is named ${plugin.name} (${other})`;
    return null;
  }
  const kindProblem = driverKindProblem(plugin, kinds);
  if (kindProblem) {
    report.reason = kindProblem;
    return null;
  }
  taken.set(plugin.name, report.from);
  for (const d of plugin.drivers ?? []) kinds.set(d.kind, plugin.name);
  report.state = 'on';
  report.notifiers = (plugin.notifiers ?? []).map((n) => n.name);
  report.sources = (plugin.sources ?? []).map((s) => s.id);
  report.drivers = (plugin.drivers ?? []).map((d) => d.kind);
  report.onEvent = typeof plugin.onEvent === 'function';
  return { report, plugin };
}

/** Why a plugin's driver kinds cannot be had: one is built in, or another plugin loaded first has it. */
function driverKindProblem(plugin: DreamPlugin, kinds: Map<string, string>): string | null {
  for (const { kind } of plugin.drivers ?? []) {
    if (BUILT_IN_KINDS.includes(kind))
      return `its driver kind ${kind} is built in: a plugin may not replace it`;
    const other = kinds.get(kind);
    if (other) return `its driver kind ${kind} is already provided by plugin ${other}`;
  }
  return null;
}

/**
 * Load the plugins of a workspace: every one is reported, loaded or refused with its reason. A
 * plugin's module runs when it is imported, so only long-running processes and `plugin list` call this.
 */
export async function loadPlugins(
  workspace: { home: string; config: { plugins: readonly string[] } },
  options: LoadOptions = {},
): Promise<{ reports: PluginReport[]; loaded: LoadedPlugin[] }> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_PLUGIN_TIMEOUT_MS;
  const project = dirname(workspace.home);
  const reports: PluginReport[] = [];
  const loaded: LoadedPlugin[] = [];
  const taken = new Map<string, string>();
  const kinds = new Map<string, string>();
  const add = async (report: PluginReport, locate: () => string) => {
    reports.push(report);
    const one = await loadOne(report, locate, timeoutMs, taken, kinds);
    if (one) loaded.push(one);
  };
  for (const file of pluginFiles(workspace.home))
    await add(emptyReport(relative(project, file) || basename(file), 'file'), () => file);
  const resolveFromProject = createRequire(join(project, 'package.json'));
  for (const name of workspace.config.plugins)
    await add(emptyReport(name, 'package'), () => {
      try {
        return resolveFromProject.resolve(name);
      } catch {
        throw new Error(
          `the package ${name} is not installed in ${project} (or has no entry for import: "exports" with "default", or "main")`,
        );
      }
    });
  return { reports, loaded };
}
