/**
 * The launcher (bin/dreamos.js, built from src/launcher.cts). It runs the CLI through a code cache kept
 * in the user's cache folder: an optimisation only, so a first run writes it, later runs use it, and a
 * damaged cache, an unsafe folder or DREAMOS_NO_CODE_CACHE must never change what a command does. It
 * sends the console to its own bundle, so that no process holds two copies of the engine.
 */

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import Module from 'node:module';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { consoleRequest } from '../../../src/console-request.js';
import { alive, hasTmux, tmuxServer } from '../../helpers/terminal.js';
import { BIN, cli, tempDir } from '../../helpers/workspace.js';

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

describe('a clone that was never built', () => {
  it('says to run npm install instead of a stack trace', () => {
    // bin/ and the launcher of this build, but no CLI bundle beside them.
    const clone = path.join(tmp.dir, 'clone');
    fs.mkdirSync(path.join(clone, 'bin'), { recursive: true });
    fs.mkdirSync(path.join(clone, 'dist'));
    fs.copyFileSync(BIN, path.join(clone, 'bin', 'dreamos.js'));
    fs.copyFileSync(
      path.join(path.dirname(BIN), '..', 'dist', 'launcher.cjs'),
      path.join(clone, 'dist', 'launcher.cjs'),
    );
    const r = spawnSync(process.execPath, [path.join(clone, 'bin', 'dreamos.js'), 'status'], {
      cwd: tmp.dir,
      encoding: 'utf8',
      timeout: 30_000,
      killSignal: 'SIGKILL',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('dreamos: not built yet; run `npm install` or `npm run build` first\n');
  });
});

describe('which command lines open the console', () => {
  it('takes exactly the forms commander accepts for `dreamos` and `dreamos console`', () => {
    const plain = { json: false, attach: false, readOnly: false };
    expect(consoleRequest([])).toEqual({ bare: true, ...plain });
    expect(consoleRequest(['--home', 'h', '--json'])).toEqual({
      bare: true,
      ...plain,
      home: 'h',
      json: true,
    });
    expect(consoleRequest(['console', '--home=h', '--read-only'])).toEqual({
      bare: false,
      ...plain,
      home: 'h',
      readOnly: true,
    });
    expect(consoleRequest(['--json', 'console', '--attach', '--attach', '--'])).toEqual({
      bare: false,
      ...plain,
      json: true,
      attach: true,
    });
    // --serve takes an address when the next word is not an option, as commander reads it.
    expect(consoleRequest(['console', '--serve'])).toEqual({ bare: false, ...plain, serve: true });
    expect(consoleRequest(['console', '--serve', '--attach'])).toEqual({
      bare: false,
      ...plain,
      attach: true,
      serve: true,
    });
    expect(consoleRequest(['console', '--serve', '127.0.0.1:0'])).toEqual({
      bare: false,
      ...plain,
      serve: '127.0.0.1:0',
    });
    expect(consoleRequest(['console', '--serve=[::1]:7420'])).toEqual({
      bare: false,
      ...plain,
      serve: '[::1]:7420',
    });
    // The CLI answers these: help, usage errors, other commands.
    for (const argv of [
      ['--serve'],
      ['console', '--serve', 'a', 'b'],
      ['--attach'],
      ['--home'],
      ['--help'],
      ['console', '-h'],
      ['console', 'x'],
      ['console', '--', 'x'],
      ['console', '--read-only=1'],
      ['console', 'console'],
      ['status'],
      ['help', 'console'],
    ])
      expect(consoleRequest(argv), argv.join(' ')).toBeNull();
  });
});

describe('one engine per process', () => {
  const term = tmuxServer('dreamos-launcher');
  afterAll(() => term.kill());
  /** The files of the build that `dreamos` runs from. */
  const dist = fs.realpathSync(path.join(path.dirname(BIN), '..', 'dist'));
  /** Where the engine's code is: the one place that names the error class (minified or not). */
  const ENGINE = /\.name\s*=\s*["']DreamError["']/;

  /**
   * A preload that writes down every file the process loads: ES modules through a loader hook,
   * CommonJS modules from require.cache, and whatever is read to be compiled by hand (vm.Script).
   */
  function recorder(log: string): Record<string, string> {
    const hooks = path.join(tmp.dir, 'record-hooks.mjs');
    fs.writeFileSync(
      hooks,
      `import { appendFileSync } from 'node:fs';
export async function load(url, context, nextLoad) {
  appendFileSync(${JSON.stringify(log)}, url + '\\n');
  return nextLoad(url, context);
}
`,
    );
    const preload = path.join(tmp.dir, 'record.cjs');
    fs.writeFileSync(
      preload,
      `const fs = require('node:fs');
const { pathToFileURL } = require('node:url');
require('node:module').register(${JSON.stringify(pathToFileURL(hooks).href)});
const read = fs.readFileSync;
const files = new Set();
fs.readFileSync = function (file, ...rest) {
  if (typeof file === 'string') files.add(file);
  return read.call(this, file, ...rest);
};
process.on('exit', () => {
  const all = [...files, ...Object.keys(require.cache)].filter((f) => f.startsWith('/'));
  fs.appendFileSync(${JSON.stringify(log)}, all.map((f) => pathToFileURL(f).href + '\\n').join(''));
});
`,
    );
    return { NODE_OPTIONS: `--require ${preload}`, DREAMOS_MODULE_LOG: log };
  }

  /** The files of the build a process loaded that hold a copy of the engine. */
  function engines(log: string): string[] {
    const loaded = new Set(
      fs
        .readFileSync(log, 'utf8')
        .split('\n')
        .filter((line) => line.startsWith('file:'))
        .map((line) => new URL(line).pathname),
    );
    return [...loaded]
      .filter((file) => path.dirname(file) === dist && ENGINE.test(fs.readFileSync(file, 'utf8')))
      .map((file) => path.basename(file));
  }

  async function until(what: string, probe: () => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!probe()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${term.screen()}`);
      await sleep(100);
    }
  }

  it('a headless command loads the CLI bundle only (the recorder sees it)', () => {
    const log = path.join(tmp.dir, 'cli-modules.log');
    const r = cli(['status', '--json'], { cwd: tmp.dir, env: recorder(log) });
    expect(r.code, r.stderr).toBe(0);
    expect(engines(log)).toEqual(['cli.cjs']);
  });

  it.skipIf(!hasTmux)(
    `the console loads one copy of the engine, not the CLI's as well${hasTmux ? '' : ' (SKIPPED: tmux is not installed)'}`,
    async () => {
      const log = path.join(tmp.dir, 'console-modules.log');
      const env = Object.entries(recorder(log))
        .map(([k, v]) => `${k}='${v}'`)
        .join(' ');
      const pid = term.open('main', tmp.dir, `exec env ${env} ${process.execPath} ${BIN} console --attach`);
      await until('the console', () => term.screen().includes('Dashboard'));
      term.tmux('send-keys', '-t', 'main', 'q');
      await until('the console to exit', () => !alive(pid));
      const found = engines(log);
      expect(found).toHaveLength(1);
      expect(found[0]).not.toBe('cli.cjs');
    },
  );

  it.skipIf(!hasTmux)(
    `an error of the console's engine is reported with its own exit code${hasTmux ? '' : ' (SKIPPED: tmux is not installed)'}`,
    async () => {
      // No workspace here: the console's engine refuses with a DreamError, which a second copy of the
      // class would not recognise (it would exit 1, as for a bug).
      const nowhere = tempDir('dreamos-launcher-nowhere-');
      const code = path.join(tmp.dir, 'console-exit');
      try {
        term.open(
          'nowhere',
          nowhere.dir,
          `env -u DREAMOS_HOME ${process.execPath} ${BIN} console --attach 2>${code}.err; echo $? >${code}`,
        );
        await until(
          'the console to exit',
          () => fs.existsSync(code) && fs.readFileSync(code, 'utf8').endsWith('\n'),
        );
      } finally {
        nowhere.cleanup();
      }
      expect(fs.readFileSync(code, 'utf8').trim()).toBe('3');
      expect(fs.readFileSync(`${code}.err`, 'utf8')).toMatch(/^dreamos: no Dream\.OS workspace here/);
    },
  );
});
