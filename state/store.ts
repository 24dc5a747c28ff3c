/**
 * Snapshot files (boards, alerts, config) behind lowdb's Adapter interface: a missing file reads as
 * null, a file that does not parse or validate throws CorruptFileError (the caller quarantines it;
 * it is never read as empty), and writes are atomic and durable (temp file, fsync, rename, fsync dir).
 */
import fs from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Adapter } from 'lowdb';
import type { z } from 'zod';
import { errnoCode } from './errors.js';
import type { WorkspacePaths } from './paths.js';
import { quarantineTarget, writeAndClose } from './safe-files.js';
import { oneLine } from './text.js';
import { describeZodError } from './zod-errors.js';

export class CorruptFileError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path} is corrupt: ${reason}`);
    this.name = 'CorruptFileError';
  }
}

export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

const CREATE_NEW =
  fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;

/**
 * Create `path` as a new file of this process (mode 600), never through a symlink planted there:
 * whatever is already at the path (a leftover of a dead process with the same pid, a link) is
 * removed, not followed, and the creation is tried again.
 */
export function createExclusive(path: string): number {
  for (let attempt = 0; ; attempt++) {
    try {
      return fs.openSync(path, CREATE_NEW, 0o600);
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST' || attempt >= 3) throw error;
      fs.rmSync(path, { force: true }); // unlink: a symlink goes, its target stays untouched
    }
  }
}

/** Write a whole file so that a crash leaves either the old or the new content, never a mix. */
export function writeFileDurable(path: string, data: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const buf = Buffer.from(data, 'utf8');
  try {
    writeAndClose(createExclusive(tmp), buf);
    fs.renameSync(tmp, path);
  } catch (error) {
    fs.rmSync(tmp, { force: true }); // nothing half-written stays
    throw error;
  }
  fsyncDir(dirname(path));
}

export class ValidatedJsonFile<S extends z.ZodType> implements Adapter<z.infer<S>> {
  constructor(
    readonly path: string,
    private readonly schema: S,
    /**
     * Read without zod's generated parsers: on its first parse of an object shape zod writes and
     * compiles a parser for it, which pays off for many objects of one shape (a board's tasks) but
     * not for a file of many shapes read once per process (config.json: about 10 ms of every
     * command's start). The result is the same either way.
     */
    private readonly readOptions: { jitless?: boolean } = {},
  ) {}

  async read(): Promise<z.infer<S> | null> {
    return this.readSync();
  }

  readSync(): z.infer<S> | null {
    let fd: number;
    try {
      // Non-blocking: a fifo planted in place of the file must not hang the command.
      fd = fs.openSync(this.path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return null;
      throw error;
    }
    let text: string;
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile())
        throw new CorruptFileError(
          this.path,
          st.isDirectory() ? 'it is a folder, not a file' : 'it is not a file',
        );
      text = fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (error) {
      // The parser quotes the file, which may hold anything (terminal escapes, newlines): keep it one clean line.
      throw new CorruptFileError(this.path, `not valid JSON (${oneLine((error as Error).message, 160)})`);
    }
    const parsed = this.schema.safeParse(raw, this.readOptions.jitless ? { jitless: true } : undefined);
    if (!parsed.success)
      throw new CorruptFileError(this.path, `does not match its schema (${describeZodError(parsed.error)})`);
    return parsed.data;
  }

  async write(data: z.infer<S>): Promise<void> {
    this.writeSync(data);
  }

  /**
   * `seal` sees the validated data exactly as it will be serialised (zod output: keys in schema order),
   * so a digest computed there matches what a reader computes after parsing the file.
   */
  writeSync(data: z.infer<S>, seal: (valid: z.infer<S>) => z.infer<S> = (valid) => valid): void {
    writeFileDurable(this.path, `${JSON.stringify(seal(this.schema.parse(data)), null, 1)}\n`);
  }
}

/**
 * Move a file aside into quarantine/, never deleting it, under a name no file there has (the folder
 * checked to be a real one first). Returns the new path.
 */
export function quarantineFile(path: string, paths: WorkspacePaths): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const target = quarantineTarget(paths, `${stamp}-${basename(path)}`);
  fs.renameSync(path, target);
  fsyncDir(paths.quarantineDir);
  return target;
}
