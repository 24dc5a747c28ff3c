/**
 * A host cut off from the server in the middle of a transaction that holds the board's write lock:
 * the server ends that transaction once it has waited for its client a short while (the writer's
 * idle bound), long before its general idle bound, so the other hosts' writers go on. Here a TCP
 * relay between the process and the server passes the transaction's first statements (the lock is
 * taken), then nothing more. The writer's connections also ask the server to give up on a client that
 * stops acknowledging (tcp_user_timeout, keepalives). And a commit whose answer is lost with its
 * connection is settled by the journal: reported made, once.
 */
import path from 'node:path';
import pg from 'pg';
import { expect, it } from 'vitest';
import { planSend } from '../../../src/mail.js';
import { planAgentUpdate } from '../../../src/orchestrator/plans.js';
import { initWorkspace, openWorkspace } from '../../../src/workspace.js';
import { IDLE_IN_TRANSACTION_MS, WRITER_IDLE_MS, WRITER_TCP } from '../../../state/pg/connection.js';
import type { PgBackend } from '../../../state/pg/index.js';
import { LOCK_CLASS } from '../../../state/pg/schema.js';
import { Session } from '../../../state/pg/session.js';
import { cleanupsAfterEach } from '../../helpers/cleanups.js';
import { describePg, pgRelay, TEST_PG_URL, testSchema } from '../../helpers/pg.js';
import { tempDir } from '../../helpers/workspace.js';

describePg('a writer cut off in the middle of a transaction', () => {
  const cleanups = cleanupsAfterEach();

  /** A workspace (one host) in a schema of its own, reaching the server through a relay. */
  async function hostBehindRelay() {
    const { schema } = await testSchema('dreamos_writercut');
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const link = await pgRelay(new URL(TEST_PG_URL));
    const ws = await initWorkspace({
      dir: path.join(tmp.dir, 'host'),
      backend: 'postgres',
      config: { state: { url: link.url, schema } },
    });
    // Closing the relay first ends the process's connections, so that its close does not wait.
    cleanups.push(() => ws.close().catch(() => undefined));
    cleanups.push(() => link.close());
    return { schema, link, ws };
  }

  it('holds the write lock only until the writer idle bound ends its transaction', async () => {
    const { schema, link, ws } = await hostBehindRelay();
    await ws.addTask({ title: 'before the cut' });

    const sql = new pg.Client({ connectionString: TEST_PG_URL });
    sql.on('error', () => undefined);
    await sql.connect();
    cleanups.push(() => sql.end().catch(() => undefined));
    link.freezeAfter('synchronous_commit = off');
    // Changes that go together, the first a message, take the write lock first, then record: a lone
    // change, or changes of tasks and agents, may be recorded in one round trip, with nothing to cut.
    const cut = ws.applyTogether(
      { plan: (ctx) => planSend(ctx, ['agent-1'], { to: 'agent-1', body: 'cut off' }) },
      { plan: (ctx) => planAgentUpdate(ctx, 'agent-1', { progress: 0.75 }) },
    );
    cut.catch(() => undefined);
    const holder = async () =>
      (
        await sql.query<{ app: string; state: string }>(
          `SELECT a.application_name AS app, a.state FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
           WHERE l.locktype = 'advisory' AND l.granted AND l.classid = ${LOCK_CLASS} AND l.objid = hashtext($1)::oid`,
          [schema],
        )
      ).rows;
    for (let i = 0; i < 100 && (await holder()).length === 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(await holder()).toEqual([{ app: 'dreamos state', state: 'idle in transaction' }]);

    // Another host's writer waits for the lock less long than the general idle bound, and gets it.
    expect(WRITER_IDLE_MS + 5_000).toBeLessThan(IDLE_IN_TRANSACTION_MS);
    await sql.query(`BEGIN; SET LOCAL lock_timeout = '${WRITER_IDLE_MS + 5_000}ms'`);
    await sql.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, schema]);
    await sql.query('ROLLBACK');
    expect(await holder()).toEqual([]);
  }, 60_000);

  it('reports a change made once when the answer to its commit was lost, as the journal says', async () => {
    const { schema, link, ws } = await hostBehindRelay();
    const stats = (ws.db as PgBackend).hotStats;
    // Until a change goes in one round trip (the process has read the database's clock).
    for (let i = 0; i < 10 && stats.latest === 0; i++) await ws.addTask({ title: `warm-up ${i}` });
    const before = stats.latest;

    // The round trip's commit is made (durably: this process writes alone), its answer never comes
    // back, and the connection is closed: the process asks the journal, on another connection.
    link.dropAnswerTo('record_if_latest', 300);
    const task = await ws.addTask({ title: 'its answer was lost' });
    expect(stats.latest).toBe(before + 1);
    expect(ws.getTask(task.id)?.title).toBe('its answer was lost');
    const sql = new pg.Client({ connectionString: TEST_PG_URL });
    await sql.connect();
    cleanups.push(() => sql.end());
    const { rows } = await sql.query(
      `SELECT seq FROM "${schema}".journal WHERE entry::text LIKE '%its answer was lost%'`,
    );
    expect(rows).toHaveLength(1);
    expect(Number(rows[0].seq)).toBe(task.rev);
    // The next change goes on, on a new connection.
    const next = await ws.addTask({ title: 'after the lost answer' });
    expect(next.rev).toBe(task.rev + 1);
  }, 60_000);

  it('reports a hot change recorded on top of others once when the answer to its commit was lost', async () => {
    const { schema, link, ws } = await hostBehindRelay();
    const stats = (ws.db as PgBackend).hotStats;
    // Until a change goes in one round trip (the process has read the database's clock).
    for (let i = 0; i < 10 && stats.latest === 0; i++) await ws.addTask({ title: `warm-up ${i}` });
    const task = await ws.addTask({ title: 'completed, its answer lost', run: 'true' });
    const another = await ws.addTask({ title: 'claimed by another process', run: 'true' });
    await ws.claim('agent-1', { taskId: task.id });
    const before = stats.latest;
    // Another process's entry this one has not read, which touches nothing its completion reads: the
    // completion goes on top of it.
    const sql = new pg.Client({ connectionString: TEST_PG_URL });
    await sql.connect();
    cleanups.push(() => sql.end());
    const other = await openWorkspace({ home: ws.paths.home, share: false });
    cleanups.push(() => other.close());
    const theirs = (await other.claim('agent-2', { taskId: another.id }))!;

    link.dropAnswerTo('record_at_head', 300);
    const done = await ws.complete(task.id, { agent: 'agent-1' });
    expect(done.status).toBe('done');
    expect(stats.latest).toBe(before + 1);
    const { rows } = await sql.query(`SELECT seq, op FROM "${schema}".journal WHERE seq >= $1 ORDER BY seq`, [
      theirs.rev,
    ]);
    expect(rows.map((r) => [Number(r.seq), r.op])).toEqual([
      [theirs.rev, 'claim'],
      [done.rev, 'complete'],
    ]);
    // The process loads what it had not read, and goes on.
    const next = await ws.addTask({ title: 'after the lost answer' });
    expect(next.rev).toBe(done.rev + 1);
    expect(ws.getTask(another.id)?.agent).toBe('agent-2');
  }, 60_000);

  it("sets the server's TCP bounds on a writer's connection only", async () => {
    const { schema } = await testSchema('dreamos_writercut');
    const where = { url: TEST_PG_URL, schema };
    const show = async (writer: boolean) => {
      const session = new Session(where, 'test', false, writer);
      try {
        const out: Record<string, string> = {};
        for (const name of Object.keys(WRITER_TCP))
          out[name] = (await session.query(`SHOW ${name}`)).rows[0]?.[name];
        return out;
      } finally {
        await session.close();
      }
    };
    expect(await show(true)).toEqual({
      tcp_user_timeout: '10000',
      tcp_keepalives_idle: '5',
      tcp_keepalives_interval: '2',
      tcp_keepalives_count: '3',
    });
    expect(await show(false)).not.toEqual(await show(true));
  });
});
