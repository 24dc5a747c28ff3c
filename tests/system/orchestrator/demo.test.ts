/**
 * The demo workspace mixes simulated and shell agents. A task with a real `run` command is real work:
 * a simulated agent never takes it (it would be marked done without running), a shell agent does.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Task } from '../../../state/schemas.js';
import { waitFor } from '../../helpers/agents.js';
import { BIN, cli, tempDir } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
const run = (args: string[]) => cli(args, { cwd: tmp.dir });

beforeEach(() => {
  tmp = tempDir('dreamos-demo-');
  expect(run(['init', '--demo']).code).toBe(0);
});
afterEach(() => tmp.cleanup());

describe('the demo workspace', () => {
  it('leaves a task with a run command to the shell agents', async () => {
    const proof = path.join(tmp.dir, 'proof.txt');
    const added = run([
      'task',
      'add',
      'real work',
      '--run',
      `echo ran > ${JSON.stringify(proof)}`,
      '--priority',
      'critical',
      '--json',
    ]).json<Task>();
    // agent-1 is simulated: alone, it takes its own prompt work and never the shell command.
    const sim = run(['run', '--agents', 'agent-1', '--until-idle', '--json']);
    // 8: it leaves the shell command to shell agents that nobody runs, and says so.
    expect(sim.code, sim.stderr).toBe(8);
    const untouched = run(['task', 'show', added.id, '--json']).json<Task>();
    expect(untouched.status).toBe('ready');
    expect(untouched.history.some((h) => h.to === 'working')).toBe(false);
    expect(fs.existsSync(proof)).toBe(false);

    // agent-2 runs shell commands: it takes the task and really runs it.
    const shell = spawn(process.execPath, [BIN, 'run', '--agents', 'agent-2'], {
      cwd: tmp.dir,
      stdio: 'ignore',
    });
    try {
      await waitFor(() => run(['task', 'show', added.id, '--json']).json<Task>().status === 'done', 30_000);
    } finally {
      shell.kill('SIGTERM');
      await new Promise((r) => shell.once('exit', r));
    }
    const done = run(['task', 'show', added.id, '--json']).json<Task>();
    expect(done.agent).toBe('agent-2');
    expect(fs.readFileSync(proof, 'utf8').trim()).toBe('ran');
  }, 90_000);
});
