/** The lock code installs its exit hook on first use, once, and never as a side effect of importing it. */
import path from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';
import { tempDir } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir> | null = null;
afterEach(() => {
  tmp?.cleanup();
  tmp = null;
});

it('registers its exit hook on the first acquire, not at import', async () => {
  vi.resetModules();
  const before = process.listenerCount('exit');
  const { acquireLock, inspectLock } = await import('../../../state/lock/index.js');
  expect(process.listenerCount('exit')).toBe(before);
  tmp = tempDir('dreamos-lock-registry-');
  const target = path.join(tmp.dir, 'journal');
  expect(inspectLock(target).held).toBe(false); // a look registers nothing
  expect(process.listenerCount('exit')).toBe(before);
  for (let i = 0; i < 2; i++) {
    const lock = await acquireLock(target, { timeoutMs: 5000 });
    await lock.release();
  }
  expect(process.listenerCount('exit')).toBe(before + 1);
});
