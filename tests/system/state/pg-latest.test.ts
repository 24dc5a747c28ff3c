/**
 * A lone change on PostgreSQL (or an agent's changes that go together) is planned outside the write
 * lock and recorded in one round trip, only if no entry came after the one it was planned on and
 * its clock is the database's (record_if_latest). Each case uses two workspaces on one schema, each
 * with connections of its own, as two processes would: a plan made on a state that another has since
 * moved on is made again on the latest (once more in one round trip, then under the write lock), so
 * nothing the lock guarded is lost (the priority order, a dependant both completions release, the
 * database's clock for leases).
 */
import pg from 'pg';
import { afterEach, expect, it, vi } from 'vitest';
import { planCheckpoint } from '../../../src/orchestrator/plans.js';
import type { Workspace } from '../../../src/workspace.js';
import type { PgBackend } from '../../../state/pg/index.js';
import { describePg, postgresOpener, TEST_PG_URL, warmHot } from '../../helpers/pg.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describePg('a hot change recorded in one round trip', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function two(prefix: string) {
    const { schema, open } = await postgresOpener(prefix, cleanups);
    return { schema, a: await open(), b: await open() };
  }

  const stats = (ws: Workspace) => (ws.db as PgBackend).hotStats;
  /** What each of a workspace's counts gained since `before`. */
  const since = (before: PgBackend['hotStats'], ws: Workspace) => {
    const now = stats(ws);
    return {
      latest: now.latest - before.latest,
      again: now.again - before.again,
      slow: now.slow - before.slow,
      locked: now.locked - before.locked,
    };
  };
  const checkpointOf = (step: string) => ({
    plan: (ctx: Parameters<typeof planCheckpoint>[0]) => planCheckpoint(ctx, 'agent-2', { task: null, step }),
  });

  it('plans again on the entries recorded since its plan, and takes the task they made best', async () => {
    const { a, b } = await two('dreamos_latest');
    await warmHot(b, 'agent-2');
    const plain = await b.addTask({ title: 'plain', run: 'true' });
    // Any read of b's started before now has finished: b's state stops at its own add.
    await pause(200);
    const urgent = await a.addTask({ title: 'urgent', run: 'true', priority: 'critical' });
    expect(b.view.task(urgent.id)).toBeUndefined();

    const before = { ...stats(b) };
    const claimed = await b.claim('agent-2');
    expect(claimed?.id).toBe(urgent.id);
    // Its one-round-trip try came back with a's entry, and it planned again on it and tried once
    // more in one round trip (made under the lock only if a machine that paused made a try's clock
    // too old, or its planning too slow to be sent).
    const d = since(before, b);
    expect(d.latest + d.locked).toBe(1);
    expect(d.latest + d.again >= 2 || d.slow >= 1).toBe(true);
    expect(b.view.task(plain.id)?.status).toBe('ready');
    // Its state is at its own entry, which follows a's add.
    expect(b.view.seq).toBe(b.view.task(urgent.id)!.rev);
    expect(b.view.task(urgent.id)!.rev).toBeGreaterThan(urgent.rev);
  });

  it('records a lone change of any kind in one round trip, not only claims and completions', async () => {
    const { b } = await two('dreamos_latest');
    await warmHot(b, 'agent-2');
    const before = stats(b).latest;
    // A try refused for its clock (the machine paused) is made under the lock: try a few.
    for (let i = 0; i < 5 && stats(b).latest === before; i++) await b.addTask({ title: `lone ${i}` });
    expect(stats(b).latest).toBeGreaterThan(before);
  });

  it('records changes that go together in one round trip, each planned on the ones before it', async () => {
    const { a, b } = await two('dreamos_latest');
    await warmHot(b, 'agent-2');
    // A full list of checkpoints: the next one drops the oldest.
    for (let i = 0; i < 20; i++) await b.applyTogether(checkpointOf(`fill ${i}`), checkpointOf(`fill ${i}'`));
    const prior = b.view.checkpoints('agent-2').map((c) => c.id);
    expect(prior).toHaveLength(20);
    // Another process's change that b has not read (any read of b's started before now has
    // finished): b's first try is refused and brings it back.
    await pause(200);
    const other = await a.addTask({ title: 'from a' });
    expect(b.view.task(other.id)).toBeUndefined();
    const before = { ...stats(b) };
    let seen: string[] = [];
    const [first, second] = await b.applyTogether(checkpointOf('one'), {
      plan: (ctx) => {
        seen = ctx.view.checkpoints('agent-2').map((c) => c.id);
        return planCheckpoint(ctx, 'agent-2', { task: null, step: 'two' });
      },
    });
    // The second was planned on the state the first left: its list, and the next number.
    expect(seen).toEqual([...prior.slice(1), first.id]);
    expect(second.id > first.id).toBe(true);
    expect(b.view.checkpoints('agent-2').map((c) => c.id)).toEqual([...prior.slice(2), first.id, second.id]);
    // The refused try left nothing in b's state: a's entry, then b's two, in order.
    expect(b.view.task(other.id)?.rev).toBe(first.rev - 1);
    expect(second.rev).toBe(first.rev + 1);
    expect(b.view.seq).toBe(second.rev);
    // In one round trip (the second try), unless a machine that paused made a try's clock too old
    // or its planning too slow to be sent.
    const d = since(before, b);
    expect(d.latest + d.locked).toBe(1);
    expect(d.again).toBeGreaterThanOrEqual(1);
    if (d.locked === 1) expect(d.again === 2 || d.slow >= 1).toBe(true);
  });

  it('does not send a change that took longer to plan than the clock allows, and plans it under the lock', async () => {
    const { b } = await two('dreamos_latest');
    await warmHot(b, 'agent-2');
    const before = { ...stats(b) };
    const inputs = Array.from({ length: 5000 }, (_, i) => ({ title: `imported ${i}` }));
    expect(await b.importTasks(inputs)).toHaveLength(5000);
    // Not refused for its clock after a long upload (counted as contention): made under the lock.
    expect(stats(b).again).toBe(before.again);
    expect(stats(b).slow).toBe(before.slow + 1);
    expect(stats(b).locked).toBe(before.locked + 1);
  });

  it('releases a task whose two dependencies are completed at once by two processes', async () => {
    const { a, b, schema } = await two('dreamos_latest');
    const client = new pg.Client({ connectionString: TEST_PG_URL });
    await client.connect();
    cleanups.push(() => client.end());
    const stored = async (id: string) =>
      (await client.query(`SELECT status FROM "${schema}".tasks WHERE id = $1`, [id])).rows[0]?.status;
    await warmHot(a, 'agent-1');
    await warmHot(b, 'agent-2');
    for (let round = 0; round < 15; round++) {
      const x = await a.addTask({ title: `x ${round}`, run: 'true' });
      const y = await a.addTask({ title: `y ${round}`, run: 'true' });
      const both = await a.addTask({ title: `after x and y ${round}`, run: 'true', dependsOn: [x.id, y.id] });
      await a.claim('agent-1', { taskId: x.id });
      await b.claim('agent-2', { taskId: y.id });
      // Planned at once, each on a state where the other is not done yet.
      await Promise.all([a.complete(x.id, { agent: 'agent-1' }), b.complete(y.id, { agent: 'agent-2' })]);
      expect(await stored(both.id), `round ${round}`).toBe('ready');
    }
    // The first round's two completions were both planned outside the lock on an older state.
    expect(stats(a).again + stats(b).again).toBeGreaterThan(0);
  });

  it('judges leases by the database clock on a host whose clock is ten minutes ahead', async () => {
    const { a, schema } = await two('dreamos_latest');
    const real = Date.now.bind(Date);
    vi.spyOn(Date, 'now').mockImplementation(() => real() + 10 * 60_000);
    await warmHot(a, 'agent-1');
    const t = await a.addTask({ title: 'leased', run: 'true' });
    const claimed = await a.claim('agent-1', { taskId: t.id });
    const client = new pg.Client({ connectionString: TEST_PG_URL });
    await client.connect();
    const { rows } = await client
      .query(
        `SELECT (entry->>'at')::timestamptz AS at, clock_timestamp() AS db FROM "${schema}".journal ORDER BY seq DESC LIMIT 1`,
      )
      .finally(() => client.end());
    const { at, db } = rows[0] as { at: Date; db: Date };
    // Stamped with the database's clock, not this host's ten minutes ahead.
    expect(Math.abs(db.getTime() - at.getTime())).toBeLessThan(60_000);
    const leaseEnd = Date.parse(claimed!.lease!.expiresAt);
    expect(Math.abs(leaseEnd - (at.getTime() + 60_000))).toBeLessThan(1000);
  });
});
