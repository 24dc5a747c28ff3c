/**
 * A PostgreSQL server that crashed can take back a tail of the journal that was committed but not
 * yet on disk, after another process had read it (commits are visible before their flush). That
 * process must not build on what was lost: before its next change it finds that the journal no
 * longer holds the entry its state is as of, and reads the state again. The lost tail is simulated
 * by deleting the last entry and the task it added, as recovery would leave them.
 */
import pg from 'pg';
import { expect, it } from 'vitest';
import { openWorkspace, type Workspace } from '../../../src/workspace.js';
import type { PgBackend } from '../../../state/pg/index.js';
import { cleanupsAfterEach } from '../../helpers/cleanups.js';
import { describePg, postgresOpener, postgresWorkspace, TEST_PG_URL } from '../../helpers/pg.js';

describePg('a journal tail lost by the server after a process read it', () => {
  const cleanups = cleanupsAfterEach();

  /** The crash: the last entry, and the task it added, gone as recovery would leave them. */
  async function takeBack(schema: string, id: string): Promise<pg.Client> {
    const sql = new pg.Client({ connectionString: TEST_PG_URL });
    await sql.connect();
    cleanups.push(() => sql.end());
    const { rows } = await sql.query(`SELECT max(seq) AS seq FROM "${schema}".journal`);
    await sql.query(`DELETE FROM "${schema}".journal WHERE seq = $1`, [rows[0].seq]);
    await sql.query(`DELETE FROM "${schema}".tasks WHERE id = $1`, [id]);
    return sql;
  }

  it('is noticed before the next change: no gap, no task brought back', async () => {
    const { home, schema } = await postgresWorkspace('dreamos_losttail', cleanups);
    const a: Workspace = await openWorkspace({ home: home, share: false });
    cleanups.push(() => a.close());
    const b: Workspace = await openWorkspace({ home: home, share: false });
    cleanups.push(() => b.close());

    await a.addTask({ title: 'kept' });
    const lost = await a.addTask({ title: 'lost in the crash' });
    // B reads both, in a change of its own that records nothing.
    await b.db.transact(() => ({ change: null, result: undefined }));
    expect(b.view.task(lost.id)?.title).toBe('lost in the crash');

    const sql = await takeBack(schema, lost.id);

    const next = await b.addTask({ title: 'after the crash' });
    // The lost task's number is handed out again, as the counters the journal kept say.
    const titles = [...b.view.tasks()].map((t) => t.title).sort();
    expect(titles).toEqual(['after the crash', 'kept']);
    const journal = await sql.query(`SELECT seq FROM "${schema}".journal ORDER BY seq`);
    const seqs = journal.rows.map((r) => Number(r.seq));
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    const tasks = await sql.query(`SELECT id, doc->>'title' AS title FROM "${schema}".tasks ORDER BY id`);
    expect(tasks.rows.map((r) => r.title).sort()).toEqual(['after the crash', 'kept']);
    expect(tasks.rows.map((r) => r.id)).toContain(next.id);
    const report = await b.db.check({ repair: false });
    expect(report.problems).toEqual([]);
  });

  /**
   * B has read a task that the crash took back; then C, which never saw it, wrote two entries at
   * those numbers (one adds another task under the lost one's id). B's next change must not take
   * C's entries for the ones it read.
   */
  async function afterTakenBack(prefix: string) {
    const { schema, open } = await postgresOpener(prefix, cleanups);
    const a = await open();
    const b = await open();
    // B makes one hot change first, so that it knows the database's clock.
    const warm = await b.addTask({ title: 'warm-up', run: 'true' });
    await b.claim('agent-1', { taskId: warm.id });
    await b.complete(warm.id, { agent: 'agent-1' });
    const lost = await a.addTask({ title: 'lost in the crash', run: 'true' });
    await b.db.transact(() => ({ change: null, result: undefined }));
    expect(b.view.task(lost.id)?.title).toBe('lost in the crash');

    const sql = await takeBack(schema, lost.id);
    const c = await open();
    const other = await c.addTask({ title: 'written after the crash', run: 'true' });
    expect(other.id).toBe(lost.id);
    await c.addTask({ title: 'and one more', run: 'true' });
    const stored = async () =>
      (await sql.query(`SELECT id, doc->>'title' AS title, status FROM "${schema}".tasks ORDER BY id`)).rows;
    return { b, lost, other, stored };
  }

  it('is noticed by a change planned outside the lock: the task written since stays as written', async () => {
    const { b, other, stored } = await afterTakenBack('dreamos_losttail');
    const before = { ...(b.db as PgBackend).hotStats };
    const claimed = await b.claim('agent-1', { taskId: other.id });
    expect((b.db as PgBackend).hotStats.latest + (b.db as PgBackend).hotStats.locked).toBeGreaterThan(
      before.latest + before.locked,
    );
    expect(claimed?.title).toBe('written after the crash');
    const row = (await stored()).find((r) => r.id === other.id);
    expect(row).toMatchObject({ title: 'written after the crash', status: 'working' });
    expect(b.view.task(other.id)?.title).toBe('written after the crash');
    expect((await b.db.check({ repair: false })).problems).toEqual([]);
  });

  it('is noticed by a read of what others wrote: the view is loaded again', async () => {
    const { b, other } = await afterTakenBack('dreamos_losttail');
    for (let i = 0; i < 100 && b.view.task(other.id)?.title !== 'written after the crash'; i++) {
      b.refresh();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(b.view.task(other.id)?.title).toBe('written after the crash');
    expect([...b.view.tasks()].map((t) => t.title).sort()).toEqual([
      'and one more',
      'warm-up',
      'written after the crash',
    ]);
  });
});
