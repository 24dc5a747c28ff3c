/**
 * What `dreamos run` prints about runs it stops: a task stopped for a shutdown (SIGINT) or an
 * `agent restart` goes back to ready with its attempt not counted, so the run says "requeued" and
 * its summary counts no failed attempt; real processes throughout.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { waitFor } from '../../helpers/agents.js';
import { type Board, board, show } from '../../helpers/cli.js';
import { BIN, collectOutput } from '../../helpers/workspace.js';

// Each test starts several real processes: a loaded machine is slow, not wrong.
vi.setConfig({ testTimeout: 120_000 });

let b: Board;
let child: ChildProcess | null = null;
beforeEach(() => {
  b = board();
});
afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  child = null;
  b.cleanup();
});

function startRun() {
  child = spawn(process.execPath, [BIN, 'run', '--agents', 'agent-1'], { cwd: b.dir });
  const out = collectOutput(child);
  const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
  return { child, out, exited };
}

/** The task has written its first line: its program runs. */
const started = (id: string, mark: string) => () => b.run('task', 'log', id).stdout.includes(mark);

describe('run summary', () => {
  it('a task stopped by SIGINT is requeued, not a failed attempt', async () => {
    const t = b.add('slow', '--run', 'echo begun; sleep 20', '--role', 'captain');
    const { child, out, exited } = startRun();
    await waitFor(started(t.id, 'begun'), 60_000);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const stderr = out.stderr();
    expect(stderr).toContain(`agent-1  ↺ ${t.id} requeued: the orchestrator is stopping`);
    expect(stderr).not.toContain('✗');
    expect(stderr).toMatch(/stopped \(signal\): 0 done, 0 failed attempts, 1 requeued\n/);
    const task = b.get(t.id);
    expect(task.status, show(b.run('task', 'show', t.id))).toBe('ready');
    expect(task.history.at(-1)?.why).toMatch(/the attempt not counted/);
  });

  it('a task stopped by `agent restart` is requeued and run again', async () => {
    const t = b.add('slow', '--run', 'echo begun-$$; sleep 20', '--role', 'captain');
    const { child, out, exited } = startRun();
    await waitFor(started(t.id, 'begun'), 60_000);
    expect(b.run('agent', 'restart', 'agent-1').code).toBe(0);
    // Claimed again after the restart, then stopped by SIGINT: two requeues, no failure.
    await waitFor(() => (out.stderr().match(/▶/g) ?? []).length >= 2, 60_000);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const stderr = out.stderr();
    expect(stderr).toMatch(new RegExp(`agent-1 {2}↺ ${t.id} requeued: agent-1 restarted by directive M-`));
    expect(stderr).not.toContain('✗');
    expect(stderr).toMatch(/stopped \(signal\): 0 done, 0 failed attempts, 2 requeued\n/);
  });

  it('says "1 failed attempt" for one', () => {
    const t = b.add('fails', '--run', 'exit 3', '--role', 'captain', '--max-attempts', '1');
    const r = b.run('run', '--until-idle', '--agents', 'agent-1');
    expect(r.code, show(r)).toBe(7);
    expect(r.stderr).toContain(`stopped (idle): 0 done, 1 failed attempt; failed: ${t.id}`);
  });
});
