/**
 * The doorbell's pace (state/pg/doorbell.ts): a process rings at most once per tick. A change made a
 * tick or more after the last bell rings at once; changes made sooner ring once, at the end of the
 * tick, or when the process closes its state, whichever comes first. Heard by a plain LISTEN on the
 * schema's channel.
 */
import pg from 'pg';
import { expect, it } from 'vitest';
import { Doorbell } from '../../../state/pg/doorbell.js';
import { cleanupsAfterEach } from '../../helpers/cleanups.js';
import { describePg, TEST_PG_URL, testSchema } from '../../helpers/pg.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describePg('the doorbell, at most once per tick', () => {
  const cleanups = cleanupsAfterEach();

  /** A bell with the given tick, and a listener that counts what it hears. */
  async function bellAndEar(tickMs: number) {
    const { schema } = await testSchema('dreamos_bell');
    const channel = `dreamos_${schema}`;
    const ear = new pg.Client({ connectionString: TEST_PG_URL });
    ear.on('error', () => undefined);
    await ear.connect();
    cleanups.push(() => ear.end());
    let heard = 0;
    ear.on('notification', (n) => {
      if (n.channel === channel) heard += 1;
    });
    await ear.query(`LISTEN "${channel}"`);
    const bell = new Doorbell({ url: TEST_PG_URL, schema }, channel, tickMs);
    cleanups.push(() => bell.close());
    const heardAtLeast = async (n: number) => {
      for (let i = 0; i < 500 && heard < n; i++) await sleep(10);
      return heard;
    };
    return { bell, heard: () => heard, heardAtLeast };
  }

  it('rings changes made within the tick once, when the state is closed before the tick ends', async () => {
    const { bell, heard, heardAtLeast } = await bellAndEar(60_000);
    bell.ring();
    expect(await heardAtLeast(1)).toBe(1);
    bell.ring();
    bell.ring();
    bell.ring();
    // The tick is a minute: nothing more can go before close.
    await sleep(300);
    expect(heard()).toBe(1);
    await bell.close();
    expect(await heardAtLeast(2)).toBe(2);
    await sleep(100);
    expect(heard()).toBe(2);
  });

  it('rings at the end of the tick for changes made within it, and at once after it', async () => {
    const { bell, heard, heardAtLeast } = await bellAndEar(2000);
    // Its connection made first, and that bell's tick let run out.
    bell.ring();
    expect(await heardAtLeast(1)).toBe(1);
    await sleep(2100);
    bell.ring();
    expect(await heardAtLeast(2)).toBe(2);
    bell.ring();
    bell.ring();
    expect(await heardAtLeast(3)).toBe(3);
    // Nothing more is owed.
    await sleep(300);
    expect(heard()).toBe(3);
  });

  it('rings nothing at close when nothing is owed', async () => {
    const { bell, heard, heardAtLeast } = await bellAndEar(60_000);
    bell.ring();
    expect(await heardAtLeast(1)).toBe(1);
    await bell.close();
    await sleep(200);
    expect(heard()).toBe(1);
  });
});
