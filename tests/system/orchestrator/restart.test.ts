/**
 * `dreamos agent restart` while the agent runs a task: the task goes back to ready and runs again,
 * the interrupted attempt is not counted, and what is logged says a restart, not a shutdown.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Task } from '../../../state/schemas.js';
import { waitFor } from '../../helpers/agents.js';
import { BIN, cli, collectOutput, tempDir } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
const run = (args: string[]) => cli(args, { cwd: tmp.dir });
const lines = (file: string) =>
  fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];

beforeEach(() => {
  tmp = tempDir('dreamos-restart-');
  expect(run(['init']).code).toBe(0);
});
afterEach(() => tmp.cleanup());

describe('agent restart', () => {
  it('says when no orchestrator runs the agent to read the directive', () => {
    const sent = run(['agent', 'restart', 'agent-3']);
    expect(sent.code).toBe(0);
    expect(sent.stdout).toMatch(/agent-3: restart sent \(M-\w+\)/);
    expect(sent.stderr).toContain(
      'agent-3: no orchestrator runs it now; the restart is read when one takes it',
    );
  });

  it('requeues the running task without spending an attempt, and says it was a restart', async () => {
    const starts = path.join(tmp.dir, 'starts');
    const task = run([
      'task',
      'add',
      'long',
      '--run',
      `echo $$ >> ${JSON.stringify(starts)}; sleep 60`,
      '--max-attempts',
      '2',
      '--json',
    ]).json<Task>();
    const orchestrator = spawn(process.execPath, [BIN, 'run', '--agents', 'agent-2'], { cwd: tmp.dir });
    const output = collectOutput(orchestrator);
    try {
      await waitFor(() => lines(starts).length === 1, 30_000);
      const restart = run(['agent', 'restart', 'agent-2']);
      expect(restart.code).toBe(0);
      expect(restart.stderr).not.toContain('no orchestrator runs it');
      // The loop starts afresh and takes the task again: its second start.
      await waitFor(() => lines(starts).length === 2, 30_000);
      const after = run(['task', 'show', task.id, '--json']).json<Task>();
      expect(after.status).toBe('working');
      expect(after.attempts).toBe(1);
      const requeue = after.history.find((h) => h.from === 'working' && h.to === 'ready');
      expect(requeue?.why).toMatch(/agent-2 restarted by directive M-\w+: back to ready/);
    } finally {
      orchestrator.kill('SIGTERM');
      await new Promise((r) => orchestrator.once('exit', r));
    }
    expect(output.stderr()).toMatch(/agent-2 {2}↺ T-\w+ requeued: agent-2 restarted by directive M-\w+/);
    const log = fs.readFileSync(path.join(tmp.dir, '.dreamos', 'logs', 'agent-2', `${task.id}.log`), 'utf8');
    expect(log).toContain('stopping (restart)');
    // The stop at the end also gives the attempt back.
    expect(run(['task', 'show', task.id, '--json']).json<Task>()).toMatchObject({
      status: 'ready',
      attempts: 0,
    });
  }, 90_000);
});
