/**
 * A `dreamos run` stopped (SIGSTOP) while it holds the journal lock (issue 12, item 1): a change
 * is refused with the lock-timeout error (exit 5) that names the stopped holder and what to do, and
 * nothing is claimed saved; reads answer at once from the journal without waiting for the lock.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type BusyRun,
  holdLock,
  type LockHolderProcess,
  startBusyRun,
  stopHoldingLock,
} from '../../helpers/busy-run.js';
import { type Board, board, expectRefused, show } from '../../helpers/cli.js';

let b: Board;
let run: BusyRun | null = null;
let holder: LockHolderProcess | null = null;

beforeEach(() => {
  b = board();
});
afterEach(async () => {
  await run?.stop();
  run = null;
  await holder?.kill();
  holder = null;
  b.cleanup();
});

describe('a run stopped while it holds the journal lock', () => {
  it('refuses changes with exit 5 naming the stopped holder, and reads still answer', async () => {
    run = await startBusyRun(b.dir);
    await stopHoldingLock(run, path.join(b.dir, '.dreamos'));
    const pid = run.pid;
    const named = new RegExp(
      `lock .*journal\\.lock: it is held by pid ${pid} \\(node dreamos\\.js run --quiet\\), which is stopped .*\`kill -CONT ${pid}\``,
    );

    // Each change: exit 5, one line naming the holder and what to do, journal and board untouched.
    for (const args of [
      ['task', 'add', 'x', '--run', 'true'],
      ['task', 'cancel', 'T-00100'],
      ['agent', 'pause', 'agent-1'],
      ['mail', 'send', '--to', 'agent-1', 'hello'],
    ]) {
      const r = expectRefused(b, args, 5, named);
      expect(r.stderr, show(r)).not.toMatch(/saved/);
    }
    const json = b.run('task', 'add', 'y', '--run', 'true', '--json');
    expect(json.code, show(json)).toBe(5);
    expect(json.json<{ error: { code: string; details: unknown } }>().error).toMatchObject({
      code: 'E_LOCK_TIMEOUT',
      details: { holder: { pid, state: 'stopped' } },
    });

    // Reads take no lock: each succeeds with nothing on stderr while the holder stays stopped.
    for (const args of [['status'], ['task', 'list'], ['task', 'show', 'T-00001']]) {
      const r = b.run(...args);
      expect(r.code, show(r)).toBe(0);
      expect(r.stderr, show(r)).toBe('');
    }

    // Resumed, the run goes on, and the change is made.
    run.child.kill('SIGCONT');
    expect(b.add('after the resume', '--run', 'true').title).toBe('after the resume');
  }, 180_000);

  it('a read that finds a board to rebuild does not wait for the lock to record it', async () => {
    const task = b.add('kept', '--run', 'true');
    const home = path.join(b.dir, '.dreamos');
    holder = await holdLock(home, b.dir);
    holder.child.kill('SIGSTOP');
    fs.rmSync(path.join(home, 'boards', 'task_ready_queue.json'));

    const r = b.run('task', 'list', '--json');
    expect(r.code, show(r)).toBe(0);
    expect(r.json<Array<{ id: string }>>().map((t) => t.id)).toEqual([task.id]);
    expect(r.stderr).toMatch(/task_ready_queue\.json (was|is) missing; .*rebuilt from the journal/);

    // Once the lock is free, the next change records what recovery found.
    await holder.kill();
    holder = null;
    b.add('after the holder', '--run', 'true');
    expect(b.json<Array<{ kind: string }>>('alert', 'list').map((a) => a.kind)).toContain('missing-store');
  }, 60_000);
});
