/**
 * The console shows a journal lock held by a stopped process as an attention item, and drops it
 * once the holder is resumed: stopping or resuming moves no journal line, so the console looks.
 */
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { holdLock, type LockHolderProcess } from '../helpers/busy-run.js';
import { cleanupAll, open } from './helpers.js';

let holder: LockHolderProcess | null = null;
afterEach(async () => {
  await holder?.kill();
  holder = null;
  await cleanupAll();
});

describe('the console', () => {
  test('shows "lock stopped" while the journal lock holder is stopped, and not after', async () => {
    const h = await open();
    holder = await holdLock(h.ws.home, path.dirname(h.ws.home));
    expect(h.frame()).not.toContain('lock stopped');
    holder.child.kill('SIGSTOP');
    const frame = await h.waitFor((f) => f.includes('lock stopped'), 'the lock-stopped item', 20_000);
    expect(frame).toContain(`pid ${holder.pid}`);
    holder.child.kill('SIGCONT');
    await h.waitFor((f) => !f.includes('lock stopped'), 'the item gone after the resume', 20_000);
  }, 60_000);
});
