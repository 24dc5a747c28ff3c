/**
 * Hot changes of several processes side by side (record_at_head, state/pg/conflicts.ts): a claim,
 * renewal, completion or failure planned on an entry that others have since built on is recorded on
 * top of their entries when none of them wrote what its plan read, and planned again when one did.
 * A claim of the best ready task brings the claims of the next best once claims have met lately: the
 * first whose task nobody took is recorded. Each case uses two workspaces on one schema, each with
 * connections of its own, as two processes would.
 */
import pg from 'pg';
import { expect, it } from 'vitest';
import type { Workspace } from '../../../src/workspace.js';
import type { PgBackend } from '../../../state/pg/index.js';
import { placeholder } from '../../../state/pg/side-by-side.js';
import { cleanupsAfterEach } from '../../helpers/cleanups.js';
import { describePg, postgresOpener, TEST_PG_URL, warmHot } from '../../helpers/pg.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describePg('hot changes side by side', () => {
  const cleanups = cleanupsAfterEach();

  async function two(prefix: string) {
    const { schema, open } = await postgresOpener(prefix, cleanups);
    const client = new pg.Client({ connectionString: TEST_PG_URL, options: `-c search_path=${schema}` });
    await client.connect();
    cleanups.push(() => client.end());
    return { client, a: await open(), b: await open() };
  }

  const stats = (ws: Workspace) => ({ ...(ws.db as PgBackend).hotStats });

  /** A try refused for its clock (the machine paused) is made again: `d` allows for it. */
  const refusedForClock = (d: { again: number; locked: number }) => d.locked > 0 && d.again > 0;

  it('records a completion on top of an entry it did not read, which touched nothing it read', async () => {
    const { a, b, client } = await two('dreamos_aside');
    await warmHot(a, 'agent-1');
    await warmHot(b, 'agent-2');
    const mine = await b.addTask({ title: "b's", run: 'true' });
    const theirs = await a.addTask({ title: "a's", run: 'true' });
    await a.claim('agent-1', { taskId: theirs.id });
    await b.claim('agent-2', { taskId: mine.id });
    // Any read of b's started before now has finished: a's completion is one b has not read.
    await pause(200);
    const done = await a.complete(theirs.id, { agent: 'agent-1' });
    expect(b.view.task(theirs.id)?.status).toBe('working');

    const before = stats(b);
    const completed = await b.complete(mine.id, { agent: 'agent-2' });
    const after = stats(b);
    // Recorded at once on top of a's entry, planned on the entry before it.
    if (!refusedForClock({ again: after.again - before.again, locked: after.locked - before.locked })) {
      expect(after.again).toBe(before.again);
      expect(after.latest).toBe(before.latest + 1);
    }
    expect(completed.rev).toBe(done.rev + 1);
    // b's state took a's entry, then its own.
    expect(b.view.task(theirs.id)?.status).toBe('done');
    expect(b.view.seq).toBe(completed.rev);
    const { rows } = await client.query(
      'SELECT seq::int AS seq, op, entry::text AS line FROM journal WHERE seq >= $1 ORDER BY seq',
      [done.rev],
    );
    expect(rows.map((r) => [r.seq, r.op])).toEqual([
      [done.rev, 'complete'],
      [completed.rev, 'complete'],
    ]);
    // Sealed as the entry it became: its number, its objects' rev, a crc that holds.
    const entry = JSON.parse(rows[1].line);
    expect(entry.seq).toBe(completed.rev);
    expect(entry.tasks[0].task.rev).toBe(completed.rev);
  });

  it('plans a completion again when an entry it did not read completed the other dependency of a task', async () => {
    const { a, b } = await two('dreamos_aside');
    await warmHot(a, 'agent-1');
    await warmHot(b, 'agent-2');
    const x = await a.addTask({ title: 'x', run: 'true' });
    const y = await a.addTask({ title: 'y', run: 'true' });
    const both = await a.addTask({ title: 'after x and y', run: 'true', dependsOn: [x.id, y.id] });
    await a.claim('agent-1', { taskId: x.id });
    await b.claim('agent-2', { taskId: y.id });
    await pause(200);
    await a.complete(x.id, { agent: 'agent-1' });
    expect(b.view.task(x.id)?.status).toBe('working');

    const before = stats(b);
    const done = await b.complete(y.id, { agent: 'agent-2' });
    // Its plan left the task waiting on x; a's entry completed x: planned again, and its own entry
    // releases it.
    expect(stats(b).again).toBeGreaterThan(before.again);
    expect(b.view.task(both.id)?.status).toBe('ready');
    expect(b.view.task(both.id)?.rev).toBe(done.rev);
  });

  it('plans a completion again when an entry it did not read made another task wait on it', async () => {
    const { a, b } = await two('dreamos_aside');
    await warmHot(a, 'agent-1');
    await warmHot(b, 'agent-2');
    const first = await a.addTask({ title: 'first', run: 'true' });
    const then = await a.addTask({ title: 'then', run: 'true' });
    await b.claim('agent-2', { taskId: first.id });
    await pause(200);
    // a makes the ready task wait on the one b works on, behind b's back.
    expect((await a.edit(then.id, { dependsOn: [first.id] })).status).toBe('backlog');
    expect(b.view.task(then.id)?.dependsOn).toEqual([]);

    const before = stats(b);
    const done = await b.complete(first.id, { agent: 'agent-2' });
    // Recorded on top of the edit, its plan would have left the task waiting for good.
    expect(stats(b).again).toBeGreaterThan(before.again);
    expect(b.view.task(then.id)?.status).toBe('ready');
    expect(b.view.task(then.id)?.rev).toBe(done.rev);
  });

  it('takes the next best task in the same round trip once claims have met, when the best was taken', async () => {
    const { a, b } = await two('dreamos_aside');
    await warmHot(a, 'agent-1');
    await warmHot(b, 'agent-2');
    const tasks = [];
    for (let i = 0; i < 6; i++) tasks.push(await a.addTask({ title: `task ${i}`, run: 'true' }));
    // b reads the board, then a takes the best task behind b's back: b's claim of it is refused.
    await b.claim('agent-2', { taskId: (await b.addTask({ title: 'b reads', run: 'true' })).id });
    await pause(200);
    expect((await a.claim('agent-1'))?.id).toBe(tasks[0]!.id);
    let before = stats(b);
    expect((await b.claim('agent-2'))?.id).toBe(tasks[1]!.id);
    expect(stats(b).again).toBeGreaterThan(before.again);

    // Claims have met: b's next claim brings the next best too. a takes the best again.
    await pause(200);
    expect((await a.claim('agent-1'))?.id).toBe(tasks[2]!.id);
    expect(b.view.task(tasks[2]!.id)?.status).toBe('ready');
    before = stats(b);
    const claimed = await b.claim('agent-2');
    const after = stats(b);
    expect(claimed?.id).toBe(tasks[3]!.id);
    if (!refusedForClock({ again: after.again - before.again, locked: after.locked - before.locked }))
      expect(after.again).toBe(before.again);
    expect(b.view.task(tasks[2]!.id)?.agent).toBe('agent-1');
    expect(claimed?.lease?.owner).toBe('agent-2');
  });

  it('records a change whose text holds its placeholder number without changing that text', async () => {
    const { a, client } = await two('dreamos_aside');
    await warmHot(a, 'agent-1');
    const title = `holds ${placeholder} in its title`;
    const odd = await a.addTask({ title, run: 'true' });
    expect((await a.claim('agent-1', { taskId: odd.id }))?.title).toBe(title);
    const done = await a.complete(odd.id, { agent: 'agent-1' });
    expect(done.title).toBe(title);
    // Stored as planned: the table's document and every journal entry of the task.
    const stored = await client.query("SELECT doc->>'title' AS title FROM tasks WHERE id = $1", [odd.id]);
    expect(stored.rows[0].title).toBe(title);
    const { rows } = await client.query(
      "SELECT entry::text AS line FROM journal WHERE entry::text LIKE '%' || $1 || '%' ORDER BY seq",
      [odd.id],
    );
    expect(rows.map((r) => JSON.parse(r.line).tasks[0].task.title)).toEqual([title, title, title]);
  });
});
