import fs from 'node:fs';
import path from 'node:path';
import type { DriverContext } from '../../agents/drivers/types.js';
import { AgentConfig, type Driver } from '../../src/config.js';
import { newTask } from '../../src/task-input.js';
import { processAlive } from '../../state/proc.js';
import type { Checkpoint, Mail, Task } from '../../state/schemas.js';

export function makeTask(partial: Partial<Task> = {}): Task {
  const task = newTask(
    'T-0000A',
    {
      title: 'a test task',
      capabilities: [],
      priority: 'normal',
      dependsOn: [],
      resources: [],
      maxAttempts: 1,
      tags: [],
      source: 'cli',
    },
    'operator',
    new Date().toISOString(),
  );
  // Taken by agent-5, as a driver sees it.
  return { ...task, status: 'working', agent: 'agent-5', attempts: 1, history: [], rev: 1, ...partial };
}

export function makeAgent(driver: Driver, partial: Partial<AgentConfig> = {}): AgentConfig {
  return AgentConfig.parse({ id: 'agent-5', name: 'Task Engineer', role: 'task', driver, ...partial });
}

export interface Recorded {
  lines: { line: string; stream: 'stdout' | 'stderr' }[];
  progress: number[];
  checkpoints: Parameters<DriverContext['onCheckpoint']>[0][];
  spawns: { pid: number; pgid: number }[];
  subtasks: Parameters<DriverContext['tools']['addSubtask']>[0][];
  messages: { to: string; body: string }[];
}

/** A driver context over a temporary `.dreamos` folder, recording every callback. */
export function makeContext(
  dir: string,
  partial: Partial<DriverContext> & { driver?: Driver } = {},
): { ctx: DriverContext; rec: Recorded } {
  const home = path.join(dir, '.dreamos');
  fs.mkdirSync(home, { recursive: true });
  const rec: Recorded = { lines: [], progress: [], checkpoints: [], spawns: [], subtasks: [], messages: [] };
  const { driver = { kind: 'shell', shell: '/bin/sh' }, ...rest } = partial;
  const ctx: DriverContext = {
    task: makeTask(),
    agent: makeAgent(driver),
    home,
    cwd: dir,
    logPath: path.join(home, 'logs', 'agent-5', 'T-0000A.log'),
    checkpoint: null,
    mailbox: [],
    env: {},
    onLine: (line, stream) => rec.lines.push({ line, stream }),
    onProgress: (p) => rec.progress.push(p),
    onCheckpoint: (cp) => rec.checkpoints.push(cp),
    onSpawn: (child) => rec.spawns.push(child),
    tools: {
      addSubtask: async (input) => {
        if (input.title === 'refuse me') throw new Error('the board refused it');
        rec.subtasks.push(input);
        return { id: `T-0000${rec.subtasks.length}` };
      },
      sendMessage: async (to, body) => {
        if (to === 'nobody') throw new Error('unknown recipient nobody');
        rec.messages.push({ to, body });
      },
    },
    ...rest,
  };
  return { ctx, rec };
}

export function makeCheckpoint(partial: Partial<Checkpoint> = {}): Checkpoint {
  return {
    id: 'C-0000A',
    agent: 'agent-5',
    task: 'T-0000A',
    progress: 0.6,
    step: 'step 3/5',
    summary: 'half-way: parser written',
    at: new Date().toISOString(),
    rev: 1,
    ...partial,
  };
}

export function makeMail(partial: Partial<Mail> = {}): Mail {
  return {
    id: 'M-0000A',
    to: 'agent-5',
    from: 'agent-1',
    type: 'message',
    body: 'please keep the public API unchanged',
    createdAt: new Date().toISOString(),
    readAt: null,
    ackedAt: null,
    rev: 1,
    ...partial,
  };
}

/** True when no such process runs: gone (ESRCH), or exited and waiting to be reaped (a zombie). */
export const processGone = (pid: number): boolean => !processAlive(pid);

/** Waits (generously) until every pid is gone; returns those still running. */
export async function waitGone(pids: number[], timeoutMs = 15_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = pids.filter((pid) => !processGone(pid));
  while (alive.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    alive = alive.filter((pid) => !processGone(pid));
  }
  return alive;
}

export async function waitFor(check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
