/**
 * A run whose lease is lost stops: when the heartbeat may not renew its lease (it ran out: the
 * machine slept, the heartbeat came late), or the task was claimed again (even by the same agent),
 * the program is stopped and nothing of the attempt is reported; an expired lease goes back to
 * ready as a stall, and the agent goes on to other work.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Task } from '../../../state/schemas.js';
import { BIN, cli, tempDir, writePolicies } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
const run = (args: string[]) => cli(args, { cwd: tmp.dir });

beforeEach(() => {
  tmp = tempDir('dreamos-lease-lost-');
  expect(run(['init']).code).toBe(0);
});
afterEach(() => tmp.cleanup());

describe('a run whose lease is lost', () => {
  it('when it ran out, is stopped and reports nothing; the task stalls, and the agent goes on', () => {
    // Every heartbeat comes after the lease it would renew has run out.
    writePolicies(path.join(tmp.dir, '.dreamos'), { leaseSeconds: 1, heartbeatSeconds: 3, maxStalls: 2 });
    const slow = run([
      ...['task', 'add', 'outlives its lease', '--priority', 'high', '--max-attempts', '5'],
      ...['--run', 'echo $$ >> pids; sleep 20; touch finished', '--json'],
    ]).json<Task>();
    const other = run([
      'task',
      'add',
      'other work',
      '--priority',
      'low',
      '--run',
      'true',
      '--json',
    ]).json<Task>();
    const result = run(['run', '--agents', 'agent-2', '--until-idle', '--json']);
    expect(result.code, result.stderr).toBe(7); // the slow task ended failed
    const events = result.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { type: string; task?: string; stopped?: { why: string } });
    const stops = events.filter((e) => e.type === 'finished' && e.task === slow.id);
    expect(stops).toHaveLength(2);
    // Stopped by whichever comes first: the host's own count of a lease gone unrenewed, or the
    // heartbeat's renewal refused.
    for (const stop of stops)
      expect(stop.stopped?.why).toMatch(
        new RegExp(`^the lease of (agent-2 on ${slow.id} expired at |${slow.id} was not renewed for )`),
      );
    expect(fs.existsSync(path.join(tmp.dir, 'finished'))).toBe(false);
    expect(fs.readFileSync(path.join(tmp.dir, 'pids'), 'utf8').trim().split('\n')).toHaveLength(2);
    const after = run(['task', 'show', slow.id, '--json']).json<Task>();
    expect(after).toMatchObject({ status: 'failed', stalls: 2, lease: null });
    expect(after.result?.errorCode).toBe('E_STALLED');
    expect(after.history.some((h) => h.to === 'done')).toBe(false);
    expect(run(['task', 'show', other.id, '--json']).json<Task>().status).toBe('done');
  }, 120_000);

  it('is stopped when its task is claimed again by the same agent, and reports nothing', async () => {
    // The lease runs out at once and no heartbeat renews it: another process may claim the task.
    writePolicies(path.join(tmp.dir, '.dreamos'), { leaseSeconds: 1, heartbeatSeconds: 600 });
    const t = run([
      ...['task', 'add', 'claimed twice', '--run', 'echo $$ >> pids; sleep 30; touch finished', '--json'],
    ]).json<Task>();
    const orchestrator = spawn(process.execPath, [BIN, 'run', '--agents', 'agent-2', '--json'], {
      cwd: tmp.dir,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    orchestrator.stdout.on('data', (chunk) => {
      out += chunk;
    });
    try {
      const pids = path.join(tmp.dir, 'pids');
      await waitFor(() => fs.existsSync(pids) && fs.readFileSync(pids, 'utf8').trim() !== '');
      const first = Number(fs.readFileSync(pids, 'utf8').trim().split('\n')[0]);
      const held = run(['task', 'show', t.id, '--json']).json<Task>();
      await waitFor(() => Date.now() > Date.parse(held.lease!.expiresAt));
      // Another process claims it for the same agent: the claim returns the expired lease first.
      const again = run(['task', 'claim', '--agent', 'agent-2', '--task', t.id, '--json']);
      expect(again.code, again.stderr).toBe(0);
      expect(again.json<Task>().lease!.token).toBeGreaterThan(held.lease!.token!);
      await waitFor(() => !alive(first));
      await waitFor(() => out.includes('"finished"'));
      const finished = out
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { type: string; stopped?: { why: string } })
        .find((e) => e.type === 'finished');
      expect(finished?.stopped?.why).toBe(
        `${t.id} was claimed again by agent-2: the lease of agent-2 is lost`,
      );
      expect(fs.existsSync(path.join(tmp.dir, 'finished'))).toBe(false);
      const history = run(['task', 'show', t.id, '--json']).json<Task>().history;
      expect(history.some((h) => h.to === 'done' || h.to === 'failed')).toBe(false);
    } finally {
      orchestrator.kill('SIGTERM');
      await new Promise((r) => orchestrator.once('exit', r));
    }
  }, 120_000);
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}
