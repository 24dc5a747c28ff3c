/**
 * Who leads a role (the orchestrator's sweeps) in a workspace kept in files: one small record per
 * role, `locks/leader-<role>.json` (its holder and when its term ends), read and written only under
 * the lock `locks/leader-<role>` (lock/), so that two processes never both claim it. Every process
 * of a JSON workspace runs on one machine, so the one clock they share judges the term; a holder
 * that dies simply stops renewing, and the role is free once its term has run out
 * (docs/decisions/sweep-leader.md).
 */
import { join } from 'node:path';
import * as z from 'zod';
import { invalidInput } from './errors.js';
import { acquireLock } from './lock/index.js';
import type { WorkspacePaths } from './paths.js';
import { CorruptFileError, quarantineFile, ValidatedJsonFile } from './store.js';

const LeaderRecord = z.object({
  holder: z.string().min(1),
  /** Epoch milliseconds. */
  expiresAt: z.number(),
});

/** A role's name becomes part of a file name: letters, digits and dashes only. */
const ROLE_RE = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** The lock a role's record is read and written under, and the record's file. */
export function leaderFiles(paths: WorkspacePaths, role: string): { lock: string; record: string } {
  if (!ROLE_RE.test(role))
    throw invalidInput(`not a role name: ${JSON.stringify(role).slice(0, 80)} (letters, digits and dashes)`);
  const lock = join(paths.locksDir, `leader-${role}`);
  return { lock, record: `${lock}.json` };
}

/**
 * `holder` leads `role` until `ttlMs` from now (true), or another holder's term runs (false). A
 * record that cannot be read is moved to quarantine/ and the role counts as free: the record holds
 * nothing but a term, which its holder renews within the next period.
 */
export async function leadByFile(
  paths: WorkspacePaths,
  role: string,
  holder: string,
  ttlMs: number,
  timeoutMs: number,
): Promise<boolean> {
  const files = leaderFiles(paths, role);
  const lock = await acquireLock(files.lock, { timeoutMs });
  try {
    const file = new ValidatedJsonFile(files.record, LeaderRecord);
    let current: z.infer<typeof LeaderRecord> | null;
    try {
      current = file.readSync();
    } catch (error) {
      if (!(error instanceof CorruptFileError)) throw error;
      quarantineFile(files.record, paths);
      current = null;
    }
    const now = Date.now();
    if (current && current.holder !== holder && current.expiresAt > now) return false;
    file.writeSync({ holder, expiresAt: now + ttlMs });
    return true;
  } finally {
    await lock.release();
  }
}
