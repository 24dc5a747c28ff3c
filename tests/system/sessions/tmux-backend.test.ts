/**
 * The tmux backend of the `pty` driver: the program runs in a tmux server of its own on a private
 * socket of the workspace, is reached through the same session socket, outlives a SIGKILLed
 * orchestrator and is adopted by the next one; a tmux server left for an agent without a task is
 * stopped, and the operator's own tmux server is never touched.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Task } from '../../../state/schemas.js';
import { waitFor } from '../../helpers/agents.js';
import { usePtyAgent } from '../../helpers/sessions.js';
import { BIN, cli, collectOutput, tempDir } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
const children: ChildProcess[] = [];
const run = (args: string[]) => cli(args, { cwd: tmp.dir });
const socketOf = (agent: string) => path.join(tmp.dir, '.dreamos', 'sessions', `tmux-${agent}.sock`);
const tmux = (socket: string, ...args: string[]) =>
  spawnSync('tmux', ['-S', socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeEach(() => {
  tmp = tempDir('dreamos-tmux-');
  expect(run(['init']).code).toBe(0);
});
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }
  for (const agent of ['agent-1', 'agent-2']) tmux(socketOf(agent), 'kill-server');
  tmp.cleanup();
});

function orchestrate(...extra: string[]): ChildProcess {
  const child = spawn(process.execPath, [BIN, 'run', '--agents', 'agent-1', ...extra], { cwd: tmp.dir });
  collectOutput(child);
  children.push(child);
  return child;
}

async function peekUntil(text: string): Promise<string> {
  let screen = '';
  await waitFor(() => {
    const peek = run(['agent', 'peek', 'agent-1']);
    screen = peek.stdout;
    return peek.code === 0 && screen.includes(text);
  }, 30_000);
  return screen;
}

const taskOf = (id: string) => run(['task', 'show', id, '--json']).json<Task>();
const logOf = (id: string) =>
  fs.readFileSync(path.join(tmp.dir, '.dreamos', 'logs', 'agent-1', `${id}.log`), 'utf8');

describe('the tmux backend', () => {
  it('runs the program in a private tmux server, and takes an answer through agent send', async () => {
    usePtyAgent(tmp.dir, [], { backend: 'tmux' });
    const task = run(['task', 'add', 'ask me', '--prompt', 'deploy the thing', '--json']).json<Task>();
    orchestrate();
    const screen = await peekUntil('Proceed with the change?');
    expect(screen).toContain('prompt: deploy the thing');
    const socket = socketOf('agent-1');
    // Only its owner may reach it (tmux itself sets the owner's x bit while a client is attached).
    expect(fs.statSync(socket).mode & 0o077).toBe(0);
    expect(fs.statSync(path.dirname(socket)).mode & 0o777).toBe(0o700);
    const pane = tmux(socket, 'display-message', '-p', '-t', 'dreamos', '#{pane_pid}');
    expect(pane.status).toBe(0);

    const sent = run(['agent', 'send', 'agent-1', 'yes, go ahead']);
    expect(sent.code).toBe(0);
    await waitFor(() => taskOf(task.id).status === 'done', 30_000);
    expect(logOf(task.id)).toContain('answer: yes, go ahead');
    expect(logOf(task.id)).not.toContain('[paste refused]');
    // The program's end stops its tmux server.
    await waitFor(() => tmux(socket, 'list-sessions').status !== 0, 30_000);
  });
});

describe('a restarted orchestrator with the tmux backend', () => {
  it('adopts the live session of a SIGKILLed one: the same program goes on and completes the task', async () => {
    usePtyAgent(tmp.dir, [], { backend: 'tmux' });
    const task = run(['task', 'add', 'long talk', '--prompt', 'talk to me', '--json']).json<Task>();
    const first = orchestrate();
    await peekUntil('Proceed with the change?');
    const socket = socketOf('agent-1');
    const paneOf = () => tmux(socket, 'display-message', '-p', '-t', 'dreamos', '#{pane_pid}').stdout.trim();
    const program = Number(paneOf());
    expect(program).toBeGreaterThan(1);
    const token = taskOf(task.id).lease?.token;

    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    expect(alive(program)).toBe(true);

    orchestrate();
    // The new orchestrator serves the same program's screen again.
    await waitFor(
      () =>
        run(['task', 'show', task.id, '--json'])
          .json<Task>()
          .history.some((h) => /adopted/.test(h.why ?? '')),
      30_000,
    );
    await peekUntil('Proceed with the change?');
    expect(Number(paneOf())).toBe(program);
    expect(taskOf(task.id).lease?.token).toBe(token);

    expect(run(['agent', 'send', 'agent-1', 'welcome back']).code).toBe(0);
    await waitFor(() => taskOf(task.id).status === 'done', 30_000);
    const done = taskOf(task.id);
    expect(done.attempts).toBe(1);
    const log = logOf(task.id);
    expect(log).toContain('adopted the live session in tmux');
    expect(log).toContain('answer: welcome back');
    // One run of the program: it showed its prompt once.
    expect(log.match(/prompt: talk to me/g)).toHaveLength(1);
    await waitFor(() => !alive(program), 10_000);
  });

  it('notices at the adoption a program that ended while no orchestrator followed it', async () => {
    usePtyAgent(tmp.dir, [], { backend: 'tmux' });
    const task = run(['task', 'add', 'quick talk', '--prompt', 'answer alone', '--json']).json<Task>();
    const first = orchestrate();
    await peekUntil('Proceed with the change?');
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    // The operator answers inside the agent's own tmux server while no orchestrator runs.
    const socket = socketOf('agent-1');
    expect(tmux(socket, 'send-keys', '-t', 'dreamos', '-l', 'alone').status).toBe(0);
    await waitFor(() => tmux(socket, 'capture-pane', '-p', '-t', 'dreamos').stdout.includes('alone'), 10_000);
    expect(tmux(socket, 'send-keys', '-t', 'dreamos', 'Enter').status).toBe(0);
    await waitFor(
      () => tmux(socket, 'display-message', '-p', '-t', 'dreamos', '#{pane_dead}').stdout.trim() === '1',
      10_000,
    );

    const second = orchestrate('--until-idle');
    await new Promise((resolve) => second.once('exit', resolve));
    const done = taskOf(task.id);
    expect(done.status).toBe('done');
    expect(done.attempts).toBe(1);
    expect(done.result).toMatchObject({ ok: true, exitCode: 0 });
    expect(logOf(task.id)).toContain('answer: alone');
    expect(logOf(task.id)).not.toContain('Pane is dead');
    expect(tmux(socket, 'list-sessions').status).not.toBe(0);
  });

  it("stops a tmux server left for an agent without a task, and never the operator's own", async () => {
    usePtyAgent(tmp.dir, [], { backend: 'tmux' });
    const sessions = path.join(tmp.dir, '.dreamos', 'sessions');
    fs.mkdirSync(sessions, { recursive: true, mode: 0o700 });
    const left = socketOf('agent-1');
    const operator = `dreamos-operator-${process.pid}`;
    const operatorTmux = (...args: string[]) =>
      spawnSync('tmux', ['-L', operator, '-f', '/dev/null', ...args], { encoding: 'utf8' });
    try {
      expect(tmux(left, 'new-session', '-d', '-s', 'dreamos', 'sleep 600').status).toBe(0);
      expect(operatorTmux('new-session', '-d', '-s', 'dreamos', 'sleep 600').status).toBe(0);

      const doctor = run(['doctor', '--json']);
      expect(doctor.stdout).toContain('leftover-session');
      expect(tmux(left, 'list-sessions').status).toBe(0);

      const orchestrator = orchestrate('--until-idle');
      await new Promise((resolve) => orchestrator.once('exit', resolve));
      expect(tmux(left, 'list-sessions').status).not.toBe(0);
      expect(fs.existsSync(left)).toBe(false);
      expect(operatorTmux('list-sessions').status).toBe(0);
      expect(run(['doctor', '--json']).stdout).not.toContain('leftover-session');
    } finally {
      operatorTmux('kill-server');
    }
  });
});
