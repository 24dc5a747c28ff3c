/**
 * The demo workspace (`dreamos init --demo`, `npm start`): real shell tasks and simulated agents,
 * arranged so that within a minute the board shows agents working, a retry, a dependency chain and
 * a stall (a task that hangs until its timeout stops it: deterministic, unlike a random simulated
 * stall). Simulated agents are labelled as such wherever they show.
 */
import { defaultAgents } from '../agents/roles.js';
import type { Task } from '../state/schemas.js';
import type { AgentConfig } from './config.js';
import type { TaskInput } from './task-input.js';
import type { Workspace } from './workspace.js';

export function demoAgents(): AgentConfig[] {
  return defaultAgents().map((agent, i) =>
    // Half the swarm runs real shell commands; the other half is simulated (and says so).
    i % 2 === 1
      ? agent
      : { ...agent, driver: { kind: 'sim', minSeconds: 3, maxSeconds: 9, failRate: 0.15, stallRate: 0 } },
  );
}

const DEMO_TASKS: TaskInput[] = [
  {
    title: 'Hung integration step (stalls; its 20 s timeout stops it)',
    run: 'echo "waiting for a lock that never frees…"; sleep 600',
    role: 'integration',
    timeout: 20,
    maxAttempts: 1,
    source: 'demo',
  },
  {
    ref: 'plan',
    title: 'Plan the release checklist',
    prompt: 'Draft the release checklist for v1',
    role: 'captain',
    priority: 'high',
    source: 'demo',
  },
  {
    ref: 'deps',
    title: 'Check the toolchain',
    run: 'node --version && npm --version',
    role: 'infrastructure',
    source: 'demo',
    dependsOn: ['plan'],
  },
  {
    ref: 'build',
    title: 'Build the project',
    run: 'sleep 3 && echo built',
    role: 'infrastructure',
    source: 'demo',
    dependsOn: ['deps'],
    resources: ['dist/**'],
  },
  {
    title: 'Run the unit tests',
    run: 'for i in 1 2 3 4 5; do echo "suite $i ok"; sleep 1; done',
    role: 'testing',
    source: 'demo',
    dependsOn: ['build'],
  },
  {
    title: 'Flaky integration check (fails, then retried)',
    run: 'echo "connecting…"; sleep 2; exit 1',
    role: 'integration',
    maxAttempts: 2,
    source: 'demo',
  },
  {
    title: 'Tidy the scheduler loop',
    prompt: 'Simplify the loop without changing behaviour',
    role: 'loop',
    source: 'demo',
  },
  {
    title: 'Write the task template',
    prompt: 'Write a task template for new contributors',
    role: 'task',
    source: 'demo',
    priority: 'low',
  },
  {
    title: 'Review the failures so far',
    // Feedback is one of the shell agents: it reads the board through the CLI, as agents do.
    run: 'sleep 24; echo "failed tasks so far:"; node "$DREAMOS_BIN" task list --status failed',
    role: 'feedback',
    source: 'demo',
  },
  {
    title: 'Polish the help screen',
    prompt: 'Make the help overlay easier to scan',
    role: 'ux',
    source: 'demo',
  },
  {
    title: 'Long soak test',
    run: 'for i in $(seq 1 30); do echo "soak $i"; sleep 1; done',
    role: 'testing',
    timeout: 60,
    source: 'demo',
  },
];

export async function seedDemo(ws: Workspace): Promise<Task[]> {
  return ws.importTasks(DEMO_TASKS);
}
