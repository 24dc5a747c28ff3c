/**
 * The journal lock kept between a process's transactions (state/lock/kept.ts). Keeping it is
 * only safe if it is let go whatever the keeping process does next: blocks its event loop in
 * synchronous work, exits, is killed, or simply goes on writing while another process waits.
 * Each case runs real processes on one workspace.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireLock, KeptLock } from '../../../state/lock/index.js';
import { cli, cliAsync, collectOutput, ROOT, tempDir } from '../../helpers/workspace.js';

const HELPER = path.join(ROOT, 'tests/helpers/kept-lock.mjs');

let tmp: ReturnType<typeof tempDir>;
let home: string;
let lockDir: string;

beforeEach(() => {
  tmp = tempDir('dreamos-kept-lock-');
  expect(cli(['init'], { cwd: tmp.dir }).code).toBe(0);
  home = path.join(tmp.dir, '.dreamos');
  lockDir = path.join(home, 'locks', 'journal.lock');
});
afterEach(() => tmp.cleanup());

/** Start the helper; resolves once it has the lock kept and has said so. */
async function keeper(action: 'block' | 'exit' | 'kill' | 'burst', stop = '') {
  const signal = path.join(tmp.dir, `signal-${action}`);
  const child = spawn(process.execPath, [HELPER, home, signal, action, stop], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { stdout, stderr } = collectOutput(child);
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  for (let i = 0; i < 1200 && !fs.existsSync(signal); i++) {
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  expect(fs.existsSync(signal), `the helper never kept the lock: ${stderr()}`).toBe(true);
  const { added } = JSON.parse(fs.readFileSync(signal, 'utf8')) as { added: number };
  return { child, added, closed, output: () => ({ stdout: stdout(), stderr: stderr() }) };
}

const taskCount = () => cli(['task', 'list', '--json'], { cwd: tmp.dir }).json<unknown[]>().length;
const doctorOk = () => cli(['doctor', '--json'], { cwd: tmp.dir }).json<{ ok: boolean }>().ok;

describe('a journal lock kept between transactions', () => {
  it('is let go while the keeping process is stuck in synchronous work', async () => {
    const k = await keeper('block');
    // The helper's event loop is blocked for 60 s; the lock wait times out after 15 s.
    const add = cli(['task', 'add', 'while the other is blocked', '--json'], { cwd: tmp.dir });
    expect(add.code, add.stderr).toBe(0);
    k.child.kill('SIGKILL');
    await k.closed;
    expect(taskCount()).toBe(k.added + 1);
    expect(doctorOk()).toBe(true);
  });

  it('is let go when the keeping process exits', async () => {
    const k = await keeper('exit');
    expect(await k.closed).toBe(0);
    expect(fs.existsSync(lockDir)).toBe(false);
    expect(taskCount()).toBe(k.added);
  });

  it('is taken over when the keeping process is killed', async () => {
    const k = await keeper('kill');
    await k.closed;
    const add = cli(['task', 'add', 'after the keeper was killed', '--json'], { cwd: tmp.dir });
    expect(add.code, add.stderr).toBe(0);
    expect(taskCount()).toBe(k.added + 1);
    expect(doctorOk()).toBe(true);
  });

  it('is handed over to a waiting process while the keeper goes on writing', async () => {
    const stop = path.join(tmp.dir, 'stop');
    const k = await keeper('burst', stop);
    // Three commands, one after the other, while the burst goes on: each must get its turn (the
    // holder hands over after its hold budget, or lets go when its next transaction is late).
    for (let i = 0; i < 3; i++) {
      const add = await cliAsync(['task', 'add', `during the burst ${i}`, '--json'], { cwd: tmp.dir });
      expect(add.code, add.stderr).toBe(0);
    }
    expect(k.child.exitCode).toBeNull(); // still writing
    fs.writeFileSync(stop, '');
    expect(await k.closed, k.output().stderr).toBe(0);
    const added = Number(k.output().stdout);
    expect(added).toBeGreaterThan(k.added);
    expect(taskCount()).toBe(added + 3);
    expect(doctorOk()).toBe(true);
  });
});

describe('the lock module, in one process', () => {
  it('a kept lock let go by its keeper never touches the directory another process made after it', async () => {
    const target = path.join(tmp.dir, 'locks', 'probe');
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const kept = new KeptLock(target, {
      timeoutMs: 5000,
      holdMs: 20,
      lingerMs: 1,
      handoverMs: 1,
      keepAfter: 1,
    });
    const dirOf = `${target}.lock`;
    // Transactions back to back (a burst) until the keeper thread runs and the lock stays kept.
    let ours = new Date(0);
    let keptNow = false;
    for (let i = 0; i < 20_000 && !keptNow; i++) {
      await kept.take();
      ours = fs.statSync(dirOf).mtime;
      kept.done();
      keptNow = fs.existsSync(dirOf);
    }
    expect(keptNow).toBe(true);
    for (let i = 0; i < 200 && fs.existsSync(dirOf); i++) await new Promise((r) => setTimeout(r, 5));
    expect(fs.existsSync(dirOf)).toBe(false); // let go by the keeper thread
    // Another process takes the lock within the same second: proper-lockfile gives both the same mtime.
    fs.mkdirSync(dirOf);
    fs.utimesSync(dirOf, ours, ours);
    // proper-lockfile's refresh timer of the old lock fires after 5 s; it must not touch this one.
    await new Promise((r) => setTimeout(r, 5600));
    expect(fs.statSync(dirOf).mtime.getTime()).toBe(ours.getTime());
    kept.close();
    expect(fs.existsSync(dirOf)).toBe(true);
    fs.rmdirSync(dirOf);
  }, 20_000);

  it('is still let go after proper-lockfile refreshed it while it was kept', async () => {
    const target = path.join(tmp.dir, 'locks', 'refreshed');
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const kept = new KeptLock(target, {
      timeoutMs: 5000,
      holdMs: 60_000,
      lingerMs: 5,
      handoverMs: 1,
      keepAfter: 1,
    });
    const dirOf = `${target}.lock`;
    // A burst that lets the event loop turn between transactions, until the 5-second refresh
    // timer has run while the lock was kept (the directory's mtime changes), then nothing more.
    let first: number | null = null;
    let refreshed = false;
    const until = Date.now() + 15_000;
    while (!refreshed && Date.now() < until) {
      await kept.take();
      first ??= fs.statSync(dirOf).mtimeMs;
      kept.done();
      await new Promise((r) => setImmediate(r));
      const now = fs.statSync(dirOf, { throwIfNoEntry: false })?.mtimeMs;
      refreshed = now !== undefined && now !== first;
    }
    expect(refreshed).toBe(true);
    // The process is idle now: the keeper thread must let the lock go.
    for (let i = 0; i < 200 && fs.existsSync(dirOf); i++) await new Promise((r) => setTimeout(r, 5));
    expect(fs.existsSync(dirOf)).toBe(false);
    kept.close();
  }, 30_000);

  it('a release that fails still lets the next acquirer in this process have its turn', async () => {
    const target = path.join(tmp.dir, 'locks', 'sticky');
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const first = await acquireLock(target);
    fs.writeFileSync(path.join(`${target}.lock`, 'in the way'), ''); // rmdir will fail (ENOTEMPTY)
    await expect(first.release()).rejects.toThrow(/ENOTEMPTY|not empty/);
    // The directory is left behind by a process that no longer holds it: taken over, not waited for.
    const second = await acquireLock(target, { timeoutMs: 5000 });
    await second.release();
    expect(fs.existsSync(`${target}.lock`)).toBe(false);
  });
});
