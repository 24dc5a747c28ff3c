/**
 * doctor on a PostgreSQL workspace (state/pg/check.ts): each check finds the damage made to its
 * rows by hand with SQL, `--repair` rebuilds them from the journal in a journal entry that other
 * processes take like any change, and doctor is clean afterwards. The CLI is driven as a child
 * process for the cases a user meets first. Build first: the CLI runs dist/.
 */
import pg from 'pg';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type DoctorReport, doctor } from '../../../src/doctor.js';
import { initWorkspace, openWorkspace, type Workspace } from '../../../src/workspace.js';
import type { HealthProblem } from '../../../state/backend.js';
import { describePg, type FreshSchema, freshSchema, TEST_PG_URL } from '../../helpers/pg.js';
import { cli, tempDir, writePolicies } from '../../helpers/workspace.js';

describePg('doctor on a PostgreSQL workspace', () => {
  let fresh: FreshSchema;
  let temp: { dir: string; cleanup: () => void };
  let home: string;
  let sql: pg.Client;
  const open: Workspace[] = [];
  /** The ids made by the board every test starts with. */
  let ids: { task: string; done: string; mail: string; checkpoint: string };

  beforeEach(async () => {
    fresh = await freshSchema('dreamos_check');
    temp = tempDir();
    const ws = await initWorkspace({
      dir: temp.dir,
      backend: 'postgres',
      config: { state: { url: TEST_PG_URL, schema: fresh.schema } },
    });
    home = ws.home;
    const task = await ws.addTask({ title: 'first' });
    const done = await ws.addTask({ title: 'second' });
    await ws.cancel(done.id, 'not needed');
    const [mail] = await ws.sendMail({ to: 'agent-1', body: 'hello' });
    const checkpoint = await ws.saveCheckpoint('agent-1', { task: task.id, summary: 'halfway' });
    ids = { task: task.id, done: done.id, mail: mail!.id, checkpoint: checkpoint.id };
    await ws.close();
    sql = new pg.Client({ connectionString: fresh.url });
    await sql.connect();
  });

  afterEach(async () => {
    for (const ws of open.splice(0)) await ws.close();
    await sql.end();
    await fresh.drop();
    temp.cleanup();
  });

  const codes = (report: DoctorReport) => report.problems.map((p: HealthProblem) => p.code);
  const openWs = async () => {
    const ws = await openWorkspace({ home, share: false });
    open.push(ws);
    return ws;
  };
  const maxSeq = async () => Number((await sql.query('SELECT max(seq) AS s FROM journal')).rows[0].s);

  it('finds nothing wrong with a board made through Dream.OS', async () => {
    const report = await doctor({ home });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it('finds a task whose status column disagrees with its object, and rebuilds it', async () => {
    await sql.query(`UPDATE tasks SET status = 'done' WHERE id = $1`, [ids.task]);
    const found = await doctor({ home });
    expect(found.ok).toBe(false);
    expect(codes(found)).toEqual(['orphan-row']);
    expect(found.problems[0]!.message).toContain(`row ${ids.task} of tasks has status done`);
    const before = await maxSeq();
    const fixed = await doctor({ home, repair: true });
    expect(fixed.ok).toBe(true);
    expect(fixed.problems[0]!.repaired).toBe(true);
    expect(fixed.repaired.join('\n')).toContain(`tasks ${ids.task}`);
    // The repair is a journal entry, and the row is what it recorded.
    const entry = (await sql.query(`SELECT op, by FROM journal WHERE seq = $1`, [before + 1])).rows[0];
    expect(entry).toEqual({ op: 'repair', by: 'doctor' });
    const row = (await sql.query('SELECT status, rev FROM tasks WHERE id = $1', [ids.task])).rows[0];
    expect(row).toEqual({ status: 'ready', rev: String(before + 1) });
    expect((await doctor({ home })).problems).toEqual([]);
  });

  it('finds a row whose rev is past the end of the journal', async () => {
    await sql.query('UPDATE tasks SET rev = 999999 WHERE id = $1', [ids.task]);
    const found = await doctor({ home });
    expect(codes(found)).toEqual(['orphan-row']);
    expect(found.problems[0]!.message).toContain('after the journal');
    expect((await doctor({ home, repair: true })).ok).toBe(true);
    expect((await doctor({ home })).problems).toEqual([]);
  });

  it('finds a row that differs from what the journal recorded, and restores what the journal says', async () => {
    await sql.query(
      `UPDATE tasks SET doc = json_build_object('title', 'changed by hand') :: jsonb || (doc::jsonb - 'title') WHERE id = $1`,
      [ids.task],
    );
    const found = await doctor({ home });
    expect(codes(found)).toEqual(['journal-mismatch']);
    expect((await doctor({ home, repair: true })).ok).toBe(true);
    expect((await doctor({ home })).problems).toEqual([]);
    const ws = await openWs();
    expect(ws.view.task(ids.task)?.title).toBe('first');
  });

  it('finds mail and checkpoints filed under the wrong mailbox or agent', async () => {
    await sql.query(`UPDATE mail SET mailbox = 'agent-2' WHERE id = $1`, [ids.mail]);
    await sql.query(`UPDATE checkpoints SET agent = 'agent-3' WHERE id = $1`, [ids.checkpoint]);
    const found = await doctor({ home });
    expect(codes(found).sort()).toEqual(['orphan-row', 'orphan-row']);
    expect(found.problems.map((p) => p.message).join('\n')).toMatch(/row M-\w+ of mail has mailbox agent-2/);
    const fixed = await doctor({ home, repair: true });
    expect(fixed.ok).toBe(true);
    expect((await doctor({ home })).problems).toEqual([]);
    const rows = await sql.query(
      'SELECT (SELECT mailbox FROM mail WHERE id = $1) AS mailbox, (SELECT agent FROM checkpoints WHERE id = $2) AS agent',
      [ids.mail, ids.checkpoint],
    );
    expect(rows.rows[0]).toEqual({ mailbox: 'agent-1', agent: 'agent-1' });
  });

  it('finds a task the journal archived that is still on the board, and archives it again', async () => {
    writePolicies(home, { keepCompleted: 1 });
    const ws = await openWs();
    // Completed tasks roll into the archive once there are more than keepCompleted + 10.
    for (let i = 0; i < 11; i++)
      await ws.cancel((await ws.addTask({ title: `more ${i}` })).id, 'not needed either');
    expect(ws.view.task(ids.done)).toBeUndefined();
    await sql.query(
      `INSERT INTO tasks (id, status, rev, doc) SELECT id, 'cancelled', (doc->>'rev')::bigint, doc FROM archive WHERE id = $1`,
      [ids.done],
    );
    const found = await doctor({ home });
    expect(codes(found)).toEqual(['orphan-row']);
    expect(found.problems[0]!.message).toContain(`row ${ids.done} of tasks is still on the board`);
    expect((await doctor({ home, repair: true })).ok).toBe(true);
    const where = await sql.query(
      'SELECT (SELECT count(*) FROM tasks WHERE id = $1) AS board, (SELECT count(*) FROM archive WHERE id = $1) AS archive',
      [ids.done],
    );
    expect(where.rows[0]).toEqual({ board: '0', archive: '1' });
    expect((await doctor({ home })).problems).toEqual([]);
  });

  it('reports a row that is not a valid object without opening the state, and --repair rebuilds it', async () => {
    await sql.query(`UPDATE tasks SET doc = json_build_object('id', id) WHERE id = $1`, [ids.task]);
    await expect(openWorkspace({ home, share: false })).rejects.toMatchObject({ code: 'E_CORRUPT' });
    const found = await doctor({ home });
    expect(found.ok).toBe(false);
    expect(codes(found)).toEqual(['invalid-row']);
    const fixed = await doctor({ home, repair: true });
    expect(fixed.ok).toBe(true);
    expect(fixed.problems).toMatchObject([{ code: 'invalid-row', repaired: true }]);
    expect((await doctor({ home })).problems).toEqual([]);
    const ws = await openWs();
    expect(ws.view.task(ids.task)).toMatchObject({ title: 'first', status: 'ready' });
  });

  it('says a row cannot be rebuilt when the journal no longer holds its last change', async () => {
    // Retention removed the entries (the floor moved with them); then the row was broken by hand.
    const last = await maxSeq();
    await sql.query('DELETE FROM journal WHERE seq < $1', [last]);
    await sql.query('UPDATE settings SET journal_floor = $1', [last - 1]);
    await sql.query(`UPDATE tasks SET status = 'working' WHERE id = $1`, [ids.task]);
    const found = await doctor({ home, repair: true });
    expect(codes(found)).toEqual(['orphan-row']);
    // Its own object is valid: it is re-recorded as it says, which mends the column.
    expect(found.problems[0]!.repaired).toBe(true);
    // A later change, then every entry before it (the repair's too) is gone.
    const ws = await openWs();
    await ws.addTask({ title: 'later' });
    await ws.close();
    const now = await maxSeq();
    await sql.query('DELETE FROM journal WHERE seq < $1', [now]);
    await sql.query('UPDATE settings SET journal_floor = $1', [now - 1]);
    await sql.query(`UPDATE tasks SET doc = json_build_object('id', id) WHERE id = $1`, [ids.task]);
    const lost = await doctor({ home, repair: true });
    expect(lost.ok).toBe(false);
    expect(lost.problems).toMatchObject([{ code: 'invalid-row' }]);
    expect(lost.problems[0]!.repaired).toBeUndefined();
    expect(lost.problems[0]!.message).toContain('cannot be rebuilt');
  });

  it('finds gaps in the journal; a missing start is mended by moving the floor', async () => {
    const last = await maxSeq();
    expect(last).toBeGreaterThan(4);
    await sql.query('DELETE FROM journal WHERE seq = 1');
    await sql.query('DELETE FROM journal WHERE seq = $1', [last - 1]);
    const found = await doctor({ home });
    expect(codes(found)).toEqual(['journal-gap', 'journal-gap']);
    expect(found.problems[1]!.message).toContain(`entries ${last - 1}-${last - 1} are missing`);
    const fixed = await doctor({ home, repair: true });
    expect(fixed.problems.map((p) => Boolean(p.repaired))).toEqual([true, false]);
    expect((await sql.query('SELECT journal_floor AS f FROM settings')).rows[0].f).toBe('1');
    expect(codes(await doctor({ home }))).toEqual(['journal-gap']);
  });

  it('finds a schema at a version this Dream.OS does not read', async () => {
    const ws = await openWs();
    await sql.query(`INSERT INTO schema_version (version, name) VALUES (99, 'from the future')`);
    const report = await ws.db.check({ repair: false });
    expect(report.problems).toMatchObject([{ code: 'schema' }]);
    expect(report.problems[0]!.message).toContain('version 99');
  });

  it('hands the repair to a process that has the state open', async () => {
    const other = await openWs();
    await sql.query(`UPDATE tasks SET status = 'done' WHERE id = $1`, [ids.task]);
    expect((await doctor({ home, repair: true })).ok).toBe(true);
    const repairSeq = await maxSeq();
    // Its next change starts from the repair entry.
    const added = await other.addTask({ title: 'after the repair' });
    expect(added.rev).toBe(repairSeq + 1);
    expect(other.view.task(ids.task)).toMatchObject({ status: 'ready', rev: repairSeq });
    expect((await doctor({ home })).problems).toEqual([]);
  });

  it('drives doctor, --repair and --json through the CLI', async () => {
    await sql.query(`UPDATE tasks SET doc = json_build_object('id', id) WHERE id = $1`, [ids.task]);
    const found = cli(['doctor'], { cwd: temp.dir });
    expect(found.code).toBe(6);
    expect(found.stdout).toMatch(
      new RegExp(`PROBLEM {2}invalid-row: row ${ids.task} of tasks is not a valid object`),
    );
    expect(found.stdout).toContain('run `dreamos doctor --repair`');
    const json = cli(['doctor', '--json'], { cwd: temp.dir });
    expect(json.code).toBe(6);
    expect(json.json<DoctorReport>().problems).toMatchObject([{ code: 'invalid-row' }]);
    const fixed = cli(['doctor', '--repair', '--json'], { cwd: temp.dir });
    expect(fixed.code).toBe(0);
    expect(fixed.json<DoctorReport>()).toMatchObject({
      ok: true,
      problems: [{ code: 'invalid-row', repaired: true }],
    });
    const clean = cli(['doctor'], { cwd: temp.dir });
    expect(clean.code).toBe(0);
    expect(clean.stdout).toMatch(/^ok: 2 tasks, journal seq \d+\n$/);
  });
});
