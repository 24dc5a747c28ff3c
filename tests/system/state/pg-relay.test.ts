/**
 * What the shared writer of a PostgreSQL host relies on in its state (state/pg/store.ts): the journal
 * lines it hands an asker follow on from the asker's own state, or none are handed; and a state
 * loaded anew from the tables tells the request log which requests the journal holds, since it did
 * not read them entry by entry (a writer that reloads must still refuse a request its asker settled).
 */
import pg from 'pg';
import { expect, it } from 'vitest';
import type { Workspace } from '../../../src/workspace.js';
import type { EntryObserver } from '../../../state/change.js';
import type { PgBackend } from '../../../state/pg/index.js';
import type { JournalEntry } from '../../../state/schemas.js';
import { cleanupsAfterEach } from '../../helpers/cleanups.js';
import { describePg, postgresOpener, TEST_PG_URL } from '../../helpers/pg.js';

describePg('the state a PostgreSQL shared writer relies on', () => {
  const cleanups = cleanupsAfterEach();

  const backendOf = (ws: Workspace) => ws.db as PgBackend;
  const decode = (buffers: Buffer[] | null) =>
    buffers?.map((b) => JSON.parse(b.toString()) as string) ?? null;

  /** The crc of entry `seq` as the journal table holds it. */
  async function crcAt(schema: string, seq: number): Promise<string> {
    const client = new pg.Client({ connectionString: TEST_PG_URL });
    await client.connect();
    try {
      const { rows } = await client.query(
        `SELECT entry->>'crc' AS crc FROM "${schema}".journal WHERE seq = $1`,
        [seq],
      );
      return rows[0].crc as string;
    } finally {
      await client.end();
    }
  }

  it('hands out the lines after an entry only to a state that agrees on that entry', async () => {
    const { schema, open } = await postgresOpener('dreamos_relay', cleanups);
    const ws = await open();
    const tasks = [];
    for (let i = 0; i < 3; i++) tasks.push(await ws.addTask({ title: `relayed ${i}` }));
    const relay = backendOf(ws).relay;
    const { seq, crc } = relay.seen();
    expect(seq).toBe(tasks[2]!.rev);
    expect(crc).toBe(await crcAt(schema, seq));

    // An asker two entries behind, on the same entry as this state: the two lines that follow.
    const base = tasks[0]!.rev;
    const lines = decode(relay.entriesAfter(base, await crcAt(schema, base)));
    expect(lines?.map((line) => (JSON.parse(line) as JournalEntry).seq)).toEqual([base + 1, base + 2]);
    // One whose entry there differs (a crash took it back and another was written at its number),
    // or that is further back than the lines at hand: nothing; it reads the journal itself.
    expect(relay.entriesAfter(base, '00000000')).toBeNull();
    expect(relay.entriesAfter(base, null)).toBeNull();
    expect(relay.entriesAfter(0, null)).toBeNull();
    // Up to date: nothing to send.
    expect(relay.entriesAfter(seq, crc)).toEqual([]);
  });

  it('takes lines only where they follow on from its own state, and only valid entries', async () => {
    const { schema, open } = await postgresOpener('dreamos_absorb', cleanups);
    const writer = await open();
    const first = await writer.addTask({ title: 'first' });
    // The asker's state is as of `first` (loaded at open); it reads nothing unless asked to.
    const asker = await open();
    await writer.addTask({ title: 'second' });
    const third = await writer.addTask({ title: 'third' });
    expect(backendOf(asker).relay.seen().seq).toBe(first.rev);
    const lines = decode(backendOf(writer).relay.entriesAfter(first.rev, await crcAt(schema, first.rev)))!;
    expect(lines).toHaveLength(2);
    const stats = backendOf(asker).readStats;
    // A line that leaves a gap is not taken.
    backendOf(asker).relay.absorb([lines[1]!]);
    expect(stats.relayed).toBe(0);
    // A line whose crc does not match its text is not an entry: nothing from it on is taken.
    backendOf(asker).relay.absorb([lines[0]!.replace('"title":"second"', '"title":"forged"'), lines[1]!]);
    expect(stats.relayed).toBe(0);
    expect(asker.view.task(third.id)).toBeUndefined();
    backendOf(asker).relay.absorb(lines);
    expect(stats.relayed).toBe(2);
    // What it says it has read next time is the journal's entry there.
    expect(backendOf(asker).relay.seen()).toEqual({ seq: third.rev, crc: await crcAt(schema, third.rev) });
    expect(asker.view.task(third.id)?.title).toBe('third');
  });

  it('tells the request log, after loading the state anew, which requests the journal holds', async () => {
    const { open } = await postgresOpener('dreamos_reload', cleanups);
    const ws = await open();
    const other = await open();
    const from = backendOf(ws).relay.seen().seq;
    // Another process settles a request through the journal (an empty change under its id).
    await other.db.transact(() => ({
      change: { op: 'settle-request', by: 'agent-1', req: { id: '123-abcdef12-1', task: null } },
      result: null,
    }));
    const seen: string[] = [];
    const reloads: string[][] = [];
    const observer: EntryObserver = {
      onEntry: (entry) => seen.push(entry.req?.id ?? '-'),
      reloadFrom: () => from + 1,
      onReload: (entries) => reloads.push(entries.map((e) => e.req!.id)),
    };
    backendOf(ws).observe(observer);
    // The state loaded from the tables, as after a failed commit: the entry was never read one by one.
    await (backendOf(ws) as unknown as { reload(): Promise<void> }).reload();
    expect(seen).toEqual([]);
    expect(reloads).toEqual([['123-abcdef12-1']]);
  });
});
