/**
 * What `attention` and `status` say about the orchestrators, with real processes: ready work while
 * nobody runs the agents is an attention item, and an orchestrator that died is said to have died
 * (never "stop the hung `dreamos run`", a process that is gone).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import type { AttentionItem } from '../../../src/attention.js';
import { waitFor } from '../../helpers/agents.js';
import { BIN, cli, tempDir, writePolicies } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
const run = (args: string[]) => cli(args, { cwd: tmp.dir });
const inbox = () => run(['attention', '--json']).json<AttentionItem[]>();

beforeEach(() => {
  tmp = tempDir('dreamos-runners-');
  expect(run(['init']).code).toBe(0);
  writePolicies(path.join(tmp.dir, '.dreamos'), { heartbeatSeconds: 1 });
});
afterEach(() => tmp.cleanup());

describe('attention and status about orchestrators', () => {
  it('ready work while nobody runs the agents needs the operator', async () => {
    // Only agent-8 (testing) may take it: a run of agent-1 is alive but cannot.
    run(['task', 'add', 'waits', '--run', 'true', '--role', 'testing']);
    expect(inbox()).toMatchObject([
      { reason: 'no-orchestrator', text: 'nobody runs the agents: 1 ready task waits' },
    ]);
    expect(run(['status']).stdout).toContain('nobody runs the agents: 1 ready task waits; start');

    const other = spawn(process.execPath, [BIN, 'run', '--agents', 'agent-1'], {
      cwd: tmp.dir,
      stdio: 'ignore',
    });
    try {
      await waitFor(() => run(['status']).stdout.includes(`agents run by pid ${other.pid}`), 30_000);
      // A run of agent-1 does not help a task only agent-8 may take: that is still said, by name.
      expect(inbox()).toMatchObject([
        {
          reason: 'no-orchestrator',
          text: 'nobody runs agent-8: 1 ready task waits',
          action: 'start `dreamos run --agents agent-8`',
        },
      ]);
      expect(run(['attention']).stdout).not.toMatch(/nothing needs you/);
      expect(run(['attention', '--exit-code']).code).toBe(8);
      expect(run(['status']).stdout).toContain(
        `agents run by pid ${other.pid}; nobody runs agent-8: 1 ready task waits; start \`dreamos run --agents agent-8\``,
      );
      const status = run(['status', '--json']).json<{ runners: Array<{ pid: number; agents: string[] }> }>();
      expect(status.runners).toMatchObject([{ pid: other.pid, agents: ['agent-1'] }]);
    } finally {
      other.kill('SIGINT');
      await new Promise((r) => other.once('exit', r));
    }
    expect(inbox().map((i) => i.reason)).toEqual(['no-orchestrator']);
  }, 60_000);

  it('`run --until-idle --agents` does not call work left for an agent nobody runs all well', () => {
    run(['task', 'add', 'mine', '--run', 'true', '--role', 'captain']);
    run(['task', 'add', 'theirs', '--run', 'true', '--role', 'testing']);
    const r = run(['run', '--until-idle', '--agents', 'agent-1']);
    expect(r.code, r.stdout + r.stderr).toBe(8);
    expect(r.stderr).toContain('1 done, 0 failed attempts');
    expect(r.stderr).toContain(
      'nobody runs agent-8: 1 ready task waits (T-00002); start `dreamos run --agents agent-8`',
    );
    const json = run(['run', '--until-idle', '--agents', 'agent-1', '--json']);
    expect(json.code).toBe(8);
    const summary = JSON.parse(json.stdout.trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({ type: 'summary', unrun: { tasks: ['T-00002'], agents: ['agent-8'] } });
    // Once agent-8 has run it, nothing is left: exit 0.
    expect(run(['run', '--until-idle', '--agents', 'agent-8']).code).toBe(0);
  }, 90_000);

  it('an orchestrator that died is not called hung', async () => {
    const pidFile = path.join(tmp.dir, 'child.pid');
    run(['task', 'add', 'hang', '--run', `echo $$ > ${JSON.stringify(pidFile)}; sleep 60`]);
    const first = spawn(process.execPath, [BIN, 'run', '--agents', 'agent-2'], {
      cwd: tmp.dir,
      stdio: 'ignore',
    });
    await waitFor(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim() !== '', 30_000);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    // Its program outlives it (the next orchestrator would stop it: tests/system/orchestrator/failover.test.ts).
    const child = Number(fs.readFileSync(pidFile, 'utf8'));
    onTestFinished(() => {
      process.kill(-child, 'SIGKILL');
    });
    run(['task', 'add', 'next', '--run', 'true']);
    // Once its heartbeat is overdue, the agent is an attention item.
    await waitFor(() => inbox().some((i) => i.reason === 'stalled'), 30_000);
    const items = inbox();
    const stalled = items.find((i) => i.reason === 'stalled')!;
    expect(stalled).toMatchObject({ subject: 'agent-2', severity: 'critical' });
    expect(stalled.text).toContain(`its orchestrator (pid ${first.pid}) died holding T-`);
    expect(stalled.action).not.toMatch(/stop the hung/);
    expect(stalled.action).toMatch(/start `dreamos run`/);
    expect(items.some((i) => i.reason === 'no-orchestrator')).toBe(true);
    const human = run(['attention']).stdout;
    expect(human).not.toMatch(/stop the hung/);
  }, 90_000);
});
