/**
 * What this process knows about its own locks, in one place: its owner records, the locks it
 * holds, the in-process turns, the shared inotify watches and its kept locks. Created on first use
 * (the first acquire or wait), which is also when the exit hook is registered: importing the lock
 * code installs nothing. The hook stays for the life of the process, as the record files it removes do.
 *
 * All of it is per process: two copies of this code in one process would each have their own.
 */
import type fs from 'node:fs';
import type { KeptLock } from './kept.js';
import type { Record } from './owners.js';

/**
 * Turns within this process: one acquirer of a lock target at a time. They share one record file,
 * so two at once (two workspaces on one folder in one process) could overwrite each other's H with
 * Q. A kept lock holds the turn, and is asked to let go as soon as another acquirer here queues.
 */
export interface Turns {
  busy: boolean;
  queue: Array<() => void>;
  kept: KeptLock | null;
}

/** One inotify watch of a locks folder, and the waits it wakes. */
export interface Watch {
  watcher: fs.FSWatcher | null;
  wake: Set<() => void>;
}

export interface Registry {
  /** This process's owner record per lock target. */
  readonly records: Map<string, Record>;
  /** Releases of the locks this process holds: an exiting process lets them go rather than leave them to a breaker. */
  readonly holding: Set<() => void>;
  readonly turns: Map<string, Turns>;
  /** Per locks folder. */
  readonly watches: Map<string, Watch>;
  readonly kept: Set<KeptLock>;
}

let current: Registry | null = null;

export function registry(): Registry {
  if (current) return current;
  const created: Registry = {
    records: new Map(),
    holding: new Set(),
    turns: new Map(),
    watches: new Map(),
    kept: new Set(),
  };
  current = created;
  process.once('exit', () => letGoAll(created));
  return created;
}

/** At exit: let every lock go and remove the records. Each step is tried even if one before failed. */
function letGoAll({ kept, holding, records }: Registry): void {
  const attempt = (step: () => void) => {
    try {
      step();
    } catch {
      // exiting anyway: whatever is left, a breaker clears once it sees this process gone
    }
  };
  for (const lock of [...kept]) attempt(() => lock.letGo());
  for (const release of [...holding]) attempt(release);
  for (const record of records.values()) attempt(() => record.remove());
}
