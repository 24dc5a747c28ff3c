/**
 * Retention of a PostgreSQL workspace (state/pg/retention.ts): old journal entries and archived
 * tasks are deleted in batches, the floor moves with them, the board is untouched, a process whose
 * mirror fell behind the floor converges on its next look or change, one process trims at a time,
 * and doctor and `dreamos log` are happy with the journal that is left. Build first: the CLI runs
 * dist/.
 */
import pg from 'pg';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { doctor } from '../../../src/doctor.js';
import { initWorkspace, openWorkspace, type Workspace } from '../../../src/workspace.js';
import type { PgBackend } from '../../../state/pg/index.js';
import { type RetentionBounds, retain } from '../../../state/pg/retention.js';
import { Session } from '../../../state/pg/session.js';
import type { JournalEntry } from '../../../state/schemas.js';
import { boardProblems } from '../../helpers/backends.js';
import { describePg, type FreshSchema, freshSchema, TEST_PG_URL } from '../../helpers/pg.js';
import { cli, tempDir, writePolicies } from '../../helpers/workspace.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Keep the last 30 entries and nothing by age; 25 rows a batch. */
const SMALL: RetentionBounds = {
  keepEntries: 30,
  keepDays: 0,
  archiveKeepDays: 0,
  batch: 25,
  pauseMs: 1,
  maxBatches: 100,
  everyMs: 0,
};

describePg('retention on a PostgreSQL workspace', () => {
  let fresh: FreshSchema;
  let temp: { dir: string; cleanup: () => void };
  let home: string;
  let sql: pg.Client;
  const open: Workspace[] = [];
  const sessions: Session[] = [];

  beforeEach(async () => {
    fresh = await freshSchema('dreamos_retain');
    temp = tempDir();
    const ws = await initWorkspace({
      dir: temp.dir,
      backend: 'postgres',
      config: { state: { url: TEST_PG_URL, schema: fresh.schema } },
    });
    home = ws.home;
    await ws.close();
    sql = new pg.Client({ connectionString: fresh.url });
    await sql.connect();
  });

  afterEach(async () => {
    for (const ws of open.splice(0)) await ws.close();
    for (const session of sessions.splice(0)) await session.close();
    await sql.end();
    await fresh.drop();
    temp.cleanup();
  });

  const openWs = async () => {
    const ws = await openWorkspace({ home, share: false });
    open.push(ws);
    return ws;
  };
  const session = () => {
    const made = new Session({ url: TEST_PG_URL, schema: fresh.schema }, 'test');
    sessions.push(made);
    return made;
  };
  const journal = async () => {
    const { rows } = await sql.query(
      'SELECT (SELECT journal_floor FROM settings) AS floor, min(seq) AS first, max(seq) AS last, count(*) AS count FROM journal',
    );
    const r = rows[0] as Record<string, string>;
    return { floor: Number(r.floor), first: Number(r.first), last: Number(r.last), count: Number(r.count) };
  };
  const board = (ws: Workspace) => [...ws.view.tasks()].map((t) => `${t.id} ${t.status} ${t.title}`).sort();

  it('deletes old entries in batches from upkeep, moves the floor, and leaves the board as it was', async () => {
    const ws = await openWs();
    for (let i = 0; i < 100; i++) await ws.addTask({ title: `task ${i}` });
    const before = await journal();
    expect(before).toMatchObject({ floor: 0, first: 1, count: before.last });
    const backend = ws.db as PgBackend;
    // Two batches a run: each run moves the floor by at most two batches.
    backend.retention = { ...SMALL, maxBatches: 2 };
    await ws.db.upkeep();
    const once = await journal();
    expect(once).toMatchObject({ floor: 50, first: 51, last: before.last, count: before.last - 50 });
    await ws.db.upkeep();
    const twice = await journal();
    expect(twice).toMatchObject({ floor: before.last - 30, first: before.last - 29, count: 30 });
    // Nothing is left to trim: the next run deletes nothing.
    await ws.db.upkeep();
    expect(await journal()).toEqual(twice);

    const again = await openWs();
    expect(board(again)).toEqual(board(ws));
    expect(board(again)).toHaveLength(100);
    expect(boardProblems(again.view)).toEqual([]);
    expect(again.view.seq).toBe(before.last);
    const report = await doctor({ home });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);

    // The history starts after the floor.
    const log = cli(['log', '--json'], { cwd: temp.dir });
    expect(log.code).toBe(0);
    const entries = log.json<JournalEntry[]>();
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 30 }, (_, i) => before.last - 29 + i));
  });

  it('brings a process whose mirror is behind the floor up to date, on its next look and its next change', async () => {
    const writer = await openWs();
    const looker = await openWs();
    const changer = await openWs();
    for (let i = 0; i < 80; i++) await writer.addTask({ title: `task ${i}` });
    const result = await retain(session(), { url: TEST_PG_URL, schema: fresh.schema }, SMALL);
    const after = await journal();
    expect(result).toMatchObject({ floor: after.floor, busy: false });
    expect(result.batches).toBeGreaterThan(1);
    expect(looker.view.seq).toBeLessThan(after.floor);

    // A look: its next read of the journal finds the floor past it, and it reloads from the tables.
    for (let i = 0; i < 100 && looker.view.seq !== after.last; i++) {
      looker.refresh();
      await sleep(50);
    }
    looker.refresh();
    expect(looker.view.seq).toBe(after.last);
    expect(board(looker)).toEqual(board(writer));

    // A change, without a look first: its transaction reloads, then plans against the whole board.
    const added = await changer.addTask({ title: 'after retention' });
    expect(added.rev).toBe(after.last + 1);
    expect(board(changer)).toHaveLength(81);
    expect(boardProblems(changer.view)).toEqual([]);

    // And the others take that change from the journal as usual.
    for (let i = 0; i < 100 && writer.view.seq !== added.rev; i++) {
      writer.refresh();
      await sleep(50);
    }
    expect(board(writer)).toEqual(board(changer));
    expect((await doctor({ home })).problems).toEqual([]);
  });

  it('trims while the same process makes changes, without mixing their transactions', async () => {
    const ws = await openWs();
    for (let i = 0; i < 60; i++) await ws.addTask({ title: `task ${i}` });
    (ws.db as PgBackend).retention = { ...SMALL, batch: 5 };
    const changes = Array.from({ length: 40 }, (_, i) => ws.addTask({ title: `meanwhile ${i}` }));
    await Promise.all([ws.db.upkeep(), ...changes]);
    const after = await journal();
    expect(after.floor).toBeGreaterThan(0);
    expect(after).toMatchObject({ first: after.floor + 1, count: after.last - after.floor });
    const again = await openWs();
    expect(board(again)).toHaveLength(100);
    expect(board(again)).toEqual(board(ws));
    expect((await doctor({ home })).problems).toEqual([]);
  });

  it('keeps every entry of the last keepDays days, however many', async () => {
    const ws = await openWs();
    for (let i = 0; i < 40; i++) await ws.addTask({ title: `task ${i}` });
    const before = await journal();
    const result = await retain(
      session(),
      { url: TEST_PG_URL, schema: fresh.schema },
      {
        ...SMALL,
        keepEntries: 1,
        keepDays: 1,
      },
    );
    expect(result.entries).toBe(0);
    expect(await journal()).toEqual(before);
  });

  it('deletes archived tasks older than archiveKeepDays, in batches', async () => {
    writePolicies(home, { keepCompleted: 1 });
    const ws = await openWs();
    for (let i = 0; i < 30; i++) await ws.cancel((await ws.addTask({ title: `task ${i}` })).id, 'not needed');
    const archived = Number((await sql.query('SELECT count(*) AS n FROM archive')).rows[0].n);
    expect(archived).toBeGreaterThan(10);
    const where = { url: TEST_PG_URL, schema: fresh.schema };
    const young = await retain(session(), where, { ...SMALL, keepEntries: 1_000, archiveKeepDays: 1 });
    expect(young.archived).toBe(0);
    const old = await retain(session(), where, { ...SMALL, keepEntries: 1_000, batch: 5 });
    expect(old.archived).toBe(archived);
    expect(old.batches).toBeGreaterThanOrEqual(Math.ceil(archived / 5));
    expect(Number((await sql.query('SELECT count(*) AS n FROM archive')).rows[0].n)).toBe(0);
    expect((await doctor({ home })).problems).toEqual([]);
  });

  it('keeps the dedupe keys of the archived tasks it deletes taken, also in an export', async () => {
    writePolicies(home, { keepCompleted: 1 });
    const ws = await openWs();
    const keyed: Array<{ id: string; key: string }> = [];
    for (let i = 0; i < 12; i++) {
      const key = `github:example/repo#${i}`;
      const task = await ws.addTask({ title: `issue ${i}`, dedupeKey: key });
      await ws.cancel(task.id, 'not needed');
      keyed.push({ id: task.id, key });
    }
    const where = { url: TEST_PG_URL, schema: fresh.schema };
    const done = await retain(session(), where, { ...SMALL, keepEntries: 1_000, batch: 5 });
    expect(done.archived).toBeGreaterThan(5);
    const left = new Set((await sql.query('SELECT id FROM archive')).rows.map((r: { id: string }) => r.id));
    const deleted = keyed.filter((k) => !left.has(k.id) && !ws.view.task(k.id));
    expect(deleted.length).toBe(done.archived);
    // A process that opens now, with those tasks gone from the tables, still refuses their keys.
    const fresher = await openWs();
    for (const { id, key } of deleted) {
      const again = await fresher.addTask({ title: 'the same issue again', dedupeKey: key }).then(
        () => null,
        (error: { code?: string; message?: string }) => error,
      );
      expect(again?.code, key).toBe('E_CONFLICT');
      expect(again?.message).toContain(`belongs to ${id}`);
    }
    expect((await doctor({ home })).problems).toEqual([]);
    // The export writes them as the JSON store keeps them: a JSON workspace refuses them too.
    const out = tempDir();
    try {
      const exported = cli(['db', 'export', '--to', out.dir, '--json'], { cwd: temp.dir });
      expect(exported.code, exported.stderr).toBe(0);
      const json = await openWorkspace({ cwd: out.dir, share: false });
      try {
        const { key } = deleted[0]!;
        await expect(json.addTask({ title: 'again, in JSON', dedupeKey: key })).rejects.toMatchObject({
          code: 'E_CONFLICT',
        });
      } finally {
        await json.close();
      }
    } finally {
      out.cleanup();
    }
  });

  it('trims nothing while another process holds retention', async () => {
    const ws = await openWs();
    for (let i = 0; i < 40; i++) await ws.addTask({ title: `task ${i}` });
    const before = await journal();
    const holder = new pg.Client({ connectionString: fresh.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT pg_advisory_xact_lock(${0x44524d54}, hashtext($1))`, [fresh.schema]);
      const result = await retain(session(), { url: TEST_PG_URL, schema: fresh.schema }, SMALL);
      expect(result).toMatchObject({ busy: true, batches: 0, entries: 0 });
      expect(await journal()).toEqual(before);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    const result = await retain(session(), { url: TEST_PG_URL, schema: fresh.schema }, SMALL);
    expect(result.busy).toBe(false);
    expect((await journal()).count).toBe(30);
  });
});
