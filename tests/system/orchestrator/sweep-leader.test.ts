/**
 * Several `dreamos run` processes on one PostgreSQL workspace: the sweeps made for the whole board
 * (drift over agents whose orchestrator died) run in the one that leads the role `sweeps`, so the
 * alert of a dead orchestrator's agent is raised once, by the leader, and the other orchestrators
 * record nothing about it; when the leader dies, another orchestrator takes the sweeps over. See docs/decisions/sweep-leader.md.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { AgentState, Alert } from '../../../state/schemas.js';
import { waitFor } from '../../helpers/agents.js';
import { describePg, type FreshSchema, freshSchema, TEST_PG_URL } from '../../helpers/pg.js';
import { BIN, cli, collectOutput, tempDir, writePolicies } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
let schema: FreshSchema;
const children: ChildProcess[] = [];
const run = (args: string[]) => cli(args, { cwd: tmp.dir });

type Event = Record<string, unknown> & { type: string };
interface Orchestrator {
  agent: string;
  child: ChildProcess;
  events(): Event[];
  exited: Promise<unknown>;
}

/** `dreamos run --agents <agent> --json`, its events read as they come. */
function orchestrator(agent: string): Orchestrator {
  const child = spawn(process.execPath, [BIN, 'run', '--agents', agent, '--json'], { cwd: tmp.dir });
  children.push(child);
  const output = collectOutput(child);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const events = () =>
    output
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Event);
  return { agent, child, events, exited };
}

const lines = (name: string) => {
  const file = path.join(tmp.dir, name);
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
};
/** The programs of each agent that have started (`starts`: "agent pid"). */
const started = (agent: string) => lines('starts').filter((l) => l.startsWith(`${agent} `));
const stalls = (agent: string) =>
  run(['alert', 'list', '--kind', 'stall', '--json'])
    .json<Alert[]>()
    .filter((a) => a.evidence.agent === agent);
const heartbeat = (agent: string) =>
  Date.parse(run(['agent', 'show', agent, '--json']).json<{ state: AgentState }>().state.heartbeatAt ?? '');
const drifts = (o: Orchestrator, agent: string) =>
  o.events().filter((e) => e.type === 'drift' && e.agent === agent);
const leads = (o: Orchestrator) => o.events().some((e) => e.type === 'sweeps' && e.leading === true);

/**
 * A task only `role` takes, whose program notes its start and waits. Its output goes nowhere: once
 * its orchestrator is dead, a write to its pipe would end it (SIGPIPE).
 */
function addHang(role: string): void {
  const program = 'exec >/dev/null 2>&1; echo "$DREAMOS_AGENT_ID $$" >> starts; while :; do sleep 0.1; done';
  expect(run(['task', 'add', `hang for ${role}`, '--role', role, '--run', program]).code).toBe(0);
}

/**
 * Every orchestrator still running has beaten its heartbeat twice since now, so each has run its
 * drift checks over the board again since: one more alert would have been raised by then.
 */
async function settled(running: Orchestrator[]): Promise<void> {
  const since = Date.now();
  await waitFor(() => running.every((o) => heartbeat(o.agent) > since + 2000), 30_000);
}

beforeEach(async () => {
  tmp = tempDir('dreamos-sweeps-');
  schema = await freshSchema('dreamos_sweeps');
  const init = run(['init', '--backend', 'postgres', '--store', TEST_PG_URL, '--schema', schema.schema]);
  expect(init.code, init.stderr).toBe(0);
  // Beats every second: a dead orchestrator's agent turns stale within seconds.
  writePolicies(path.join(tmp.dir, '.dreamos'), { heartbeatSeconds: 1 });
});
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
  }
  for (const line of lines('starts')) {
    try {
      process.kill(-Number(line.split(' ')[1]), 'SIGKILL');
    } catch {
      // gone already
    }
  }
  await schema.drop();
  tmp.cleanup();
});

describePg('the sweeps of one board under several orchestrators', () => {
  it('run in the leader only: a dead orchestrator is alerted once; the other leads when the leader dies', async () => {
    for (const role of ['infrastructure', 'captain', 'loop']) addHang(role);
    // agent-2's orchestrator dies while its program runs: its stall is a sweep for the whole board.
    const dead = orchestrator('agent-2');
    await waitFor(() => started('agent-2').length === 1, 30_000);
    dead.child.kill('SIGKILL');
    await dead.exited;

    const a = orchestrator('agent-1');
    const b = orchestrator('agent-3');
    await waitFor(() => started('agent-1').length === 1 && started('agent-3').length === 1, 30_000);
    await waitFor(() => stalls('agent-2').length > 0, 30_000);
    await settled([a, b]);

    // One alert, raised once, by the leader; the other recorded nothing about agent-2.
    expect(stalls('agent-2')).toEqual([expect.objectContaining({ count: 1 })]);
    expect([leads(a), leads(b)].filter(Boolean)).toEqual([true]);
    const [leader, follower] = leads(a) ? [a, b] : [b, a];
    expect(drifts(leader, 'agent-2')).toHaveLength(1);
    expect(drifts(follower, 'agent-2')).toEqual([]);

    // The leader dies: the other takes the sweeps over, and judges the leader's agent in its turn.
    leader.child.kill('SIGKILL');
    await leader.exited;
    await waitFor(() => leads(follower), 30_000);
    await waitFor(() => stalls(leader.agent).length > 0, 30_000);
    await settled([follower]);
    expect(stalls(leader.agent)).toEqual([expect.objectContaining({ count: 1 })]);
    expect(drifts(follower, leader.agent)).toHaveLength(1);
    // The follower's own agent was never judged stale: it runs on.
    expect(stalls(follower.agent)).toEqual([]);
  }, 180_000);
});
