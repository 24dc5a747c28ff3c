/**
 * The folders Dream.OS writes into and the files it creates beside the state (quarantine copies,
 * logs). A workspace may come from a git clone or a shared folder, so anything in it may be a
 * planted symbolic link: a write must never go through one to a file outside the workspace.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { extname, join } from 'node:path';
import { DreamError, errnoCode } from './errors.js';
import { type WorkspacePaths, workspaceFolders } from './paths.js';

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_APPEND } = fs.constants;

/** Why `dir` may not be written into, or null when it is a real folder of an accepted owner. */
function unsafeFolder(st: fs.Stats, owners: readonly number[]): string | null {
  if (st.isSymbolicLink()) return 'is a symbolic link, not a folder';
  if (!st.isDirectory()) return 'is not a folder';
  if (owners.length > 0 && !owners.includes(st.uid)) return `belongs to another user (uid ${st.uid})`;
  return null;
}

/** This user, and the owner of the workspace folder (which the workspace search has accepted). */
function owners(home: string): number[] {
  if (typeof process.getuid !== 'function') return [];
  const uids = [process.getuid()];
  try {
    // The folder itself, not a link in its place: the link's owner was never accepted.
    uids.push(fs.lstatSync(fs.realpathSync(home)).uid);
  } catch {
    // no workspace folder yet: only this user
  }
  return uids;
}

function refuseFolder(dir: string, why: string): DreamError {
  return new DreamError(
    'E_CORRUPT',
    `${dir} ${why}: Dream.OS writes nothing through it (put a plain folder in its place)`,
  );
}

/**
 * Make sure `dir` (inside the workspace `home`) is a real folder owned by this user or the
 * workspace's owner, creating it (mode 700) when missing. Its parent must have been checked already.
 */
export function realFolder(home: string, dir: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error;
    try {
      fs.mkdirSync(dir, { mode: 0o700 });
    } catch (again) {
      if (errnoCode(again) !== 'EEXIST') throw again;
    }
    st = fs.lstatSync(dir);
  }
  const why = unsafeFolder(st, owners(home));
  if (why) throw refuseFolder(dir, why);
}

/**
 * The workspace's own folders that exist, each checked: a symbolic link planted in place of one
 * (a cloned repository can hold one) is refused before anything is read or written through it.
 */
export function checkLayout(paths: WorkspacePaths): void {
  const accepted = owners(paths.home);
  for (const dir of workspaceFolders(paths)) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(dir);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') continue;
      throw error;
    }
    const why = unsafeFolder(st, accepted);
    if (why) throw refuseFolder(dir, why);
  }
}

/** Write all of `data` to a new file's `fd`, make it durable, and close it. */
export function writeAndClose(fd: number, data: Buffer): void {
  try {
    // A filling disk writes less than asked without an error: loop, so that it ends in ENOSPC, not a short file.
    for (let written = 0; written < data.length; )
      written += fs.writeSync(fd, data, written, data.length - written);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Create `path` (never an existing file, never through a link), mode 600, with `data`, made durable. */
function createNew(path: string, data: Buffer): void {
  writeAndClose(fs.openSync(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600), data);
}

/**
 * A new file in quarantine/ named `name`, or `name` with a random part when that is taken (by an
 * earlier copy, or by anything planted there): nothing is ever overwritten. Returns its path.
 */
export function quarantineCopy(paths: WorkspacePaths, name: string, data: Buffer): string {
  realFolder(paths.home, paths.quarantineDir);
  const ext = extname(name);
  for (let attempt = 0; ; attempt++) {
    const target = join(
      paths.quarantineDir,
      attempt === 0
        ? name
        : `${name.slice(0, name.length - ext.length)}-${randomBytes(4).toString('hex')}${ext}`,
    );
    try {
      createNew(target, data);
      return target;
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST' || attempt >= 8) throw error;
    }
  }
}

/** A free name in quarantine/ for a file moved there: `name`, or `name` with a random part. */
export function quarantineTarget(paths: WorkspacePaths, name: string): string {
  realFolder(paths.home, paths.quarantineDir);
  for (let attempt = 0; ; attempt++) {
    const target = join(
      paths.quarantineDir,
      attempt === 0 ? name : `${randomBytes(4).toString('hex')}-${name}`,
    );
    try {
      fs.lstatSync(target);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return target;
      throw error;
    }
    if (attempt >= 8) throw new DreamError('E_IO', `no free name for ${name} in ${paths.quarantineDir}`);
  }
}

/**
 * Open a log file to append to, never through a link: the file is created mode 600 when missing,
 * a symbolic link in its place fails (ELOOP) instead of being followed, and a file with another
 * name (a hard link planted in its place, which O_NOFOLLOW cannot see) is refused.
 */
export function openAppend(path: string): number {
  const fd = fs.openSync(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0o600);
  const st = fs.fstatSync(fd);
  if (st.isFile() && st.nlink > 1) {
    fs.closeSync(fd);
    throw new DreamError(
      'E_CORRUPT',
      `it is a hard link to a file with ${st.nlink - 1} other name(s), which is never written through`,
    );
  }
  return fd;
}

/** Open a file to read, never through a link (ELOOP when `path` is one). */
export function openRead(path: string): number {
  return fs.openSync(path, fs.constants.O_RDONLY | O_NOFOLLOW);
}

/**
 * One folder of the workspace, mode 700 whatever the umask. Never `recursive`: Node's recursive mkdir
 * retries for ever where the kernel refuses with ENOENT (in /proc, say), deaf to signals.
 */
export function privateDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    const exists = (error as NodeJS.ErrnoException).code === 'EEXIST' && fs.lstatSync(dir).isDirectory();
    if (!exists) throw cannotCreate(dir, error);
  }
  fs.chmodSync(dir, 0o700);
}

export function cannotCreate(path: string, error: unknown): DreamError {
  const { code, message } = error as NodeJS.ErrnoException;
  const why =
    code === 'EACCES' || code === 'EPERM'
      ? 'permission denied'
      : code === 'EROFS'
        ? 'the file system is read-only'
        : code === 'ENOENT'
          ? 'this file system does not allow new folders here'
          : code === 'ENOTDIR'
            ? 'a part of the path is not a folder'
            : (message ?? String(error));
  return new DreamError('E_IO', `cannot create ${path}: ${why}${code ? ` (${code})` : ''}`);
}
