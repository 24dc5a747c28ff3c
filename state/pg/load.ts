/**
 * The PostgreSQL backend's state loaded from its tables into memory (the `StateIndex` the JSON store
 * uses): at open, and whenever a process's state cannot be brought forward from the journal (a failed
 * commit, retention past it, a crash that took back a tail it had read).
 */
import type pg from 'pg';
import { DreamError } from '../errors.js';
import { decodeLine } from '../journal-reader.js';
import { AgentState, Alert, Checkpoint, type JournalEntry, Mail, Task } from '../schemas.js';
import { StateIndex } from '../state-index.js';
import type { PgLocation } from './connection.js';

/** The tables of objects, their schemas, and how the in-memory state takes them. */
const TABLES = [
  { table: 'tasks', order: 'id', schema: Task, put: (m: StateIndex, o: unknown) => m.putTask(o as Task) },
  { table: 'alerts', order: 'id', schema: Alert, put: (m: StateIndex, o: unknown) => m.putAlert(o as Alert) },
  {
    table: 'agents',
    order: 'id',
    schema: AgentState,
    put: (m: StateIndex, o: unknown) => m.putAgent(o as AgentState),
  },
  { table: 'mail', order: 'id', schema: Mail, put: (m: StateIndex, o: unknown) => m.putMail(o as Mail) },
  {
    table: 'checkpoints',
    order: 'id',
    schema: Checkpoint,
    put: (m: StateIndex, o: unknown) => m.putCheckpoint(o as Checkpoint),
  },
] as const;

export type Query = (sql: string, values?: unknown[]) => Promise<pg.QueryResult>;

/** The state as loaded, and the crc of the journal entry it is as of (null: an empty journal). */
export interface Loaded {
  mem: StateIndex;
  head: string | null;
  /** When that entry was recorded (ms; 0: an empty journal). */
  headAt: number;
  /** The entries from `requestsFrom` on that carry a shared writer's request id, in order. */
  requests: JournalEntry[];
  /** The first entry those were looked for from (the entry after the state's when none were asked). */
  requestsFrom: number;
}

/**
 * How far before the entry asked for the request entries are read: a server crash takes back the
 * commits not yet flushed (a few hundred milliseconds of them with `synchronous_commit` off), which
 * an asker may have read, and a request's entry may then be at one of their numbers.
 */
const CRASH_MARGIN = 4096;
/** At most this many of the latest entries are read (an asker that had not read for hours). */
const REQUEST_SCAN_MAX = 100_000;

/**
 * The whole state as the tables hold it, read inside the caller's transaction; with `requestsFrom`,
 * also the journal's entries from that number on that carry a request id (EntryObserver.onReload).
 */
export async function loadState(
  query: Query,
  location: PgLocation,
  requestsFrom: number | null = null,
): Promise<Loaded> {
  const mem = new StateIndex();
  let head: string | null = null;
  let headAt = 0;
  const top = await query(
    'SELECT (SELECT entry::text FROM journal ORDER BY seq DESC LIMIT 1) AS last, (SELECT config::text FROM settings WHERE id = 1) AS config',
  );
  const last = top.rows[0]?.last as string | null;
  if (last) {
    const decoded = decodeLine(last);
    if ('error' in decoded)
      throw new DreamError(
        'E_CORRUPT',
        `the last journal entry in schema ${location.schema} ${decoded.error}`,
      );
    mem.mergeCounters(decoded.entry.counters);
    mem.seq = decoded.entry.seq;
    head = decoded.entry.crc;
    headAt = Date.parse(decoded.entry.at);
  }
  const config = top.rows[0]?.config as string | null;
  if (config) mem.config = JSON.parse(config);
  for (const { table, order, schema, put } of TABLES) {
    const { rows } = await query(`SELECT id, doc::text AS doc FROM ${table} ORDER BY ${order}`);
    for (const row of rows as { id: string; doc: string }[]) {
      const parsed = schema.safeParse(JSON.parse(row.doc));
      if (!parsed.success)
        throw new DreamError(
          'E_CORRUPT',
          `row ${row.id} of ${location.schema}.${table} is not a valid object (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}): \`dreamos doctor --repair\` rebuilds it from the journal`,
        );
      put(mem, parsed.data);
    }
  }
  // Archived tasks keep their dedupe keys taken (docs/decisions/outside-work-approval.md).
  const { rows: keyed } = await query(
    "SELECT id, archived_seq::text AS seq, doc->>'dedupeKey' AS key FROM archive WHERE doc->>'dedupeKey' IS NOT NULL UNION ALL SELECT id, archived_seq::text, key FROM dedupe_keys",
  );
  for (const row of keyed as { id: string; seq: string; key: string }[])
    mem.rememberArchived(row.key, row.id, Number(row.seq));
  mem.sortReadyQueues();
  mem.dirty.clear();
  const requests: JournalEntry[] = [];
  const from =
    requestsFrom === null
      ? mem.seq + 1
      : Math.max(1, requestsFrom - CRASH_MARGIN, mem.seq + 1 - REQUEST_SCAN_MAX);
  if (requestsFrom !== null) {
    const { rows } = await query(
      "SELECT entry::text AS line FROM journal WHERE seq >= $1 AND entry->'req' IS NOT NULL ORDER BY seq",
      [from],
    );
    for (const { line } of rows as { line: string }[]) {
      const decoded = decodeLine(line);
      if ('error' in decoded)
        throw new DreamError('E_CORRUPT', `a journal entry in schema ${location.schema} ${decoded.error}`);
      requests.push(decoded.entry);
    }
  }
  return { mem, head, headAt, requests, requestsFrom: from };
}
