/**
 * Whose workspace is this? A workspace holds commands that `dreamos run` executes, so one that another
 * user owns, or that others may write in, is refused unless the user has said it is safe (the class of
 * git's CVE-2022-24765 and its `safe.directory`). See docs/security.md, "Workspace trust".
 */
import fs from 'node:fs';
import os from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { DreamError } from './errors.js';

/** The user's own configuration: `$XDG_CONFIG_HOME/dreamos/config.json`, else `~/.config/dreamos/config.json`. */
export function userConfigPath(): string {
  const base = process.env.XDG_CONFIG_HOME || join(os.homedir(), '.config');
  return join(base, 'dreamos', 'config.json');
}

/** The folders the user trusts: DREAMOS_SAFE_DIRS, then `safe` in the user's own config. `*` trusts all. */
function safeEntries(): string[] {
  const fromEnv = (process.env.DREAMOS_SAFE_DIRS ?? '').split(delimiter).filter(Boolean);
  return [...fromEnv, ...safeFromUserConfig()];
}

function safeFromUserConfig(): string[] {
  const file = userConfigPath();
  let text: string;
  try {
    const st = fs.statSync(file);
    // A list of trusted folders that someone else could edit would trust nothing.
    if (!ownedByMe(st) || (st.mode & 0o022) !== 0) return [];
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  try {
    const safe = (JSON.parse(text) as { safe?: unknown }).safe;
    return Array.isArray(safe) ? safe.filter((s): s is string => typeof s === 'string') : [];
  } catch {
    throw new DreamError('E_CORRUPT', `${file} is not valid JSON (it holds the folders you trust)`);
  }
}

const uid = () => (typeof process.getuid === 'function' ? process.getuid() : null);
const ownedByMe = (st: fs.Stats) => uid() === null || st.uid === uid();

function realOrResolved(path: string): string {
  try {
    return fs.realpathSync(path);
  } catch {
    return resolve(path);
  }
}

function isTrusted(home: string): boolean {
  const entries = safeEntries();
  if (entries.includes('*')) return true;
  const wanted = new Set([realOrResolved(home), realOrResolved(dirname(home))]);
  return entries.some((entry) => {
    const path = entry.startsWith('~/') ? join(os.homedir(), entry.slice(2)) : entry;
    // A relative entry would trust a different folder from every current folder: never.
    return isAbsolute(path) && wanted.has(realOrResolved(path));
  });
}

/**
 * Refuse the workspace `home` (the `.dreamos` folder) when it belongs to another user or when group
 * or others may write in it, unless the user trusts it. One line says why and how to fix it.
 */
export function checkTrusted(home: string): void {
  const me = uid();
  if (me === null) return; // Windows: no uids to compare
  const st = fs.statSync(home);
  const problem =
    st.uid !== me
      ? `it belongs to uid ${st.uid}, not to you (uid ${me})`
      : (st.mode & 0o022) !== 0
        ? `${(st.mode & 0o020) !== 0 ? 'its group' : 'every user'} may write in it (mode ${(st.mode & 0o777).toString(8)})`
        : null;
  if (problem === null || isTrusted(home)) return;
  const fix =
    st.uid !== me
      ? `if you trust it, add ${JSON.stringify(dirname(home))} to "safe" in ${userConfigPath()} or to DREAMOS_SAFE_DIRS`
      : `run \`chmod go-w ${home}\`, or add it to "safe" in ${userConfigPath()}`;
  throw new DreamError('E_UNTRUSTED', `refusing the workspace ${home}: ${problem}; ${fix}`);
}
