/**
 * Stopping the orchestrator at an awkward moment: after an agent has claimed a task and before its
 * program starts. Nothing may start once the stop has begun (nobody would stop it, and the process
 * exits right after), and the task goes back to ready.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentDriver, DriverRun } from '../../../agents/drivers/types.js';
import { Orchestrator } from '../../../src/orchestrator/index.js';
import { openWorkspace, type Workspace } from '../../../src/workspace.js';
import { cli, tempDir } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
let ws: Workspace;

beforeEach(async () => {
  tmp = tempDir('dreamos-stop-');
  expect(cli(['init'], { cwd: tmp.dir }).code).toBe(0);
  ws = await openWorkspace({ home: path.join(tmp.dir, '.dreamos'), share: false });
});
afterEach(async () => {
  await ws.close();
  tmp.cleanup();
});

/** A driver that records what it was asked to start; a started run ends only when stopped. */
function recordingDriver(started: string[]): AgentDriver {
  return {
    kind: 'shell',
    accepts: () => true,
    start: (ctx): DriverRun => {
      started.push(ctx.task.id);
      let end!: () => void;
      const done = new Promise<{ ok: boolean }>((resolve) => {
        end = () => resolve({ ok: false });
      });
      return {
        done,
        stop: async () => {
          end();
          await done;
        },
      };
    },
  };
}

describe('an orchestrator stopped between a claim and the start of the task', () => {
  it('starts nothing and puts the task back to ready', async () => {
    const task = await ws.addTask({ title: 'claimed just before the stop', run: 'true' });
    const started: string[] = [];
    let stopping: Promise<void> | null = null;
    const orchestrator = new Orchestrator(ws, {
      agents: ['agent-1'],
      createDriver: () => recordingDriver(started),
      onEvent: (event) => {
        // 'claimed' is emitted when the claim is made, before the program is started.
        if (event.type === 'claimed') stopping = orchestrator.stop();
      },
    });
    await orchestrator.start();
    expect(await orchestrator.done).toBe('shutdown');
    await stopping;
    expect(started).toEqual([]);
    ws.refresh();
    const after = ws.getTask(task.id);
    expect(after.status).toBe('ready');
    expect(after.history.at(-1)?.why).toMatch(/shutdown of agent-1/);
  });
});
