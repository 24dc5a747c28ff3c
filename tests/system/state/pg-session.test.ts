/**
 * One PostgreSQL session shared by several users of a process (the readers' session serves pulls of
 * the journal, the roles' renewals and commit checks): each user's statements run in a turn of their
 * own, never inside another user's transaction, and the connection is never asked a query while it
 * runs one.
 */
import { expect, it } from 'vitest';
import { Session } from '../../../state/pg/session.js';
import { cleanupsAfterEach } from '../../helpers/cleanups.js';
import { describePg, TEST_PG_URL, testSchema } from '../../helpers/pg.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describePg('a session with several users at once', () => {
  const cleanups = cleanupsAfterEach();

  async function session(): Promise<Session> {
    const { schema } = await testSchema('dreamos_session');
    const s = new Session({ url: TEST_PG_URL, schema }, 'test', false);
    cleanups.push(() => s.close());
    await s.query('CREATE TABLE marks (n int)');
    return s;
  }

  it("keeps a user's statement out of another user's transaction", async () => {
    const s = await session();
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    cleanups.push(() => process.off('warning', onWarning));

    // A transaction that is rolled back after a pause, and meanwhile two plain inserts and a read.
    const rolledBack = s.use(async (client) => {
      await client.query('BEGIN');
      await client.query('INSERT INTO marks VALUES (1)');
      await sleep(150);
      await client.query('ROLLBACK');
    });
    const others = Promise.all([
      s.query('INSERT INTO marks VALUES (2)'),
      s.query('INSERT INTO marks VALUES (3)'),
      s.query('SELECT pg_sleep(0.05)'),
    ]);
    await Promise.all([rolledBack, others]);

    const { rows } = await s.query<{ n: number }>('SELECT n FROM marks ORDER BY n');
    expect(rows.map((r) => r.n)).toEqual([2, 3]);
    expect(warnings.filter((w) => w.includes('already executing a query'))).toEqual([]);
  });

  it('lets the next user in after one whose work failed', async () => {
    const s = await session();
    const failing = s.use(async (client) => {
      await client.query('INSERT INTO marks VALUES (1)');
      throw new Error('the work failed');
    });
    const after = s.query('INSERT INTO marks VALUES (2)');
    await expect(failing).rejects.toThrow('the work failed');
    await after;
    const { rows } = await s.query<{ n: number }>('SELECT n FROM marks ORDER BY n');
    expect(rows.map((r) => r.n)).toEqual([1, 2]);
  });
});
