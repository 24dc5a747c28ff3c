/** The JSON store's leader of a role: a record under a lock in locks/, judged by the machine's clock. */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { leadByFile, leaderFiles } from '../../../state/leader-file.js';
import { type WorkspacePaths, workspacePaths } from '../../../state/paths.js';
import { tempDir } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
let paths: WorkspacePaths;
const TTL = 60_000;
const lead = (holder: string, ttlMs = TTL) => leadByFile(paths, 'sweeps', holder, ttlMs, 5000);

beforeEach(() => {
  tmp = tempDir('dreamos-leader-');
  paths = workspacePaths(path.join(tmp.dir, '.dreamos'));
  for (const dir of [paths.home, paths.locksDir, paths.quarantineDir]) fs.mkdirSync(dir, { mode: 0o700 });
});
afterEach(() => {
  vi.useRealTimers();
  tmp.cleanup();
});

describe('leadByFile', () => {
  it('gives a free role to the first holder, who renews it while others are refused', async () => {
    expect(await lead('a')).toBe(true);
    expect(await lead('b')).toBe(false);
    expect(await lead('a')).toBe(true);
    expect(await lead('b')).toBe(false);
    // Another role is another record.
    expect(await leadByFile(paths, 'other', 'b', TTL, 5000)).toBe(true);
  });

  it('refuses a holder until the term of the one before has run out, then the old one is refused', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Date.now();
    expect(await lead('a')).toBe(true);
    vi.setSystemTime(start + TTL - 1);
    expect(await lead('b')).toBe(false);
    vi.setSystemTime(start + TTL);
    expect(await lead('b')).toBe(true);
    expect(await lead('a')).toBe(false);
  });

  it('renewing moves the end of the term', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Date.now();
    expect(await lead('a')).toBe(true);
    vi.setSystemTime(start + TTL / 2);
    expect(await lead('a')).toBe(true);
    vi.setSystemTime(start + TTL + 1);
    expect(await lead('b')).toBe(false);
  });

  it('moves an unreadable record to quarantine/ and lets the role be claimed', async () => {
    expect(await lead('a')).toBe(true);
    const { record } = leaderFiles(paths, 'sweeps');
    fs.writeFileSync(record, '{"holder": ');
    expect(await lead('b')).toBe(true);
    expect(fs.readdirSync(paths.quarantineDir)).toEqual([expect.stringMatching(/leader-sweeps\.json$/)]);
    expect(await lead('a')).toBe(false);
  });

  it('refuses a role name that is no plain file name', async () => {
    for (const role of ['', '../journal', 'Sweeps', 'a b']) {
      await expect(leadByFile(paths, role, 'a', TTL, 5000)).rejects.toMatchObject({
        code: 'E_INVALID_INPUT',
      });
    }
    expect(fs.readdirSync(paths.locksDir)).toEqual([]);
  });
});
