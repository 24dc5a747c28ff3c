/**
 * Failover between real `dreamos run` processes on one workspace: a standby (an orchestrator whose
 * agents were all taken) takes them over when their orchestrator stops cleanly or dies, recovers the
 * task it left, and two standbys never both take one agent (a task's program never runs twice at
 * once). See docs/decisions/orchestrator-failover.md.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Task } from '../../../state/schemas.js';
import { waitFor } from '../../helpers/agents.js';
import { alive } from '../../helpers/terminal.js';
import { BIN, cli, collectOutput, tempDir, writePolicies } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
const run = (args: string[]) => cli(args, { cwd: tmp.dir });
const children: ChildProcess[] = [];

interface Orchestrator {
  child: ChildProcess;
  events(): Array<Record<string, unknown> & { type: string }>;
  exited: Promise<number | null>;
}

/** `dreamos run --agents agent-2 --json`, its events read as they come. */
function orchestrator(): Orchestrator {
  const child = spawn(process.execPath, [BIN, 'run', '--agents', 'agent-2', '--json'], { cwd: tmp.dir });
  children.push(child);
  const output = collectOutput(child);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const events = () =>
    output
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
  return { child, events, exited };
}
const started = (o: Orchestrator) => o.events().find((e) => e.type === 'started');
const tookOver = (o: Orchestrator) => o.events().filter((e) => e.type === 'took-over');

const starts = () => {
  const file = path.join(tmp.dir, 'starts');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number) : [];
};

beforeEach(() => {
  tmp = tempDir('dreamos-failover-');
  expect(run(['init']).code).toBe(0);
  // Beats every second: a dead orchestrator is noticed sooner (the rule does not depend on it).
  writePolicies(path.join(tmp.dir, '.dreamos'), { heartbeatSeconds: 1 });
});
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
  }
  tmp.cleanup();
});

/** A task that writes its pid to `starts` each time it starts, then waits. */
const addHang = () =>
  run(['task', 'add', 'hang', '--run', 'echo $$ >> starts; sleep 60', '--json']).json<Task>();

describe('a standby orchestrator', () => {
  it('takes over the agents of an orchestrator stopped cleanly, and runs new work', async () => {
    const task = addHang();
    const first = orchestrator();
    await waitFor(() => starts().length === 1, 30_000);
    const standby = orchestrator();
    await waitFor(() => started(standby) !== undefined, 30_000);
    expect(started(standby)).toMatchObject({ agents: [], elsewhere: ['agent-2'] });

    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    const [firstRun] = starts();
    expect(alive(firstRun!)).toBe(false);
    // The standby takes agent-2 and starts the requeued task again.
    await waitFor(() => starts().length === 2, 30_000);
    expect(tookOver(standby)).toEqual([
      {
        type: 'took-over',
        agents: ['agent-2'],
        from: [{ agents: ['agent-2'], pid: first.child.pid, how: 'released' }],
      },
    ]);
    expect(run(['task', 'show', task.id, '--json']).json<Task>()).toMatchObject({
      status: 'working',
      agent: 'agent-2',
    });
    const state = run(['agent', 'show', 'agent-2', '--json']).json<{ state: { runner: { pid: number } } }>();
    expect(state.state.runner.pid).toBe(standby.child.pid);

    // New work is taken too, once agent-2 is free.
    run(['task', 'cancel', task.id]);
    const next = run(['task', 'add', 'next', '--run', 'true', '--json']).json<Task>();
    await waitFor(() => run(['task', 'show', next.id, '--json']).json<Task>().status === 'done', 30_000);
    standby.child.kill('SIGTERM');
    expect(await standby.exited).toBe(0);
  }, 120_000);

  it('takes over the agents of an orchestrator that died, stopping its leftover first', async () => {
    const task = addHang();
    const first = orchestrator();
    await waitFor(() => starts().length === 1, 30_000);
    const standby = orchestrator();
    await waitFor(() => started(standby) !== undefined, 30_000);
    expect(started(standby)).toMatchObject({ agents: [] });

    first.child.kill('SIGKILL');
    await first.exited;
    const [leftover] = starts();
    await waitFor(() => starts().length === 2, 30_000);
    // The leftover was stopped before the task started again: never two runs at once.
    expect(alive(leftover!)).toBe(false);
    expect(standby.events()).toContainEqual(
      expect.objectContaining({ type: 'leftover', agent: 'agent-2', pid: leftover }),
    );
    expect(tookOver(standby)).toEqual([
      {
        type: 'took-over',
        agents: ['agent-2'],
        from: [{ agents: ['agent-2'], pid: first.child.pid, how: 'died' }],
      },
    ]);
    const resumed = run(['task', 'show', task.id, '--json']).json<Task>();
    expect(resumed).toMatchObject({ status: 'working', agent: 'agent-2' });
    standby.child.kill('SIGTERM');
    expect(await standby.exited).toBe(0);
  }, 120_000);

  it('two standbys: exactly one takes the agent over', async () => {
    addHang();
    const first = orchestrator();
    await waitFor(() => starts().length === 1, 30_000);
    const standbys = [orchestrator(), orchestrator()];
    await waitFor(() => standbys.every((s) => started(s) !== undefined), 30_000);
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    await waitFor(() => starts().length === 2, 30_000);
    const owner = run(['agent', 'show', 'agent-2', '--json']).json<{ state: { runner: { pid: number } } }>()
      .state.runner.pid;
    const [winner, loser] = standbys[0]!.child.pid === owner ? standbys : [standbys[1]!, standbys[0]!];
    expect(winner!.child.pid).toBe(owner);
    expect(tookOver(winner!)).toHaveLength(1);
    // Give the other standby the same wake-ups (the journal changes, a few heartbeats): it takes nothing.
    await waitFor(() => winner!.events().filter((e) => e.type === 'claimed').length === 1, 30_000);
    const seq = () => run(['status', '--json']).json<{ seq: number }>().seq;
    const at = seq();
    await waitFor(() => seq() >= at + 3, 30_000);
    expect(tookOver(loser!)).toEqual([]);
    expect(starts()).toHaveLength(2);
    expect(loser!.events().filter((e) => e.type === 'claimed')).toEqual([]);
  }, 120_000);
});
