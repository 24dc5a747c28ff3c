/**
 * Retention of the PostgreSQL backend (docs/postgres.md, "Doctor and retention"): no table only
 * grows. The journal keeps its last `keepEntries` entries and every entry of the last `keepDays`
 * days, whichever keeps more; older entries are deleted from its start, a batch per transaction, and
 * `settings.journal_floor` moves with them in the same transaction, so the journal always runs
 * without a gap from the floor + 1 to its end. Archived tasks whose last change is older than
 * `archiveKeepDays` are deleted in batches too; the dedupe key of a deleted task is kept (a row of
 * `dedupe_keys`), as a key once used is never used again. The other tables hold the live state (mail and
 * checkpoints are pruned as they are written, by `record_line`).
 *
 * A mirror that has not read as far as the new floor reloads from the tables (state/pg/store.ts),
 * so nothing a running process still needs is lost with the entries.
 *
 * Modes of one run:
 * - BUSY: another process holds the retention lock: this one does nothing until its next run.
 * - TRIMMING: each batch takes the retention lock and then the schema's write lock, for one short
 *   transaction (one DELETE of at most `batch` rows and the floor's move); a pause between batches
 *   lets writers through. A write lock not had within a moment ends the run: the next one continues.
 * - DONE: nothing older than the bounds is left, or the run made `maxBatches` batches.
 */
import type pg from 'pg';
import { type PgLocation, pgError } from './connection.js';
import { writeLockSql } from './schema.js';
import type { Session } from './session.js';

export interface RetentionBounds {
  /** The journal keeps at least its last this many entries... */
  keepEntries: number;
  /** ...and every entry of the last this many days. */
  keepDays: number;
  /** Archived tasks whose last change is older than this many days are deleted. */
  archiveKeepDays: number;
  /** Rows deleted by one statement, in one transaction. */
  batch: number;
  /** The pause between two batches. */
  pauseMs: number;
  /** Batches in one run at most: upkeep runs between a process's work, and must not hold it up. */
  maxBatches: number;
  /** How long a process waits between two runs of its own. */
  everyMs: number;
}

/** The bounds every workspace has (docs/postgres.md says why these). */
export const RETENTION: Readonly<RetentionBounds> = {
  keepEntries: 100_000,
  keepDays: 30,
  archiveKeepDays: 90,
  batch: 5000,
  pauseMs: 50,
  maxBatches: 20,
  everyMs: 10 * 60_000,
};

/** The retention lock's class (the write lock's class + 1): one process trims a schema at a time. */
const RETENTION_LOCK_CLASS = 0x44524d54;

/** How long a batch waits for the write lock before the run gives up for now. */
const LOCK_WAIT = '2s';

export interface RetentionResult {
  /** Journal entries deleted, and the floor after them. */
  entries: number;
  floor: number;
  /** Archived tasks deleted. */
  archived: number;
  /** Batches (transactions) made. */
  batches: number;
  /** Another process was trimming, or the write lock was busy: the next run continues. */
  busy: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** PostgreSQL's lock_not_available: the write lock was not had within LOCK_WAIT. */
const isLockTimeout = (error: unknown) => (error as { code?: string })?.code === '55P03';

/** One batch in its own transaction: what it deleted, or null when another process holds retention. */
async function batchOnce(
  client: pg.Client,
  location: PgLocation,
  bounds: RetentionBounds,
): Promise<{ entries: number; archived: number; floor: number } | null> {
  await client.query(`BEGIN; SET LOCAL lock_timeout = '${LOCK_WAIT}'`);
  try {
    const mine = await client.query<{ ok: boolean }>(
      `SELECT pg_try_advisory_xact_lock(${RETENTION_LOCK_CLASS}, hashtext($1)) AS ok`,
      [location.schema],
    );
    if (!mine.rows[0]?.ok) {
      await client.query('ROLLBACK');
      return null;
    }
    await client.query(writeLockSql(location.schema));
    // The last entry this batch may delete: below the kept count, at most a batch after the floor,
    // and before the first entry young enough to keep (entries are numbered in time order, but for
    // changes recorded side by side, stamped at most 100 ms apart: nothing a retention of days sees).
    const { rows } = await client.query<{ floor: string; upto: string | null }>(
      `WITH s AS (SELECT journal_floor AS floor FROM settings WHERE id = 1),
            c AS (
              SELECT s.floor, least(s.floor + $1, (SELECT max(seq) FROM journal) - $2) AS cand FROM s
            )
       SELECT c.floor,
              least(c.cand, (
                SELECT min(seq) - 1 FROM journal
                WHERE seq > c.floor AND seq <= c.cand AND at >= clock_timestamp() - $3 * interval '1 day'
              )) AS upto
       FROM c`,
      [bounds.batch, Math.max(1, bounds.keepEntries), bounds.keepDays],
    );
    const floor = Number(rows[0]!.floor);
    const upto = Number(rows[0]!.upto ?? floor);
    let entries = 0;
    if (upto > floor) {
      entries = (await client.query('DELETE FROM journal WHERE seq <= $1', [upto])).rowCount ?? 0;
      await client.query('UPDATE settings SET journal_floor = $1 WHERE id = 1', [upto]);
    }
    // A deleted task's dedupe key stays taken (dedupe_keys).
    const { rows: gone } = await client.query<{ n: number }>(
      `WITH gone AS (
         DELETE FROM archive WHERE id IN (
           SELECT id FROM archive
           WHERE (doc->>'updatedAt')::timestamptz < clock_timestamp() - $1 * interval '1 day'
           ORDER BY archived_seq LIMIT $2)
         RETURNING id, archived_seq, doc->>'dedupeKey' AS key
       ), kept AS (
         INSERT INTO dedupe_keys (key, id, archived_seq)
         SELECT key, id, archived_seq FROM gone WHERE key IS NOT NULL
         ON CONFLICT (key) DO NOTHING
       )
       SELECT count(*)::int AS n FROM gone`,
      [bounds.archiveKeepDays, bounds.batch],
    );
    const archived = gone[0]?.n ?? 0;
    await client.query('COMMIT');
    return { entries, archived, floor: Math.max(floor, upto) };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * Delete what is older than `bounds`, a batch per transaction, until nothing is left, the run has
 * made `maxBatches` batches, or the process is stopping.
 */
export async function retain(
  session: Session,
  location: PgLocation,
  bounds: RetentionBounds = RETENTION,
  /** Asked before each batch: the process is closing, the next run continues. */
  stopping: () => boolean = () => false,
): Promise<RetentionResult> {
  const result: RetentionResult = { entries: 0, floor: 0, archived: 0, batches: 0, busy: false };
  while (result.batches < bounds.maxBatches && !stopping()) {
    if (result.batches > 0) await sleep(bounds.pauseMs);
    let done: Awaited<ReturnType<typeof batchOnce>>;
    try {
      done = await session.use((client) => batchOnce(client, location, bounds), true);
    } catch (error) {
      if (!isLockTimeout(error)) throw pgError(error, location);
      done = null;
    }
    if (!done) {
      result.busy = true;
      break;
    }
    result.batches += 1;
    result.entries += done.entries;
    result.archived += done.archived;
    result.floor = done.floor;
    if (done.entries < bounds.batch && done.archived < bounds.batch) break;
  }
  return result;
}
