/**
 * doctor's checks of a PostgreSQL schema (docs/postgres.md, "Doctor and retention"): its version,
 * the journal's numbers (contiguous from `settings.journal_floor` + 1), and every row of the tables
 * against its own columns, its schema and the journal. With repair, each row that can be rebuilt is
 * rebuilt as the journal last recorded its object (or, when that entry is gone, as its own document
 * says, when that is valid), in one new journal entry recorded like any change: under the write
 * lock, so every process's mirror takes the repair from the journal as it takes any change.
 *
 * The checks read without the write lock; a repair takes it and rebuilds only rows that are still
 * as they were read (a row written meanwhile was written by a change, which is a repair in itself).
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type pg from 'pg';
import type { z } from 'zod';
import type { HealthProblem, HealthReport } from '../backend.js';
import { type Change, entryBody } from '../change.js';
import { decodeLine, sealEntry } from '../journal-reader.js';
import { AgentState, Alert, Checkpoint, type JournalEntry, Mail, Task } from '../schemas.js';
import { KEEP_ACKED_MAIL, KEEP_CHECKPOINTS } from '../state-index.js';
import { type PgLocation, pgError } from './connection.js';
import { SCHEMA_VERSION } from './migrations.js';
import { schemaVersion, writeLockSql } from './schema.js';
import type { Session } from './session.js';

/** How many journal entries one read brings while the journal is scanned. */
const SCAN_PAGE = 2000;

type Kind = 'tasks' | 'alerts' | 'agents' | 'mail' | 'checkpoints';

interface TableSpec {
  kind: Kind;
  schema: z.ZodType;
  /** Columns copied from the document, as SQL and as the document gives them. */
  columns: { name: string; of: (doc: Record<string, unknown>) => unknown }[];
  /** Rows of this table are removed by retention of their own: a missing row is not a problem. */
  pruned: boolean;
}

const TABLES: readonly TableSpec[] = [
  { kind: 'tasks', schema: Task, columns: [{ name: 'status', of: (d) => d.status }], pruned: false },
  { kind: 'alerts', schema: Alert, columns: [], pruned: false },
  { kind: 'agents', schema: AgentState, columns: [], pruned: false },
  {
    kind: 'mail',
    schema: Mail,
    columns: [
      { name: 'mailbox', of: (d) => d.to },
      { name: 'acked', of: (d) => d.ackedAt !== null && d.ackedAt !== undefined },
    ],
    pruned: true,
  },
  { kind: 'checkpoints', schema: Checkpoint, columns: [{ name: 'agent', of: (d) => d.agent }], pruned: true },
];

/** One object as the journal last recorded it. */
interface Recorded {
  seq: number;
  object: unknown;
}

/** What the journal says of every object whose changes it still holds. */
interface JournalFacts {
  floor: number;
  /** The first and last entry numbers, 0 when the journal is empty. */
  first: number;
  last: number;
  count: number;
  /** The counters of the last entry. */
  counters: JournalEntry['counters'] | null;
  /** For each object: the entry that last carried it, and that entry's object. */
  lastOf: Record<Kind, Map<string, Recorded>>;
  /** Tasks and the entry that moved them to the archive. */
  archivedAt: Map<string, number>;
  /** For each object, the entries that carried it (by id): row.rev must be one of these, with this object. */
  carried: Record<Kind, Map<string, Map<number, unknown>>>;
  unreadable: string[];
  /** The numbers of the entries the journal holds (a row whose entry is in a gap is not judged by it). */
  present: Set<number>;
}

/** A row to rebuild, and how it looked when it was read (it is rebuilt only if it still does). */
interface Rebuild {
  kind: Kind;
  id: string;
  seen: string | null;
  /** The object to record; for a task that the journal archived, null with `archive`. */
  object: unknown;
  archive: boolean;
  problem: HealthProblem;
}

type Query = (sql: string, values?: unknown[]) => Promise<pg.QueryResult>;

const kinds = <T>(make: () => T): Record<Kind, T> => ({
  tasks: make(),
  alerts: make(),
  agents: make(),
  mail: make(),
  checkpoints: make(),
});

const objectsOf = (entry: JournalEntry): Record<Kind, { id: string }[]> => ({
  tasks: (entry.tasks ?? []).map((p) => p.task),
  alerts: entry.alerts ?? [],
  agents: entry.agents ?? [],
  mail: entry.mail ?? [],
  checkpoints: entry.checkpoints ?? [],
});

/** Read the whole journal, a page at a time, keeping what each object last was. */
async function scanJournal(query: Query): Promise<JournalFacts> {
  const head = await query(
    'SELECT (SELECT journal_floor FROM settings WHERE id = 1) AS floor, min(seq) AS first, max(seq) AS last, count(*) AS count FROM journal',
  );
  const row = head.rows[0] as {
    floor: string | null;
    first: string | null;
    last: string | null;
    count: string;
  };
  const facts: JournalFacts = {
    floor: Number(row.floor ?? 0),
    first: Number(row.first ?? 0),
    last: Number(row.last ?? 0),
    count: Number(row.count),
    counters: null,
    lastOf: kinds(() => new Map()),
    archivedAt: new Map(),
    carried: kinds(() => new Map()),
    unreadable: [],
    present: new Set(),
  };
  let after = -1;
  for (;;) {
    const { rows } = await query(
      `SELECT seq, entry::text AS line FROM journal WHERE seq > $1 ORDER BY seq LIMIT ${SCAN_PAGE}`,
      [after],
    );
    for (const { seq, line } of rows as { seq: string; line: string }[]) {
      after = Number(seq);
      facts.present.add(after);
      const decoded = decodeLine(line);
      if ('error' in decoded) {
        facts.unreadable.push(`entry ${after} ${decoded.error}`);
        continue;
      }
      const entry = decoded.entry;
      for (const [kind, objects] of Object.entries(objectsOf(entry)) as [Kind, { id: string }[]][]) {
        for (const object of objects) {
          facts.lastOf[kind].set(object.id, { seq: entry.seq, object });
          const carried = facts.carried[kind].get(object.id) ?? new Map<number, unknown>();
          carried.set(entry.seq, object);
          facts.carried[kind].set(object.id, carried);
        }
      }
      for (const id of entry.archived ?? []) facts.archivedAt.set(id, entry.seq);
      if (entry.seq === facts.last) facts.counters = entry.counters;
    }
    if (rows.length < SCAN_PAGE) break;
  }
  return facts;
}

/** The journal's numbers: contiguous from the floor + 1 to the last. */
function journalGaps(facts: JournalFacts, gaps: { from: number; to: number }[]): HealthProblem[] {
  const problems: HealthProblem[] = [];
  if (facts.count > 0 && facts.first > facts.floor + 1)
    problems.push({
      code: 'journal-gap',
      message: `the journal starts at entry ${facts.first}, but its floor says entries after ${facts.floor} are kept: entries ${facts.floor + 1}-${facts.first - 1} are missing`,
    });
  for (const gap of gaps)
    problems.push({
      code: 'journal-gap',
      message: `journal entries ${gap.from}-${gap.to} are missing: the changes they made cannot be read again (the tables still hold the state)`,
    });
  for (const reason of facts.unreadable)
    problems.push({ code: 'journal-damage', message: `journal ${reason}` });
  return problems;
}

/** The rows of one table that disagree with themselves or with the journal, and what to rebuild them to. */
async function checkTable(query: Query, spec: TableSpec, facts: JournalFacts): Promise<Rebuild[]> {
  const columns = spec.columns.map((c) => `${c.name}, `).join('');
  const { rows } = await query(`SELECT id, ${columns}rev, doc::text AS doc FROM ${spec.kind} ORDER BY id`);
  const found: Rebuild[] = [];
  const seenIds = new Set<string>();
  for (const row of rows as Record<string, unknown>[]) {
    const id = row.id as string;
    seenIds.add(id);
    const rev = Number(row.rev);
    const raw = JSON.parse(row.doc as string) as Record<string, unknown>;
    const parsed = spec.schema.safeParse(raw);
    const recorded = facts.lastOf[spec.kind].get(id);
    const where = `row ${id} of ${spec.kind}`;
    const reasons: { code: HealthProblem['code']; why: string }[] = [];
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      reasons.push({
        code: 'invalid-row',
        why: `is not a valid object (${issue?.path.join('.')}: ${issue?.message})`,
      });
    } else {
      if (raw.id !== id) reasons.push({ code: 'orphan-row', why: `holds the object ${String(raw.id)}` });
      if (raw.rev !== rev)
        reasons.push({ code: 'orphan-row', why: `has rev ${rev} but its object says ${String(raw.rev)}` });
      for (const column of spec.columns)
        if (column.of(raw) !== row[column.name])
          reasons.push({
            code: 'orphan-row',
            why: `has ${column.name} ${String(row[column.name])} but its object says ${String(column.of(raw))}`,
          });
    }
    if (rev > facts.last)
      reasons.push({
        code: 'orphan-row',
        why: `has rev ${rev}, after the journal's last entry ${facts.last}`,
      });
    else if (facts.present.has(rev) && parsed.success) {
      const carried = facts.carried[spec.kind].get(id)?.get(rev);
      if (carried === undefined)
        reasons.push({
          code: 'journal-mismatch',
          why: `has rev ${rev}, but journal entry ${rev} does not carry it`,
        });
      else if (!isDeepStrictEqual(carried, parsed.data))
        reasons.push({
          code: 'journal-mismatch',
          why: `differs from the object journal entry ${rev} recorded`,
        });
    }
    if (recorded && recorded.seq > rev)
      reasons.push({
        code: 'journal-mismatch',
        why: `has rev ${rev}, but journal entry ${recorded.seq} changed it since`,
      });
    const archivedAt = spec.kind === 'tasks' ? facts.archivedAt.get(id) : undefined;
    const archive = archivedAt !== undefined && archivedAt > (recorded?.seq ?? 0);
    if (archive)
      reasons.push({
        code: 'orphan-row',
        why: `is still on the board, but journal entry ${archivedAt} archived it`,
      });
    if (reasons.length === 0) continue;
    // The object as the journal last recorded it; else the row's own, when it is valid.
    const object = recorded?.object ?? (parsed.success ? parsed.data : null);
    found.push({
      kind: spec.kind,
      id,
      seen: row.doc as string,
      object: archive ? null : object,
      archive,
      problem: { code: reasons[0]!.code, message: `${where} ${reasons.map((r) => r.why).join('; ')}` },
    });
  }
  if (!spec.pruned) {
    for (const [id, recorded] of facts.lastOf[spec.kind]) {
      if (seenIds.has(id)) continue;
      if (spec.kind === 'tasks' && (facts.archivedAt.get(id) ?? 0) > recorded.seq) continue;
      found.push({
        kind: spec.kind,
        id,
        seen: null,
        object: recorded.object,
        archive: false,
        problem: {
          code: 'journal-mismatch',
          message: `${spec.kind} has no row ${id}, which journal entry ${recorded.seq} recorded`,
        },
      });
    }
  }
  return found;
}

/** Rows that are not valid objects: these stop the state from opening, so doctor looks for them first. */
export async function invalidRows(
  session: Session,
  location: PgLocation,
  repair: boolean,
): Promise<HealthReport> {
  return run(session, location, repair, true);
}

/** Every check of the schema, and with `repair` the rebuild of what the journal can rebuild. */
export async function checkSchema(
  session: Session,
  location: PgLocation,
  repair: boolean,
): Promise<HealthReport> {
  return run(session, location, repair, false);
}

async function run(
  session: Session,
  location: PgLocation,
  repair: boolean,
  onlyInvalid: boolean,
): Promise<HealthReport> {
  const report: HealthReport = { problems: [], repaired: [], reopen: false };
  // Everything is read from one snapshot: changes committed meanwhile are neither half seen nor blamed.
  const read = await session.use(async (client) => {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      const query: Query = (sql, values) => client.query(sql, values);
      const version = await schemaVersion((sql) => client.query(sql));
      if (version !== SCHEMA_VERSION) {
        await client.query('COMMIT');
        return { version, facts: null, rebuilds: [], gaps: [] };
      }
      const facts = await scanJournal(query);
      const rebuilds: Rebuild[] = [];
      for (const spec of TABLES) rebuilds.push(...(await checkTable(query, spec, facts)));
      const { rows } = await query(
        'SELECT seq + 1 AS from, next - 1 AS to FROM (SELECT seq, lead(seq) OVER (ORDER BY seq) AS next FROM journal) s WHERE next > seq + 1 ORDER BY seq LIMIT 20',
      );
      await client.query('COMMIT');
      const gaps = (rows as { from: string; to: string }[]).map((g) => ({
        from: Number(g.from),
        to: Number(g.to),
      }));
      return { version, facts, rebuilds, gaps };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  });
  const { facts, gaps } = read;
  if (!facts) {
    report.problems.push({
      code: 'schema',
      message: `schema ${location.schema} is at version ${read.version}, this Dream.OS reads version ${SCHEMA_VERSION}: run \`dreamos db migrate\``,
    });
    return report;
  }
  let rebuilds = read.rebuilds;
  if (onlyInvalid) rebuilds = rebuilds.filter((r) => r.problem.code === 'invalid-row');
  else {
    report.problems.push(...journalGaps(facts, gaps));
    if (repair && facts.count > 0 && facts.first > facts.floor + 1) {
      const floor = await moveFloorToStart(session, location);
      const problem = report.problems.find((p) => p.code === 'journal-gap')!;
      problem.repaired = true;
      report.repaired.push(`the journal's floor moved to entry ${floor}, where the journal starts`);
    }
  }
  for (const rebuild of rebuilds) {
    report.problems.push(rebuild.problem);
    if (!rebuild.archive && rebuild.object === null)
      rebuild.problem.message += ': it cannot be rebuilt (the journal no longer holds its last change)';
  }
  const rebuildable = rebuilds.filter((r) => r.archive || r.object !== null);
  if (repair && rebuildable.length > 0) {
    const done = await recordRepair(session, location, rebuildable);
    for (const rebuild of done) rebuild.problem.repaired = true;
    if (done.length > 0)
      report.repaired.push(
        `rebuilt ${done.length} row(s) from the journal in one journal entry: ${done.map((r) => `${r.kind} ${r.id}`).join(', ')}`,
      );
  }
  return report;
}

/** A journal whose start is missing (nothing before it can be read again) starts at its floor + 1. */
async function moveFloorToStart(session: Session, location: PgLocation): Promise<number> {
  return session.use(async (client) => {
    await client.query(`BEGIN; ${writeLockSql(location.schema)}`);
    try {
      const { rows } = await client.query(
        'UPDATE settings SET journal_floor = greatest(journal_floor, (SELECT min(seq) - 1 FROM journal)) WHERE id = 1 RETURNING journal_floor AS floor',
      );
      await client.query('COMMIT');
      return Number(rows[0]!.floor);
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw pgError(error, location);
    }
  });
}

/**
 * Record the rebuilt objects as one journal entry, under the write lock, after the last entry: the
 * tables are written by the same function every change uses. Returns the rebuilds recorded: a row
 * that changed since it was read is left to the change that wrote it.
 */
async function recordRepair(session: Session, location: PgLocation, rebuilds: Rebuild[]): Promise<Rebuild[]> {
  return session.use(async (client) => {
    await client.query(`BEGIN; ${writeLockSql(location.schema)}`);
    try {
      const current: Rebuild[] = [];
      for (const rebuild of rebuilds) {
        const { rows } = await client.query(`SELECT doc::text AS doc FROM ${rebuild.kind} WHERE id = $1`, [
          rebuild.id,
        ]);
        if (((rows[0]?.doc as string | undefined) ?? null) === rebuild.seen) current.push(rebuild);
      }
      const { rows } = await client.query(
        'SELECT clock_timestamp() AS now, (SELECT entry::text FROM journal ORDER BY seq DESC LIMIT 1) AS last',
      );
      const lastLine = rows[0]!.last as string | null;
      const decoded = lastLine ? decodeLine(lastLine) : null;
      if (current.length === 0 || !decoded || 'error' in decoded) {
        await client.query('ROLLBACK');
        return [];
      }
      const change: Change = { op: 'repair', by: 'doctor' };
      const put = <K extends Kind>(kind: K) => {
        const objects = current
          .filter((r) => r.kind === kind && r.object !== null)
          .map((r) => structuredClone(r.object));
        return objects.length > 0 ? objects : undefined;
      };
      change.tasks = put('tasks') as Task[] | undefined;
      change.alerts = put('alerts') as Alert[] | undefined;
      change.agents = put('agents') as AgentState[] | undefined;
      change.mail = put('mail') as Mail[] | undefined;
      change.checkpoints = put('checkpoints') as Checkpoint[] | undefined;
      const archived = current.filter((r) => r.archive).map((r) => r.id);
      if (archived.length > 0) change.archived = archived;
      const seq = decoded.entry.seq + 1;
      const { line } = sealEntry(entryBody(change, seq, rows[0]!.now as Date, decoded.entry.counters), seq);
      await client.query('SELECT record_entries($1::text[], $2, $3, $4)', [
        [line],
        randomUUID(),
        KEEP_ACKED_MAIL,
        KEEP_CHECKPOINTS,
      ]);
      await client.query('COMMIT');
      return current;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw pgError(error, location);
    }
  });
}
