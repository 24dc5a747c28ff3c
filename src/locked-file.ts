/**
 * A small JSON file of the workspace that several processes change (the API's tokens, the scout's
 * seen-store, the GitHub deliveries handled): read and written whole, validated by its schema,
 * changed only under a lock of its own in `locks/`. A damaged file is moved to quarantine/ by the
 * next change, which says what was lost with it; it is never read as empty without saying so.
 */
import { dirname, join } from 'node:path';
import type * as z from 'zod';
import { acquireLock } from '../state/lock/index.js';
import type { WorkspacePaths } from '../state/paths.js';
import { privateDir } from '../state/safe-files.js';
import { CorruptFileError, quarantineFile, ValidatedJsonFile } from '../state/store.js';

/** How long a change waits for the file's lock. */
const LOCK_TIMEOUT_MS = 10_000;

export interface LockedJsonFileOptions<S extends z.ZodType> {
  path: string;
  /** The lock's name in `locks/`. */
  lock: string;
  schema: S;
  /** The content of a file that does not exist yet. */
  empty: () => z.infer<S>;
  /** What a damaged file costs, told when it is set aside ("its tokens no longer work: …"). */
  loss: string;
  /** Told when a damaged file is set aside, with where it went and what was lost. */
  onQuarantine: (message: string) => void;
}

export class LockedJsonFile<S extends z.ZodType> {
  private readonly file: ValidatedJsonFile<S>;

  constructor(
    private readonly paths: WorkspacePaths,
    private readonly options: LockedJsonFileOptions<S>,
  ) {
    this.file = new ValidatedJsonFile(options.path, options.schema);
  }

  get path(): string {
    return this.file.path;
  }

  /** The file as it is now, without its lock: null when it does not exist; CorruptFileError when damaged. */
  readSync(): z.infer<S> | null {
    return this.file.readSync();
  }

  /** Read, change and write the file under its lock; a damaged file is moved to quarantine/ first. */
  async change<T>(fn: (data: z.infer<S>) => T): Promise<T> {
    privateDir(this.paths.locksDir);
    if (dirname(this.file.path) !== this.paths.home) privateDir(dirname(this.file.path));
    const lock = await acquireLock(join(this.paths.locksDir, this.options.lock), {
      timeoutMs: LOCK_TIMEOUT_MS,
    });
    try {
      let data: z.infer<S>;
      try {
        data = this.file.readSync() ?? this.options.empty();
      } catch (error) {
        if (!(error instanceof CorruptFileError)) throw error;
        privateDir(this.paths.quarantineDir);
        const moved = quarantineFile(this.file.path, this.paths);
        this.options.onQuarantine(`${error.message}; it was moved to ${moved}: ${this.options.loss}`);
        data = this.options.empty();
      }
      const result = fn(data);
      this.file.writeSync(data);
      return result;
    } finally {
      await lock.release();
    }
  }
}
