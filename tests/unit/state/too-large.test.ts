/**
 * A state too large to write (a snapshot's JSON past V8's longest string, a RangeError): the error
 * says what shrinks it, instead of promising that a later command will bring the files up to date,
 * which no later command can (issue 20, M5). The size is simulated: building a 512 Mi string would
 * cost gigabytes.
 */
import { afterEach, expect, it, vi } from 'vitest';
import { initWorkspace } from '../../../src/index.js';
import { tempDir } from '../../helpers/workspace.js';

const tmp = tempDir();
afterEach(() => {
  vi.restoreAllMocks();
  tmp.cleanup();
});

it('a snapshot that cannot be serialised names the way out, not a repair that never comes', async () => {
  const ws = await initWorkspace({ dir: tmp.dir });
  await ws.addTask({ title: 'one task too many' });
  const stringify = JSON.stringify;
  // Snapshot files are the only JSON written with an indent of 1.
  vi.spyOn(JSON, 'stringify').mockImplementation(((value: unknown, replacer: never, space?: number) => {
    if (space === 1) throw new RangeError('Invalid string length');
    return stringify(value, replacer, space);
  }) as typeof JSON.stringify);
  const closing = ws.close();
  await expect(closing).rejects.toThrow(/too large to write: acknowledge mail .*mail ack --all/);
  await expect(closing).rejects.not.toThrow(/a later command brings them up to date/);
});
