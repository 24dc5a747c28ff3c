/**
 * A PostgreSQL workspace whose write lock stayed held by another client past its lock timeout: the
 * change is refused (E_LOCK_TIMEOUT), and the next change, once the lock is free, goes through on
 * the same connection. The fleet test found a process whose every later change was refused: the
 * timed-out transaction had been left open and aborted on its connection.
 */
import pg from 'pg';
import { expect, it } from 'vitest';
import { openWorkspace, type Workspace } from '../../../src/workspace.js';
import { writeLockSql } from '../../../state/pg/schema.js';
import { cleanupsAfterEach } from '../../helpers/cleanups.js';
import { describePg, postgresWorkspace, TEST_PG_URL } from '../../helpers/pg.js';

describePg('a change that timed out waiting for the write lock', () => {
  const cleanups = cleanupsAfterEach();

  /** Another client, in a transaction that holds the schema's write lock until it rolls back. */
  async function holdWriteLock(schema: string): Promise<pg.Client> {
    const holder = new pg.Client({ connectionString: TEST_PG_URL });
    holder.on('error', () => undefined);
    await holder.connect();
    cleanups.push(() => holder.end().catch(() => undefined));
    await holder.query('BEGIN');
    await holder.query(writeLockSql(schema));
    return holder;
  }

  it('leaves the connection usable for the next change', async () => {
    const { home, schema } = await postgresWorkspace('dreamos_locktimeout', cleanups);
    const ws: Workspace = await openWorkspace({ home: home, share: false, lockTimeoutMs: 300 });
    cleanups.push(() => ws.close());
    await ws.addTask({ title: 'before' });

    const holder = await holdWriteLock(schema);
    await expect(ws.addTask({ title: 'while locked' })).rejects.toMatchObject({ code: 'E_LOCK_TIMEOUT' });
    await holder.query('ROLLBACK');

    const after = await ws.addTask({ title: 'after' });
    expect(after.title).toBe('after');
    ws.refresh();
    expect([...ws.view.tasks()].map((t) => t.title).sort()).toEqual(['after', 'before']);
  });

  it('refuses a hot change planned outside the lock as soon as its own wait ends', async () => {
    const { home, schema } = await postgresWorkspace('dreamos_locktimeout', cleanups);
    const ws: Workspace = await openWorkspace({ home: home, share: false, lockTimeoutMs: 300 });
    cleanups.push(() => ws.close());
    const warm = await ws.addTask({ title: 'warm-up', run: 'true' });
    await ws.claim('agent-1', { taskId: warm.id });
    const task = await ws.addTask({ title: 'to claim', run: 'true' });

    const holder = await holdWriteLock(schema);
    // Refused while the other client still holds the lock: nothing waits for it to let go.
    await expect(ws.complete(warm.id, { agent: 'agent-1' })).rejects.toMatchObject({
      code: 'E_LOCK_TIMEOUT',
    });
    await holder.query('ROLLBACK');

    const claimed = await ws.claim('agent-1', { taskId: task.id });
    expect(claimed?.status).toBe('working');
    expect(ws.view.task(warm.id)?.status).toBe('working');
  });
});
