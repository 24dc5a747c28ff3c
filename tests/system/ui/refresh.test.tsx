/**
 * What changes with time alone shows in a console that does not run the agents: an orchestrator
 * killed outright writes no journal line, yet the console names its stalled agent and task, and
 * the header says nobody runs the agents.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterEach, describe, expect, test } from 'vitest';
import { KeyCommand } from '../../../ui/keymap.js';
import { waitFor } from '../../helpers/agents.js';
import { cleanupAll, type Harness, open } from '../../helpers/ui.js';
import { BIN } from '../../helpers/workspace.js';

const bin = process.env.DREAMOS_TEST_BIN ?? BIN;
let run: ChildProcess | null = null;
let harness: Harness | null = null;

afterEach(async () => {
  if (run && run.exitCode === null && run.signalCode === null) run.kill('SIGKILL');
  run = null;
  // The task's own process outlives its killed orchestrator: stop its group.
  const child = [...(harness?.ws.view.agentStates() ?? [])].find((s) => s.child)?.child;
  if (child) {
    try {
      process.kill(-child.pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  harness = null;
  await cleanupAll();
});

const header = (frame: string) => frame.split('\n')[0]!;

describe('a console that does not run the agents', () => {
  test('shows the stalled task once its orchestrator is killed, with no journal change', async () => {
    const h = await open({ mode: 'attached' });
    harness = h;
    const task = await h.ws.addTask({ title: 'Wait a while', run: 'sleep 60' });
    const child = spawn(process.execPath, [bin, 'run', '--quiet'], { cwd: h.dir, stdio: 'ignore' });
    run = child;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await h.waitFor(
      (f) => header(f).includes(`agents: pid ${child.pid}`) && new RegExp(`● working .*${task.id}`).test(f),
      'the task working under the other process',
      30_000,
    );
    await waitFor(() => [...h.ws.view.agentStates()].some((s) => s.child?.task === task.id), 30_000);
    child.kill('SIGKILL');
    await exited;
    h.ws.refresh();
    const seq = h.ws.view.seq;
    await h.run(KeyCommand.ViewAlerts);
    const frame = await h.waitFor(
      (f) => /!!\s+stalled\s+agent-1/.test(f) && f.includes(`its orchestrator (pid ${child.pid}) died`),
      'the stalled agent',
      30_000,
    );
    expect(header(frame)).toContain('nobody runs agents');
    expect(frame.toLowerCase()).not.toContain('nothing needs you');
    // Nothing was written after the kill: the console found it out by itself.
    h.ws.refresh();
    expect(h.ws.view.seq).toBe(seq);
  }, 90_000);
});
