/**
 * A run whose lease is lost stops: when the heartbeat may not renew its lease (it ran out: the
 * machine slept, the heartbeat came late), the program is stopped and nothing of the attempt is
 * reported, the task goes back to ready as a stall, and the agent goes on to other work.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Task } from '../../../state/schemas.js';
import { cli, tempDir, writePolicies } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
const run = (args: string[]) => cli(args, { cwd: tmp.dir });

beforeEach(() => {
  tmp = tempDir('dreamos-lease-lost-');
  expect(run(['init']).code).toBe(0);
});
afterEach(() => tmp.cleanup());

describe('a run whose lease ran out', () => {
  it('is stopped and reports nothing; the task stalls, and the agent goes on', () => {
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
    for (const stop of stops)
      expect(stop.stopped?.why).toMatch(new RegExp(`^the lease of agent-2 on ${slow.id} expired at `));
    expect(fs.existsSync(path.join(tmp.dir, 'finished'))).toBe(false);
    expect(fs.readFileSync(path.join(tmp.dir, 'pids'), 'utf8').trim().split('\n')).toHaveLength(2);
    const after = run(['task', 'show', slow.id, '--json']).json<Task>();
    expect(after).toMatchObject({ status: 'failed', stalls: 2, lease: null });
    expect(after.result?.errorCode).toBe('E_STALLED');
    expect(after.history.some((h) => h.to === 'done')).toBe(false);
    expect(run(['task', 'show', other.id, '--json']).json<Task>().status).toBe('done');
  }, 120_000);
});
