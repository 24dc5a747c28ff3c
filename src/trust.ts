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

/** Why the folder `dir` (an ancestor of the workspace) could be changed by someone else, or null. */
function unsafeAncestor(dir: string, me: number): string | null {
  const st = fs.lstatSync(dir);
  if (st.uid !== me && st.uid !== 0) return `its folder ${dir} belongs to uid ${st.uid}`;
  // Like ssh's StrictModes: others may write in a folder above only when the sticky bit stops them
  // renaming what they do not own (/tmp).
  if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) {
    const who = (st.mode & 0o002) !== 0 ? 'every user' : 'its group';
    return `${who} may write in its folder ${dir} (mode ${(st.mode & 0o777).toString(8)}, no sticky bit)`;
  }
  return null;
}

/**
 * Resolve the workspace `home` (the `.dreamos` folder) once, check it, and return the resolved
 * path: every later open must use that path, so that a link swapped after the check changes
 * nothing. Refused, unless the user trusts it: a `.dreamos` link that another user owns; a folder
 * that belongs to another user or that group or others may write in; and a folder with an
 * ancestor that someone other than the user or root could change. One line says why and how to fix it.
 */
export function checkTrusted(home: string): string {
  const real = fs.realpathSync(home);
  const me = uid();
  if (me === null) return real; // Windows: no uids to compare
  const link = fs.lstatSync(home);
  const st = fs.lstatSync(real);
  let fix = `if you trust it, add ${JSON.stringify(dirname(home))} to "safe" in ${userConfigPath()} or to DREAMOS_SAFE_DIRS`;
  let problem: string | null = null;
  if (link.isSymbolicLink() && link.uid !== me && link.uid !== 0) {
    problem = `it is a symbolic link that belongs to uid ${link.uid}, not to you (uid ${me})`;
  } else if (!st.isDirectory()) {
    problem = 'it is not a folder';
  } else if (st.uid !== me) {
    problem = `it belongs to uid ${st.uid}, not to you (uid ${me})`;
  } else if ((st.mode & 0o022) !== 0) {
    problem = `${(st.mode & 0o020) !== 0 ? 'its group' : 'every user'} may write in it (mode ${(st.mode & 0o777).toString(8)})`;
    fix = `run \`chmod go-w ${real}\`, or add it to "safe" in ${userConfigPath()}`;
  } else {
    for (let dir = dirname(real); problem === null; dir = dirname(dir)) {
      problem = unsafeAncestor(dir, me);
      if (dirname(dir) === dir) break;
    }
  }
  if (problem === null || isTrusted(home)) return real;
  throw new DreamError('E_UNTRUSTED', `refusing the workspace ${home}: ${problem}; ${fix}`);
}
