/**
 * A second host joins a fleet by running `init` against the schema the first made: the board is
 * joined, not replaced, and the configuration the board recorded stays the first host's.
 */
import pg from 'pg';
import { expect, it } from 'vitest';
import { initWorkspace } from '../../../src/workspace.js';
import { cleanupsAfterEach } from '../../helpers/cleanups.js';
import { describePg, TEST_PG_URL, testSchema } from '../../helpers/pg.js';
import { tempDir } from '../../helpers/workspace.js';

describePg('a second host that runs init on a schema with a board', () => {
  const cleanups = cleanupsAfterEach();

  it('joins it: the tasks stay, the join is journaled, the recorded configuration is kept', async () => {
    const { schema } = await testSchema('dreamos_join');
    const state = { url: TEST_PG_URL, schema };
    const first = tempDir();
    const second = tempDir();
    cleanups.push(first.cleanup, second.cleanup);
    const a = await initWorkspace({ dir: first.dir, backend: 'postgres', config: { name: 'host-a', state } });
    await a.addTask({ title: 'made on host a' });
    await a.close();
    const b = await initWorkspace({
      dir: second.dir,
      backend: 'postgres',
      config: { name: 'host-b', state },
    });
    cleanups.push(() => b.close());
    expect([...b.view.tasks()].map((t) => t.title)).toEqual(['made on host a']);

    const sql = new pg.Client({ connectionString: TEST_PG_URL });
    await sql.connect();
    cleanups.push(() => sql.end());
    const ops = await sql.query(`SELECT op FROM "${schema}".journal ORDER BY seq`);
    expect(ops.rows.map((r) => r.op)).toEqual(['init', 'add', 'join']);
    const recorded = await sql.query(`SELECT config->>'name' AS name FROM "${schema}".settings`);
    expect(recorded.rows[0].name).toBe('host-a');
  });
});
