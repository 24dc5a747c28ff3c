/**
 * Moving a workspace's state between the JSON store and PostgreSQL: `dreamos db import` and
 * `dreamos db export` (docs/postgres.md). Both copy the journal line for line (its entries keep their
 * numbers and crcs), let the other side rebuild its state from it the way it always does, then compare
 * the two states object by object before the copy counts: an import that does not match is rolled
 * back, an export that does not match is refused.
 */

import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type pg from 'pg';
import { writeArchiveKeys } from '../archive-keys.js';
import { JournalDb, type RecoveryNotice, type SnapshotKind } from '../db.js';
import { DreamError } from '../errors.js';
import { decodeLine, forEachEntry, SEGMENT_BYTES } from '../journal-reader.js';
import { jsonStoreFolders, type WorkspacePaths } from '../paths.js';
import { privateDir } from '../safe-files.js';
import { AgentState, Alert, Checkpoint, Mail, Task } from '../schemas.js';
import { REQUIRED_KINDS } from '../snapshots.js';
import { KEEP_ACKED_MAIL, KEEP_CHECKPOINTS, StateIndex, type StateView } from '../state-index.js';
import { fsyncDir, writeFileDurable } from '../store.js';
import { connect, type PgLocation, pgError, shownUrl } from './connection.js';
import { checkVersion, migrate, schemaVersion, writeLockSql } from './schema.js';

/** The kinds of object compared after a copy, as PostgreSQL tables name them. */
const KINDS = ['tasks', 'archive', 'alerts', 'agents', 'mail', 'checkpoints'] as const;
type Kind = (typeof KINDS)[number];

/**
 * A whole state, as what is compared: per kind, each object's digest by id; the journal's lines by
 * seq; the configuration and the counters.
 */
export interface StateDigest {
  objects: Record<Kind, Map<string, string>>;
  journal: Map<number, string>;
  config: string;
  counters: string;
}

export interface TransferResult {
  location: PgLocation;
  /** How many of each were copied (journal: entries). */
  counts: Record<Kind | 'journal', number>;
  /**
   * Export only: archived tasks the journal records but which archive retention had deleted, so the
   * export holds their history and not the tasks (docs/decisions/export-after-archive-retention.md).
   */
  pruned?: string[];
}

/** Lines recorded by one call of record_entries. */
const RECORD_BATCH = 500;
/** Journal lines read from PostgreSQL per query when exporting. */
const EXPORT_PAGE = 2000;
/** A copy may take longer than one ordinary statement. */
const TRANSFER_STATEMENT_MS = 10 * 60_000;

/** JSON with every object's keys sorted: equal values, equal text, whatever order they were written in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

const digest = (value: unknown) => createHash('sha256').update(canonical(value)).digest('hex');

const emptyObjects = (): StateDigest['objects'] =>
  Object.fromEntries(KINDS.map((kind) => [kind, new Map<string, string>()])) as StateDigest['objects'];

/** What differs between two states, one phrase per difference (at most a few of each kind). */
export function differences(a: StateDigest, b: StateDigest, names: [string, string]): string[] {
  const found: string[] = [];
  const compare = <K>(what: string, x: Map<K, string>, y: Map<K, string>) => {
    if (x.size !== y.size) found.push(`${what}: ${x.size} in ${names[0]}, ${y.size} in ${names[1]}`);
    const ids = [...new Set([...x.keys(), ...y.keys()])].filter((id) => x.get(id) !== y.get(id));
    for (const id of ids.slice(0, 5))
      found.push(
        !x.has(id)
          ? `${what} ${id} only in ${names[1]}`
          : !y.has(id)
            ? `${what} ${id} only in ${names[0]}`
            : `${what} ${id} differs`,
      );
    if (ids.length > 5) found.push(`${what}: ${ids.length - 5} more differ`);
  };
  for (const kind of KINDS) compare(kind, a.objects[kind], b.objects[kind]);
  compare('journal entry', a.journal, b.journal);
  if (a.config !== b.config) found.push('the configuration differs');
  if (a.counters !== b.counters) found.push('the counters differ');
  return found;
}

/**
 * The JSON store's state as its own classes read it: the view of a read-only JournalDb, and from the
 * journal the lines, the mailboxes and agents that have some, and the tasks it archived (as they were
 * when archived: the archive files hold them the same way).
 */
function digestJsonState(view: StateView, lines: string[], archived: Map<string, unknown>): StateDigest {
  const objects = emptyObjects();
  const mailboxes = new Set<string>();
  const agents = new Set<string>();
  // The configuration is the last one journaled (snapshot files do not hold it).
  let config: unknown = null;
  for (const line of lines) {
    const entry = JSON.parse(line) as {
      mail?: { to: string }[];
      checkpoints?: { agent: string }[];
      config?: unknown;
    };
    for (const m of entry.mail ?? []) mailboxes.add(m.to);
    for (const c of entry.checkpoints ?? []) agents.add(c.agent);
    if (entry.config !== undefined) config = entry.config;
  }
  for (const task of view.tasks()) objects.tasks.set(task.id, digest(task));
  for (const [id, task] of archived) objects.archive.set(id, digest(task));
  for (const alert of view.alerts()) objects.alerts.set(alert.id, digest(alert));
  for (const agent of view.agentStates()) objects.agents.set(agent.id, digest(agent));
  for (const box of mailboxes) for (const m of view.mailbox(box)) objects.mail.set(m.id, digest(m));
  for (const agent of agents)
    for (const c of view.checkpoints(agent)) objects.checkpoints.set(c.id, digest(c));
  const journal = new Map(lines.map((line, i) => [i + 1, createHash('sha256').update(line).digest('hex')]));
  return { objects, journal, config: digest(config), counters: digest(view.counters) };
}

type Query = (sql: string, values?: unknown[]) => Promise<pg.QueryResult>;

const SCHEMAS = {
  tasks: Task,
  archive: Task,
  alerts: Alert,
  agents: AgentState,
  mail: Mail,
  checkpoints: Checkpoint,
};

/** The state the tables of a schema hold, read in the caller's transaction, each object validated. */
async function digestPgState(query: Query, location: PgLocation): Promise<StateDigest> {
  const objects = emptyObjects();
  for (const kind of KINDS) {
    const { rows } = await query(`SELECT id, doc::text AS doc FROM ${kind} ORDER BY id`);
    for (const row of rows as { id: string; doc: string }[]) {
      const parsed = SCHEMAS[kind].safeParse(JSON.parse(row.doc));
      if (!parsed.success)
        throw new DreamError(
          'E_CORRUPT',
          `row ${row.id} of ${location.schema}.${kind} is not a valid object`,
        );
      objects[kind].set(row.id, digest(parsed.data));
    }
  }
  const journal = new Map<number, string>();
  let last: string | null = null;
  for (let after = 0; ; ) {
    const { rows } = await query(
      `SELECT seq, entry::text AS line FROM journal WHERE seq > $1 ORDER BY seq LIMIT ${EXPORT_PAGE}`,
      [after],
    );
    for (const row of rows as { seq: string; line: string }[]) {
      journal.set(Number(row.seq), createHash('sha256').update(row.line).digest('hex'));
      after = Number(row.seq);
      last = row.line;
    }
    if (rows.length < EXPORT_PAGE) break;
  }
  const decoded = last === null ? null : decodeLine(last);
  if (decoded && 'error' in decoded)
    throw new DreamError('E_CORRUPT', `the last journal entry in schema ${location.schema} ${decoded.error}`);
  const counters = new StateIndex();
  if (decoded) counters.mergeCounters(decoded.entry.counters);
  const { rows } = await query('SELECT config::text AS config FROM settings WHERE id = 1');
  const config = rows[0]?.config ? JSON.parse(rows[0].config as string) : null;
  return { objects, journal, config: digest(config), counters: digest(counters.counters) };
}

/** The JSON store at `paths`, opened read-only: its view, its journal's lines and the tasks it archived. */
async function readJsonState(
  paths: WorkspacePaths,
): Promise<{ digest: StateDigest; lines: string[]; notices: readonly RecoveryNotice[] }> {
  if (!fs.existsSync(paths.journalDir))
    throw new DreamError('E_NO_WORKSPACE', `${paths.home} holds no JSON workspace (it has no journal/)`);
  const db = await JournalDb.open(paths, { readOnly: true });
  try {
    const lines: string[] = [];
    const damage: string[] = [];
    const lastTask = new Map<string, unknown>();
    const archived = new Map<string, unknown>();
    forEachEntry(paths, {
      onEntry: (entry, line) => {
        if (entry.seq !== lines.length + 1)
          damage.push(`entry ${entry.seq} follows entry ${lines.length}: the journal has a gap`);
        lines.push(line);
        for (const { task } of entry.tasks ?? []) lastTask.set(task.id, task);
        for (const id of entry.archived ?? []) {
          if (lastTask.has(id)) archived.set(id, lastTask.get(id));
          lastTask.delete(id);
        }
      },
      onDamage: (d) => damage.push(`segment ${d.segment} at ${d.offset}: ${d.reason}`),
    });
    if (damage.length > 0)
      throw new DreamError(
        'E_CORRUPT',
        `the journal of ${paths.home} is damaged (${damage.slice(0, 3).join('; ')}): run \`dreamos doctor\` there first`,
      );
    db.refresh();
    if (db.view.seq !== lines.length)
      throw new DreamError(
        'E_CONFLICT',
        `${paths.home} changed while it was read (journal at ${lines.length}, state at ${db.view.seq}): stop the processes using it, then import again`,
      );
    return { digest: digestJsonState(db.view, lines, archived), lines, notices: [...db.notices] };
  } finally {
    await db.close();
  }
}

export interface ImportHooks {
  /** Tests only: called after the copy, before it is compared, in the import's transaction. */
  beforeVerify?: (query: Query) => Promise<void>;
}

/**
 * `dreamos db import`: the JSON workspace at `source` copied into the schema at `location`, which is
 * migrated first and must hold no board yet. The journal's lines are recorded as PostgreSQL records
 * every change (record_entries), which fills the tables; then both states are compared, and the copy
 * is committed only when every object, entry, the configuration and the counters match.
 */
export async function importJson(
  source: WorkspacePaths,
  location: PgLocation,
  hooks: ImportHooks = {},
): Promise<TransferResult> {
  const json = await readJsonState(source);
  await migrate(location);
  const client = await connect(location, { purpose: 'import', statementTimeoutMs: TRANSFER_STATEMENT_MS });
  const query: Query = (sql, values) => client.query(sql, values);
  try {
    await client.query('BEGIN');
    await client.query(writeLockSql(location.schema));
    const held = await client.query<{ n: string }>(
      'SELECT (SELECT count(*) FROM journal) + (SELECT count(*) FROM tasks) + (SELECT count(*) FROM archive) AS n',
    );
    if (Number(held.rows[0]?.n) > 0)
      throw new DreamError(
        'E_CONFLICT',
        `${shownUrl(location.url)} (schema ${location.schema}) holds a board already: import into an empty schema`,
      );
    const txn = randomUUID();
    for (let i = 0; i < json.lines.length; i += RECORD_BATCH)
      await client.query('SELECT record_entries($1::text[], $2, $3, $4)', [
        json.lines.slice(i, i + RECORD_BATCH),
        txn,
        KEEP_ACKED_MAIL,
        KEEP_CHECKPOINTS,
      ]);
    await hooks.beforeVerify?.(query);
    const copied = await digestPgState(query, location);
    const found = differences(json.digest, copied, [source.home, `schema ${location.schema}`]);
    if (found.length > 0)
      throw new DreamError(
        'E_CORRUPT',
        `the copy in schema ${location.schema} does not match ${source.home}, so nothing was imported: ${found.join('; ')}`,
      );
    await client.query('COMMIT');
    return { location, counts: countsOf(copied) };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw pgError(error, location);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const countsOf = (d: StateDigest): TransferResult['counts'] => ({
  ...(Object.fromEntries(KINDS.map((kind) => [kind, d.objects[kind].size])) as Record<Kind, number>),
  journal: d.journal.size,
});

/**
 * `dreamos db export`: the state at `location` written as a JSON store at `target` (a `.dreamos`
 * folder that must not exist yet; its config.json is the caller's to write, last). The journal is
 * written line for line into segments, then the JSON store opens it and writes its snapshot files
 * and archive from it, as after any full replay; the two states are compared before this returns.
 *
 * A journal that no longer starts at entry 1 (retention removed the oldest entries) is refused: a
 * JSON workspace is its journal, and one that starts later could not be opened. Archived tasks that
 * archive retention deleted are not in the export; `pruned` names them.
 */
export async function exportJson(location: PgLocation, target: WorkspacePaths): Promise<TransferResult> {
  if (fs.existsSync(target.home))
    throw new DreamError('E_CONFLICT', `${target.home} exists already: export into a new folder`);
  const client = await connect(location, { purpose: 'export', statementTimeoutMs: TRANSFER_STATEMENT_MS });
  const query: Query = (sql, values) => client.query(sql, values);
  let made = false;
  try {
    checkVersion(await schemaVersion((sql) => client.query(sql)), location);
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const head = await client.query<{ floor: string; first: string | null }>(
      'SELECT (SELECT journal_floor FROM settings WHERE id = 1) AS floor, (SELECT min(seq) FROM journal) AS first',
    );
    const floor = Number(head.rows[0]?.floor ?? 0);
    const first = head.rows[0]?.first === null ? null : Number(head.rows[0]?.first);
    if (first === null)
      throw new DreamError('E_NOT_FOUND', `schema ${location.schema} holds no journal: nothing to export`);
    if (floor > 0 || first !== 1)
      throw new DreamError(
        'E_CONFLICT',
        `the journal in schema ${location.schema} starts at entry ${first}: the entries before it were removed by retention, and a JSON workspace cannot start without them; export is possible only from a journal kept whole`,
      );
    const stored = await digestPgState(query, location);
    privateDir(target.home);
    made = true;
    for (const dir of jsonStoreFolders(target)) privateDir(dir);
    await writeSegments(query, target);
    await writeArchive(query, target);
    const kinds = await snapshotKinds(query);
    await client.query('COMMIT');
    // The JSON store replays the journal whole and writes every snapshot file from it, as a new
    // workspace's first flush does (opened as usual, the missing files would be reported as damage).
    const db = await JournalDb.open(target, { fromJournalOnly: true });
    for (const kind of kinds) db.markDirty(kind);
    await db.flush();
    await db.close();
    const written = await readJsonState(target);
    if (written.notices.length > 0)
      throw new DreamError(
        'E_CORRUPT',
        `the export at ${target.home} does not open cleanly: ${written.notices.map((n) => n.message).join('; ')}`,
      );
    // Archive retention deletes archived tasks whose archiving the journal still holds: the export
    // holds what the archive holds, and the tasks it lacks are named, not counted as differences.
    // Only tasks the journal archived can be missing this way; any other difference still refuses.
    const pruned = [...written.digest.objects.archive.keys()]
      .filter((id) => !stored.objects.archive.has(id))
      .sort();
    for (const id of pruned) written.digest.objects.archive.delete(id);
    const found = differences(stored, written.digest, [`schema ${location.schema}`, target.home]);
    if (found.length > 0)
      throw new DreamError(
        'E_CORRUPT',
        `the export at ${target.home} does not match schema ${location.schema}: ${found.join('; ')}`,
      );
    return { location, counts: countsOf(stored), pruned };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    // Half an export is no workspace: the folder it made goes (it had no config.json yet).
    if (made) fs.rmSync(target.home, { recursive: true, force: true });
    throw pgError(error, location);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The journal's lines into numbered segments, a new one once the current passes SEGMENT_BYTES. */
async function writeSegments(query: Query, target: WorkspacePaths): Promise<void> {
  let segment = 1;
  let fd = fs.openSync(target.journalSegment(segment), 'wx', 0o600);
  let size = 0;
  try {
    for (let after = 0; ; ) {
      const { rows } = await query(
        `SELECT seq, entry::text AS line FROM journal WHERE seq > $1 ORDER BY seq LIMIT ${EXPORT_PAGE}`,
        [after],
      );
      for (const row of rows as { seq: string; line: string }[]) {
        if (size >= SEGMENT_BYTES) {
          fs.fsyncSync(fd);
          fs.closeSync(fd);
          segment += 1;
          fd = fs.openSync(target.journalSegment(segment), 'wx', 0o600);
          size = 0;
        }
        const data = Buffer.from(`${row.line}\n`, 'utf8');
        for (let done = 0; done < data.length; ) done += fs.writeSync(fd, data, done);
        size += data.length;
        after = Number(row.seq);
      }
      if (rows.length < EXPORT_PAGE) break;
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fsyncDir(target.journalDir);
}

/**
 * Archived tasks, as the JSON store keeps them: one file per archiving entry, a task per line, and
 * beside it the dedupe keys of its keyed tasks, those retention deleted included. The store writes
 * them only as it archives, never on a replay, so an export writes them itself.
 */
async function writeArchive(query: Query, target: WorkspacePaths): Promise<void> {
  const { rows } = await query(
    'SELECT archived_seq, doc::text AS doc FROM archive ORDER BY archived_seq, id',
  );
  const bySeq = new Map<number, Task[]>();
  for (const row of rows as { archived_seq: string; doc: string }[])
    listAt(bySeq, Number(row.archived_seq)).push(Task.parse(JSON.parse(row.doc)));
  for (const [seq, tasks] of bySeq)
    writeFileDurable(target.archiveFile(seq), `${tasks.map((t) => JSON.stringify(t)).join('\n')}\n`);
  // The keys of tasks that retention deleted stay taken in the JSON store too: the archive's tasks
  // are not needed after their files are written, so their lists take the kept keys as they are.
  const keys: Map<number, Pick<Task, 'id' | 'dedupeKey'>[]> = bySeq;
  const { rows: kept } = await query(
    'SELECT key, id, archived_seq FROM dedupe_keys ORDER BY archived_seq, id',
  );
  for (const row of kept as { key: string; id: string; archived_seq: string }[])
    listAt(keys, Number(row.archived_seq)).push({ id: row.id, dedupeKey: row.key });
  for (const [seq, keyed] of keys) writeArchiveKeys(target, seq, keyed);
}

/** The list `map` holds at `seq`, made empty there first if it has none. */
function listAt<T>(map: Map<number, T[]>, seq: number): T[] {
  const list = map.get(seq) ?? [];
  if (list.length === 0) map.set(seq, list);
  return list;
}

/** Every snapshot file the exported state has: the boards, alerts, agents, each mailbox and checkpoint list. */
async function snapshotKinds(query: Query): Promise<SnapshotKind[]> {
  const { rows } = await query(
    `SELECT 'mailbox:' || mailbox AS kind FROM mail UNION SELECT 'checkpoints:' || agent FROM checkpoints`,
  );
  return [...REQUIRED_KINDS, ...(rows as { kind: SnapshotKind }[]).map((r) => r.kind)];
}
