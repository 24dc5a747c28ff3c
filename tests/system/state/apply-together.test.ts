/**
 * Two plans in one write (Workspace.applyTogether): an agent's run records its start checkpoint with
 * its state (working), and its outcome's checkpoint with its state (idle), each pair in one
 * transaction: two writes fewer per task, so a task that arrives meanwhile is taken sooner (the
 * pickup latency in `npm run bench`). Each plan still settles alone.
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentConfig } from '../../../src/config.js';
import { planAgentUpdate } from '../../../src/orchestrator/plans.js';
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

describe('two plans applied together', () => {
  it('records both, and one that throws fails alone', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const ws = await initWorkspace({ dir: tmp.dir, agents: [SHELL] });
    cleanups.push(() => ws.close());
    const before = ws.view.seq;
    const [a, b] = await ws.applyTogether(
      { plan: (ctx) => planAgentUpdate(ctx, 'agent-1', { progress: 0.25 }) },
      { plan: (ctx) => planAgentUpdate(ctx, 'agent-1', { failures: 2 }), by: 'agent-1' },
    );
    // The second was made on the state the first left.
    expect(a.progress).toBe(0.25);
    expect(b).toMatchObject({ progress: 0.25, failures: 2 });
    expect(ws.view.seq).toBe(before + 2);

    const refused = ws.applyTogether(
      {
        plan: () => {
          throw new Error('refused plan');
        },
      },
      { plan: (ctx) => planAgentUpdate(ctx, 'agent-1', { failures: 3 }) },
    );
    await expect(refused).rejects.toThrow('refused plan');
    ws.refresh();
    expect(ws.view.seq).toBe(before + 3);
    expect(ws.view.agentState('agent-1')?.failures).toBe(3);
  });
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
