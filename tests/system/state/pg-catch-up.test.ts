/**
 * A process far behind the journal catches up outside the write lock: under the lock it applies at
 * most `catchUpInLock` entries, so one lagging process cannot hold every writer of the board up for
 * long. A process whose state the journal no longer reaches (retention went past it) loads the tables
 * outside the lock too. Either way its change lands after every entry before it.
 */
import { expect, it } from 'vitest';
import type { Workspace } from '../../../src/workspace.js';
import type { PgBackend } from '../../../state/pg/index.js';
import { boardProblems } from '../../helpers/backends.js';
import { cleanupsAfterEach } from '../../helpers/cleanups.js';
import { describePg, postgresOpener, trimJournal } from '../../helpers/pg.js';

describePg('a process far behind the journal', () => {
  const cleanups = cleanupsAfterEach();

  async function two(prefix: string) {
    const { schema, open } = await postgresOpener(prefix, cleanups);
    return { schema, open, writer: await open(), lagging: await open() };
  }

  const titles = (ws: Workspace) => [...ws.view.tasks()].map((t) => t.title).sort();

  it('reads what it missed outside the lock, and applies little under it', async () => {
    const { open, writer, lagging } = await two('dreamos_catchup');
    const backend = lagging.db as PgBackend;
    backend.catchUpInLock = 10;
    const start = lagging.view.seq;
    for (let i = 0; i < 60; i++) await writer.addTask({ title: `meanwhile ${i}` });

    const mine = await lagging.addTask({ title: 'from the lagging one' });
    expect(backend.lockedCatchUp).toBeLessThanOrEqual(10);
    expect(lagging.view.seq).toBe(start + 61);
    expect(lagging.view.task(mine.id)?.title).toBe('from the lagging one');
    await writer.addTask({ title: 'last' });
    await lagging.addTask({ title: 'after the last' });
    // Its state is the tables' state, as a process that opens now loads it.
    expect(titles(lagging)).toEqual(titles(await open()));
    expect(titles(lagging)).toHaveLength(63);
    expect(boardProblems(lagging.view)).toEqual([]);
  });

  it('loads the tables outside the lock when retention went past its state', async () => {
    const { schema, open, writer, lagging } = await two('dreamos_catchup');
    const backend = lagging.db as PgBackend;
    backend.catchUpInLock = 10;
    for (let i = 0; i < 60; i++) await writer.addTask({ title: `meanwhile ${i}` });
    const trimmed = await trimJournal(schema, 5, { maxBatches: 5 });
    expect(trimmed.floor).toBeGreaterThan(lagging.view.seq);

    await lagging.addTask({ title: 'from the lagging one' });
    expect(backend.lockedCatchUp).toBeLessThanOrEqual(10);
    expect(titles(lagging)).toHaveLength(61);
    await writer.addTask({ title: 'last' });
    await lagging.addTask({ title: 'after the last' });
    expect(titles(lagging)).toEqual(titles(await open()));
    expect(titles(lagging)).toHaveLength(63);
    expect(boardProblems(lagging.view)).toEqual([]);
  });
});
