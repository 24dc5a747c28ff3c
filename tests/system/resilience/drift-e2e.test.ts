/**
 * Drift end to end, with real `dreamos run` processes on real files (issue 4): a crash-looping agent
 * is paused with an alert; a hung (SIGSTOPped) orchestrator is found by another `dreamos run` and its
 * task returns to ready, its process stopped; a task writing outside its resources raises scope
 * drift. The alert and attention commands are driven as a user would. Assertions are on state only;
 * the waits are generous and nothing is timed.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, cli, tempDir } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
const started: ChildProcess[] = [];
const run = (args: string[]) => cli(args, { cwd: tmp.dir });

interface Config {
  agents: Array<{ id: string }>;
  policies: Record<string, unknown>;
}
function editConfig(edit: (config: Config) => void) {
  const file = path.join(tmp.dir, '.dreamos', 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8')) as Config;
  edit(config);
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
}

interface TaskJson {
  id: string;
  status: string;
  stalls: number;
  history: Array<{ from: string | null; to: string; by: string; why?: string }>;
}
interface AlertJson {
  id: string;
  kind: string;
  status: string;
  count: number;
  subject: string;
  action: string;
  evidence: Record<string, unknown>;
}
interface AgentJson {
  state: {
    status: string;
    paused: boolean;
    task: string | null;
    child: { pid: number; pgid: number } | null;
  };
}
const tasks = () => run(['task', 'list', '--json']).json<TaskJson[]>();
const alerts = (...args: string[]) => run(['alert', 'list', ...args, '--json']).json<AlertJson[]>();
const agent = (id: string) => run(['agent', 'show', id, '--json']).json<AgentJson>();

beforeEach(() => {
  tmp = tempDir();
  expect(run(['init']).code).toBe(0);
  editConfig((c) => {
    c.policies.heartbeatSeconds = 1;
  });
});
afterEach(async () => {
  for (const child of started.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
  }
  tmp.cleanup();
});

async function waitFor(check: () => boolean, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 200));
  }
}

function orchestrator(args: string[]): ChildProcess {
  const child = spawn(process.execPath, [BIN, 'run', ...args], { cwd: tmp.dir, stdio: 'ignore' });
  started.push(child);
  return child;
}

/** Members of a process group that still run (zombies run nothing). */
function groupRunning(pgid: number): number[] {
  return fs
    .readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .filter((n) => {
      try {
        const stat = fs.readFileSync(`/proc/${n}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return Number(fields[2]) === pgid && fields[0] !== 'Z';
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('drift, end to end', () => {
  it('pauses a crash-looping agent with an alert; the operator lists, acknowledges and resolves it', () => {
    editConfig((c) => {
      c.agents = c.agents.filter((a) => a.id === 'agent-2');
    });
    for (let i = 1; i <= 5; i++)
      expect(
        run(['task', 'add', `fails ${i}`, '--run', `echo boom ${i} >&2; exit 3`, '--max-attempts', '1']).code,
      ).toBe(0);
    // The paused agent has nothing it may run: --until-idle returns, exit 7 (tasks of the run failed).
    expect(run(['run', '--until-idle']).code).toBe(7);

    expect(agent('agent-2').state.paused).toBe(true);
    const statuses = tasks().map((t) => t.status);
    expect(statuses.filter((s) => s === 'failed')).toHaveLength(3);
    expect(statuses.filter((s) => s === 'ready')).toHaveLength(2);
    const [loop] = alerts('--status', 'open');
    expect(loop).toMatchObject({
      kind: 'repeated-failure',
      subject: 'agent-2',
      count: 1,
      action: 'pause: paused agent-2',
      evidence: { agent: 'agent-2', error: 'exited with code 3' },
    });
    expect(loop!.evidence.attempts).toHaveLength(3);

    // The attention inbox: the loop first, then its failed tasks, then the ready ones that only the
    // paused agent may take.
    const inbox = run(['attention', '--json']).json<
      Array<{ reason: string; subject: string; alerts: string[]; text: string }>
    >();
    expect(inbox[0]).toMatchObject({ reason: 'failed', subject: 'agent-2', alerts: [loop!.id] });
    expect(inbox.map((i) => i.reason)).toEqual([
      'failed',
      'failed',
      'failed',
      'failed',
      'unassignable',
      'unassignable',
    ]);
    expect(inbox[5]!.text).toMatch(/only agent-2 may take it, and it is paused$/);
    expect(run(['attention']).stdout).toContain(`dreamos agent resume agent-2`);

    expect(run(['alert', 'ack', loop!.id]).code).toBe(0);
    expect(alerts('--status', 'acknowledged').map((a) => a.id)).toEqual([loop!.id]);
    expect(run(['attention', '--json']).json<unknown[]>()).toHaveLength(5); // acknowledged: off the list
    expect(run(['alert', 'resolve', loop!.id, '--why', 'fixed the script']).code).toBe(0);
    expect(run(['alert', 'ack', loop!.id]).code).toBe(4); // resolved: nothing to acknowledge
    expect(run(['alert', 'ack', 'A-ZZZZZ']).code).toBe(3);
    expect(run(['alert', 'list', '--status', 'bogus']).code).toBe(2);
    expect(alerts()).toHaveLength(1);
  });

  it('an acknowledged loop alert comes back to the inbox when drift pauses the agent again', () => {
    editConfig((c) => {
      c.agents = c.agents.filter((a) => a.id === 'agent-2');
    });
    const fail = (n: number) => {
      for (let i = 1; i <= n; i++)
        expect(run(['task', 'add', `fails ${i}`, '--run', 'exit 3', '--max-attempts', '1']).code).toBe(0);
    };
    fail(3);
    // 7: tasks of the run ended failed.
    expect(run(['run', '--until-idle']).code).toBe(7);
    const [loop] = alerts('--status', 'open');
    expect(loop).toMatchObject({ kind: 'repeated-failure', count: 1 });
    expect(run(['alert', 'ack', loop!.id]).code).toBe(0);
    expect(
      run(['attention', '--json'])
        .json<Array<{ alerts: string[] }>>()
        .flatMap((i) => i.alerts),
    ).toEqual([]);

    // The operator resumes the agent without fixing the cause: it fails again and drift pauses it again.
    expect(run(['agent', 'resume', 'agent-2']).code).toBe(0);
    fail(3);
    expect(run(['run', '--until-idle']).code).toBe(7);
    expect(agent('agent-2').state.paused).toBe(true);
    expect(alerts()).toHaveLength(1);
    expect(alerts('--status', 'open')).toMatchObject([
      { id: loop!.id, count: 2, action: 'pause: paused agent-2' },
    ]);
    const inbox = run(['attention', '--json']).json<
      Array<{ reason: string; subject: string; alerts: string[] }>
    >();
    expect(inbox[0]).toMatchObject({ reason: 'failed', subject: 'agent-2', alerts: [loop!.id] });
  });

  it('a hung orchestrator is found by another `dreamos run`: its task returns to ready and its process stops', async () => {
    // Only agent-2 (role infrastructure) may take the task, so the second orchestrator cannot rerun it.
    const t = run([
      'task',
      'add',
      'hangs with its orchestrator',
      '--role',
      'infrastructure',
      '--run',
      'sleep 120',
      '--json',
    ]).json<TaskJson>();
    const first = orchestrator(['--agents', 'agent-2']);
    await waitFor(() => agent('agent-2').state.child !== null);
    const child = agent('agent-2').state.child!;
    expect(groupRunning(child.pgid).length).toBeGreaterThan(0);

    process.kill(first.pid!, 'SIGSTOP');
    orchestrator(['--agents', 'agent-3']);
    await waitFor(() => run(['task', 'show', t.id, '--json']).json<TaskJson>().status === 'ready');

    const task = run(['task', 'show', t.id, '--json']).json<TaskJson>();
    expect(task.stalls).toBe(1);
    expect(task.history.at(-1)).toMatchObject({ from: 'working', to: 'ready', by: 'drift' });
    expect(task.history.at(-1)?.why).toMatch(/no heartbeat/);
    expect(agent('agent-2').state).toMatchObject({ status: 'stale', task: null, child: null });
    expect(alerts('--status', 'open')).toMatchObject([{ kind: 'stall', subject: 'agent-2' }]);
    // The task never runs twice at once: the hung orchestrator's process was stopped first.
    expect(groupRunning(child.pgid)).toEqual([]);
    const inbox = run(['attention', '--json']).json<Array<{ reason: string; subject: string }>>();
    expect(inbox[0]).toMatchObject({ reason: 'stalled', subject: 'agent-2' });
  });

  it.skipIf(spawnSync('git', ['--version']).status !== 0)(
    'a task that changes files outside its resources in a git folder raises scope drift',
    async () => {
      expect(spawnSync('git', ['init', '-q', '.'], { cwd: tmp.dir }).status).toBe(0);
      editConfig((c) => {
        c.agents = c.agents.filter((a) => a.id === 'agent-2');
      });
      fs.writeFileSync(path.join(tmp.dir, 'untouched-before.txt'), 'was here before the task\n');
      fs.mkdirSync(path.join(tmp.dir, 'src'));
      const t = run([
        'task',
        'add',
        'edits src, and more',
        '--resource',
        'src/**',
        '--run',
        'echo ok > src/a.ts; echo drift > README.md; sleep 4',
        '--json',
      ]).json<TaskJson>();
      expect(run(['run', '--until-idle']).code).toBe(0);
      expect(run(['task', 'show', t.id, '--json']).json<TaskJson>().status).toBe('done'); // escalated only
      expect(alerts()).toMatchObject([
        { kind: 'scope-drift', subject: t.id, status: 'open', evidence: { files: ['README.md'], count: 1 } },
      ]);
      const inbox = run(['attention', '--json']).json<Array<{ reason: string; subject: string }>>();
      expect(inbox).toMatchObject([{ reason: 'scope-drift', subject: t.id }]);
    },
  );
});
