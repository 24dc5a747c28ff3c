/**
 * Two plans in one write (Workspace.applyTogether): an agent's run records its start checkpoint with
 * its state (working), and its outcome's checkpoint with its state (idle), each pair in one
 * transaction: two writes fewer per task, so a task that arrives meanwhile is taken sooner (the
 * pickup latency in `npm run bench`). Each plan still settles alone, and each is planned on the
 * state the one before it left (the backend conformance suite, for every backend).
 */
import pg from 'pg';
import { afterEach, expect, it } from 'vitest';
import { AgentConfig } from '../../../src/config.js';
import { initWorkspace } from '../../../src/workspace.js';
import type { JournalEntry } from '../../../state/schemas.js';
import { describePg, TEST_PG_URL, testSchema } from '../../helpers/pg.js';
import { cli, tempDir } from '../../helpers/workspace.js';

const SHELL = AgentConfig.parse({
  id: 'agent-1',
  name: 'Shell',
  role: 'coder',
  driver: { kind: 'shell', shell: '/bin/sh' },
});

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describePg('an agent run on a PostgreSQL board', () => {
  it('writes each of its checkpoints with its state, in one transaction', async () => {
    const { schema } = await testSchema('dreamos_together');
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const ws = await initWorkspace({
      dir: tmp.dir,
      backend: 'postgres',
      agents: [SHELL],
      config: { state: { url: TEST_PG_URL, schema } },
    });
    await ws.addTask({ title: 'one', run: 'true' });
    await ws.close();
    const run = cli(['run', '--until-idle'], { cwd: tmp.dir, env: { DREAMOS_STORE: '' } });
    expect(run.code, run.stderr).toBe(0);

    const client = new pg.Client({ connectionString: TEST_PG_URL });
    await client.connect();
    cleanups.push(() => client.end());
    const { rows } = await client.query<{ txn: string; entry: JournalEntry }>(
      `SELECT txn, entry FROM "${schema}".journal ORDER BY seq`,
    );
    const pairs = rows.flatMap((row, i) => {
      const step = row.entry.checkpoints?.[0]?.step;
      return row.entry.op === 'checkpoint' && step ? [{ step, row, next: rows[i + 1] }] : [];
    });
    expect(pairs.map((p) => p.step)).toEqual(['start', 'done']);
    for (const { row, next } of pairs) {
      expect(next?.entry.op).toBe('agent-state');
      expect(next?.txn).toBe(row.txn);
    }
    expect(pairs.map((p) => p.next?.entry.agents?.[0]?.status)).toEqual(['working', 'idle']);
  });
});
