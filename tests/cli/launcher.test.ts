/**
 * bin/dreamos.js runs the CLI through a V8 code cache kept in the user's cache folder. The cache is
 * an optimisation only: a first run writes it, later runs use it, and a damaged cache, an unsafe
 * folder or DREAMOS_NO_CODE_CACHE must never change what a command does.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli, tempDir } from '../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
let cacheHome: string;
const dir = () => path.join(cacheHome, 'dreamos');
const caches = () =>
  fs.existsSync(dir()) ? fs.readdirSync(dir()).filter((n) => n.endsWith('.v8cache')) : [];

beforeEach(() => {
  tmp = tempDir('dreamos-launcher-');
  cacheHome = path.join(tmp.dir, 'cache');
  expect(cli(['init'], { cwd: tmp.dir }).code).toBe(0);
});
afterEach(() => tmp.cleanup());

/** `dreamos status --json` with the cache folder of this test, and what the launcher says of the cache. */
function status(env: Record<string, string> = {}) {
  const r = cli(['status', '--json'], {
    cwd: tmp.dir,
    env: { XDG_CACHE_HOME: cacheHome, DREAMOS_CODE_CACHE_REPORT: '1', ...env },
  });
  expect(r.code, r.stderr).toBe(0);
  const report = /dreamos: code cache (\w+)/.exec(r.stderr)?.[1];
  return { json: r.json<Record<string, unknown>>(), report, stderr: r.stderr };
}

describe('the code cache of the CLI', () => {
  it('is written by the first run and used by the next, in a folder only the user may write', () => {
    const first = status();
    expect(first.report).toBe('absent');
    expect(caches()).toHaveLength(1);
    expect(fs.statSync(dir()).mode & 0o077).toBe(0);
    const second = status();
    expect(second.report).toBe('used');
    expect(second.json).toEqual(first.json);
  });

  it('is rewritten when it is damaged, and the command works all the same', () => {
    status();
    const [name] = caches();
    fs.writeFileSync(path.join(dir(), name!), 'not a cache at all');
    const damaged = status();
    expect(damaged.report).toBe('rejected');
    expect(damaged.json).toMatchObject({ seq: expect.any(Number), counts: expect.anything() });
    expect(status().report).toBe('used');
  });

  it('is not used from a folder others may write to, nor with DREAMOS_NO_CODE_CACHE', () => {
    fs.mkdirSync(dir(), { recursive: true });
    fs.chmodSync(dir(), 0o777);
    expect(status().report).toBe('off');
    expect(caches()).toEqual([]);
    fs.chmodSync(dir(), 0o700);
    expect(status({ DREAMOS_NO_CODE_CACHE: '1' }).report).toBe('off');
    expect(caches()).toEqual([]);
  });
});
