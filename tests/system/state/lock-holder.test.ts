/**
 * The holder of a lock, as the lock-timeout error names it: its pid, whether it is running, stopped
 * (SIGSTOP) or gone, and what to do. A real process holds the journal lock (fault-hold-lock.mjs).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DreamError } from '../../../src/errors.js';
import { acquireLock, lockHolder } from '../../../state/lock/index.js';
import { procStat } from '../../../state/proc.js';
import { waitFor } from '../../helpers/agents.js';
import { type LockHolderProcess, holdLock as startHolder } from '../../helpers/busy-run.js';
import { cli, ROOT, tempDir } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
let home: string;
let target: string;
let holder: LockHolderProcess | null = null;
let parent: ChildProcess | null = null;

beforeEach(() => {
  tmp = tempDir('dreamos-lock-holder-');
  expect(cli(['init'], { cwd: tmp.dir }).code).toBe(0);
  home = path.join(tmp.dir, '.dreamos');
  target = path.join(home, 'locks', 'journal');
});
afterEach(async () => {
  await holder?.kill();
  holder = null;
  parent?.kill('SIGKILL'); // its zombie child goes to init, which reaps it
  parent = null;
  tmp.cleanup();
});

async function holdLock(): Promise<number> {
  holder = await startHolder(home, tmp.dir);
  return holder.pid;
}

async function lockError(timeoutMs: number): Promise<DreamError> {
  const error = await acquireLock(target, { timeoutMs }).then(
    async (lock) => {
      await lock.release();
      throw new Error('the lock was taken although another process holds it');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DreamError);
  return error as DreamError;
}

describe('the holder of a lock', () => {
  it('is named as running while it runs', async () => {
    const pid = await holdLock();
    expect(lockHolder(target)).toMatchObject({ pid, state: 'running' });
    const error = await lockError(300);
    expect(error.code).toBe('E_LOCK_TIMEOUT');
    expect(error.message).toMatch(
      new RegExp(`held by pid ${pid} \\(node fault-hold-lock\\.mjs .*\\), which is running`),
    );
  });

  it('is named as stopped, with how to resume it, and not waited on for the whole timeout', async () => {
    const pid = await holdLock();
    holder!.child.kill('SIGSTOP');
    await waitFor(() => lockHolder(target)?.state === 'stopped');
    // A timeout far longer than this test may run: only seeing the holder stopped ends the wait.
    const error = await lockError(10 * 60_000);
    expect(error.code).toBe('E_LOCK_TIMEOUT');
    expect(error.message).toMatch(
      new RegExp(
        `held by pid ${pid} .*which is stopped .*\`kill -CONT ${pid}\`.*\`kill -TERM ${pid}; kill -CONT ${pid}\``,
      ),
    );
    expect(error.details).toMatchObject({ holder: { pid, state: 'stopped' } });
  }, 60_000);

  it('is free once the holder is gone', async () => {
    await holdLock();
    await holder!.kill();
    const lock = await acquireLock(target, { timeoutMs: 5000 });
    await lock.release();
    expect(lockHolder(target)).toBeNull();
  });

  it('is gone once it has exited, even before its parent reaps it (a zombie), and its lock is taken over', async () => {
    const signal = path.join(tmp.dir, 'zombie-holding');
    // The shell starts the holder, then becomes `sleep`, which never reaps it.
    parent = spawn(
      '/bin/sh',
      [
        '-c',
        '"$0" "$1" "$2" "$3" & exec sleep 60',
        process.execPath,
        path.join(ROOT, 'tests/helpers/fault-hold-lock.mjs'),
        home,
        signal,
      ],
      { stdio: 'ignore' },
    );
    await waitFor(() => fs.existsSync(signal) && fs.readFileSync(signal, 'utf8') !== '', 30_000);
    const pid = Number(fs.readFileSync(signal, 'utf8'));
    process.kill(pid, 'SIGKILL');
    await waitFor(() => procStat(pid)?.state === 'Z', 10_000);
    expect(lockHolder(target)).toMatchObject({ pid, state: 'gone' });
    const lock = await acquireLock(target, { timeoutMs: 5000 });
    await lock.release();
    expect(procStat(pid)?.state).toBe('Z'); // taken over from the zombie, not after its reaping
  }, 60_000);

  it("fails with the real error, not a lock timeout, when a dead holder's lock cannot be removed", async () => {
    await holdLock();
    await holder!.kill();
    // As on a file system remounted read-only: waiting could not end it, so nobody should wait.
    const rename = vi.spyOn(fs, 'renameSync').mockImplementation((from) => {
      throw Object.assign(new Error(`EROFS: read-only file system, rename '${String(from)}'`), {
        code: 'EROFS',
      });
    });
    try {
      const error = await lockError(3000);
      expect(rename).toHaveBeenCalled();
      expect(error.code).toBe('E_IO');
      expect(error.message).toMatch(/^cannot lock .*journal: EROFS/);
    } finally {
      rename.mockRestore();
    }
  });
});
