/**
 * A closed terminal (SIGHUP) is a clean stop, like SIGINT and SIGTERM: for a `dreamos run`, and for
 * a console whose tmux session is killed (its writes to the vanished terminal then fail with EIO).
 * The running task goes back to ready, the agents are released and no driven process survives.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentState, Task } from '../../../state/schemas.js';
import { waitFor } from '../../helpers/agents.js';
import { alive, hasTmux, tmuxServer } from '../../helpers/terminal.js';
import { BIN, cli, tempDir } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
const run = (args: string[]) => cli(args, { cwd: tmp.dir });
const term = tmuxServer('dreamos-hangup');

const agentState = (id: string) => run(['agent', 'show', id, '--json']).json<{ state: AgentState }>().state;

/** A task whose program writes its pid and then waits; returns the task and where the pid goes. */
function hangingTask(): { task: Task; pidFile: string } {
  const pidFile = path.join(tmp.dir, 'child.pid');
  const task = run([
    'task',
    'add',
    'hang',
    '--run',
    `echo $$ > ${JSON.stringify(pidFile)}; sleep 60`,
    '--json',
  ]).json<Task>();
  return { task, pidFile };
}
const childPid = (pidFile: string) =>
  fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8').trim()) || 0 : 0;

beforeEach(() => {
  tmp = tempDir('dreamos-hangup-');
  expect(run(['init']).code).toBe(0);
});
afterEach(() => {
  term.kill();
  tmp.cleanup();
});

describe('SIGHUP', () => {
  it('stops a dreamos run cleanly', async () => {
    const { task, pidFile } = hangingTask();
    const orchestrator = spawn(process.execPath, [BIN, 'run', '--agents', 'agent-2'], {
      cwd: tmp.dir,
      stdio: 'ignore',
    });
    await waitFor(() => childPid(pidFile) > 0, 30_000);
    const child = childPid(pidFile);
    orchestrator.kill('SIGHUP');
    const [code, signal] = await new Promise<[number | null, string | null]>((r) =>
      orchestrator.once('exit', (c, s) => r([c, s])),
    );
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(alive(child)).toBe(false);
    expect(run(['task', 'show', task.id, '--json']).json<Task>().status).toBe('ready');
    expect(agentState('agent-2')).toMatchObject({ runner: null, status: 'stopped', task: null });
  }, 60_000);

  it.skipIf(!hasTmux)(
    `stops a console whose tmux session is killed${hasTmux ? '' : ' (SKIPPED: tmux is not installed)'}`,
    async () => {
      const { task, pidFile } = hangingTask();
      const consolePid = term.open('main', tmp.dir, `exec ${process.execPath} ${BIN} console`);
      await waitFor(() => childPid(pidFile) > 0, 30_000);
      const child = childPid(pidFile);
      term.tmux('kill-session', '-t', 'main');
      await waitFor(() => !alive(consolePid), 30_000);
      await waitFor(() => !alive(child), 10_000).catch(() => undefined);
      expect(alive(child)).toBe(false);
      expect(run(['task', 'show', task.id, '--json']).json<Task>().status).toBe('ready');
      const released = run(['agent', 'list', '--json']).json<Array<{ state: AgentState }>>();
      expect(released.filter((a) => a.state.runner !== null)).toEqual([]);
    },
    60_000,
  );
});
