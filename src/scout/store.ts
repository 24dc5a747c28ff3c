/**
 * What the scout remembers between runs, in `.dreamos/scout/state.json` (read and written under the
 * lock `locks/scout`): per source, its last run and its counts, the validators of its last answer
 * (for a conditional request), its consecutive failures; and the items already looked at, by hash,
 * each with when it was first seen, forgotten after the retention period.
 *
 * A damaged file is moved to quarantine/, never read as empty without saying so: the run that finds
 * it reports it. Losing it costs little: every item is looked at again, and the dedupe key of each
 * task the scout made (`scout:<source>:<hash>`) keeps the same item from becoming a second task.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import * as z from 'zod';
import type { WorkspacePaths } from '../../state/paths.js';
import { CorruptFileError } from '../../state/store.js';
import { LockedJsonFile } from '../locked-file.js';

const Iso = z.iso.datetime({ offset: true });
const Count = z.number().int().nonnegative();

export const SourceState = z.strictObject({
  lastRunAt: Iso.nullable(),
  lastStatus: z.enum(['ok', 'not-modified', 'failed']).nullable(),
  lastError: z.string().max(500).nullable(),
  /** Items read over every run. */
  itemsSeen: Count,
  tasksMade: Count,
  /** Failed runs since the last one that worked. */
  failures: Count,
  etag: z.string().max(500).optional(),
  lastModified: z.string().max(100).optional(),
});
export type SourceState = z.infer<typeof SourceState>;

const ScoutFile = z.strictObject({
  schemaVersion: z.literal(1),
  sources: z.record(z.string(), SourceState),
  /** Item hash → when it was first seen. */
  seen: z.record(z.string().regex(/^[0-9a-f]{24}$/), Iso),
});
export type ScoutFile = z.infer<typeof ScoutFile>;

export const emptySourceState = (): SourceState => ({
  lastRunAt: null,
  lastStatus: null,
  lastError: null,
  itemsSeen: 0,
  tasksMade: 0,
  failures: 0,
});

/** An item's hash: its source and its guid (or link), so the same story in two sources is two items. */
export const itemHash = (sourceId: string, guid: string) =>
  createHash('sha256').update(`${sourceId}\0${guid}`).digest('hex').slice(0, 24);

const empty = (): ScoutFile => ({ schemaVersion: 1, sources: {}, seen: {} });

export class ScoutStore {
  private readonly file: LockedJsonFile<typeof ScoutFile>;
  /** What was found damaged and moved aside, for the command to tell. */
  readonly quarantined: string[] = [];

  constructor(paths: WorkspacePaths) {
    this.file = new LockedJsonFile(paths, {
      path: join(paths.home, 'scout', 'state.json'),
      lock: 'scout',
      schema: ScoutFile,
      empty,
      loss: 'items are looked at again, and the dedupe keys of the tasks already made keep them from being made twice',
      onQuarantine: (message) => this.quarantined.push(message),
    });
  }

  /**
   * The file as it is now, for reading only; a damaged one reads as empty here, and is reported
   * unless `quiet` (the caller changes it next, which sets it aside and says so).
   */
  read(quiet = false): ScoutFile {
    try {
      return this.file.readSync() ?? empty();
    } catch (error) {
      if (!(error instanceof CorruptFileError)) throw error;
      if (!quiet)
        this.quarantined.push(`${error.message}: it is left for the next \`dreamos scout run\` to set aside`);
      return empty();
    }
  }

  /** Read, change and write the file under its lock; a damaged file is moved to quarantine/ first. */
  change<T>(fn: (file: ScoutFile) => T): Promise<T> {
    return this.file.change(fn);
  }
}

/** Forget the items first seen before the retention period. */
export function forgetOld(file: ScoutFile, now: Date, retentionDays: number): void {
  const horizon = new Date(now.getTime() - retentionDays * 86_400_000).toISOString();
  for (const [hash, at] of Object.entries(file.seen)) if (at < horizon) delete file.seen[hash];
}
