/**
 * The console shows a journal lock held by a stopped process as an attention item, and drops it
 * once the holder is resumed: stopping or resuming moves no journal line, so the console looks.
 */
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { holdLock, type LockHolderProcess } from '../../helpers/busy-run.js';
import { cleanupAll, open } from '../../helpers/ui.js';

let holder: LockHolderProcess | null = null;
afterEach(async () => {
  await holder?.kill();
  holder = null;
  await cleanupAll();
});

describe('the console', () => {
  test('shows "lock stopped" and its age while the journal lock holder is stopped, and not after', async () => {
    // Wide enough for the whole text of the item, with the holder's command line.
    const h = await open({ size: { columns: 400, rows: 40 } });
    holder = await holdLock(h.ws.home, path.dirname(h.ws.home));
    expect(h.frame()).not.toContain('lock stopped');
    holder.child.kill('SIGSTOP');
    const frame = await h.waitFor((f) => f.includes('lock stopped'), 'the lock-stopped item', 20_000);
    expect(frame).toContain(`pid ${holder.pid}`);
    // Its age moves on with no journal change: the console looks again by itself.
    const age = (f: string) => /for (\d+) s/.exec(f)?.[1];
    const first = age(frame);
    expect(first).toBeDefined();
    await h.waitFor((f) => age(f) !== undefined && age(f) !== first, 'the age to move on', 20_000);
    holder.child.kill('SIGCONT');
    await h.waitFor((f) => !f.includes('lock stopped'), 'the item gone after the resume', 20_000);
  }, 60_000);
});
