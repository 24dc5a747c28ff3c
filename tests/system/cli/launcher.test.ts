/**
 * The launcher (bin/dreamos.js loads src/launcher.cts, built to dist/launcher.cjs) runs the CLI through
 * a V8 code cache kept in the user's cache folder. The cache is an optimisation only: a first run
 * writes it, later runs use it, and a damaged cache, an unsafe folder or DREAMOS_NO_CODE_CACHE must
 * never change what a command does.
 */
import fs from 'node:fs';
import Module from 'node:module';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli, tempDir } from '../../helpers/workspace.js';

/** Node 22.1 and later keep the compile cache themselves; the launcher's own V8 cache is for Node 20. */
const nodeCompileCache = 'enableCompileCache' in Module;

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

describe.skipIf(nodeCompileCache)('the code cache of the CLI on Node 20', () => {
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

describe.runIf(nodeCompileCache)('the code cache of the CLI on Node 22.1 and later', () => {
  it("is Node's own, in the user's cache folder, and changes nothing", () => {
    const first = status();
    expect(first.report).toBe('node');
    expect(status({ DREAMOS_NO_CODE_CACHE: '1' })).toMatchObject({ report: 'off', json: first.json });
  });
});

describe('the end of a command', () => {
  /** A module preloaded into the CLI's process that keeps its event loop busy for ever. */
  function keepAlive(): string {
    const file = path.join(tmp.dir, 'keep-alive.cjs');
    fs.writeFileSync(file, 'setInterval(() => {}, 1000);\n');
    return file;
  }

  it('exits once its output is written, whatever else would keep the process running', () => {
    // Node 20 can wait for ever when the event loop runs empty (nodejs/node#54918): the CLI exits
    // itself. Here a timer stands for whatever might be left: without that exit the command never ends.
    const env = { NODE_OPTIONS: `--require ${keepAlive()}` };
    const inputs = Array.from({ length: 2000 }, (_, i) => ({
      title: `task ${i + 1}`,
      prompt: 'x'.repeat(500),
    }));
    fs.writeFileSync(path.join(tmp.dir, 'tasks.json'), JSON.stringify(inputs));
    const imported = cli(['task', 'import', 'tasks.json', '--json'], { cwd: tmp.dir, env });
    expect(imported.code, imported.stderr).toBe(0);
    // More than a pipe holds (about 2 MB): all of it arrives before the process exits.
    const listed = cli(['task', 'list', '--json'], { cwd: tmp.dir, env });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout.length).toBeGreaterThan(1_000_000);
    expect(listed.json<unknown[]>()).toHaveLength(2000);
    // An error keeps its exit code and its message.
    const missing = cli(['task', 'show', 'T-99999'], { cwd: tmp.dir, env });
    expect(missing.code).toBe(3); // not found
    expect(missing.stderr).toMatch(/T-99999/);
  });
});
