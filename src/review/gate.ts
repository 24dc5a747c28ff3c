/**
 * The merge queue's gate: the gate command as a task of the gate role (Testing by default), so it
 * shows on the board and is logged like any task. A live orchestrator running an agent of that role
 * takes it like any ready task; with none, the queue claims it as that agent and runs it itself
 * through the shell driver (docs/decisions/review-and-merge.md). Either way it runs in the queue's
 * scratch tree, where the merged result is checked out.
 */
import fs from 'node:fs';
import { dirname } from 'node:path';
import { createShellDriver } from '../../agents/drivers/shell.js';
import type { Task } from '../../state/schemas.js';
import type { AgentConfig } from '../config.js';
import { isTerminal } from '../lifecycle/context.js';
import { runnerDied } from '../runners.js';
import { stripControl } from '../sanitize.js';
import { readLines } from '../task-logs.js';
import type { Workspace } from '../workspace.js';
import { GATE_KEY } from './code-work.js';

export interface GateResult {
  ok: boolean;
  /** The gate task, when one ran. */
  task?: string;
  /** The end of its output (stripped), for the task's context when it failed. */
  output: string;
}

const OUTPUT_TAIL = 4000;
const POLL_MS = 200;

/** The gate task for the merge of `task` at `result`: added once (a restart finds the same one). */
export async function gateTask(ws: Workspace, task: Task, result: string, command: string): Promise<Task> {
  const review = ws.config.policies.review;
  const { task: gate } = await ws.addTaskOnce(
    {
      title: `Gate for ${task.id}: ${task.title}`.slice(0, 300),
      prompt: `Run the merge gate \`${command}\` in the current folder (the merge of ${task.id} onto ${task.code?.base}); succeed only if it passes.`,
      run: command,
      role: review.gateRole,
      maxAttempts: 1,
      timeout: review.gateTimeoutSeconds,
      tags: ['merge-gate'],
      dedupeKey: `${GATE_KEY}${task.id}:${result}`,
    },
    { by: 'merge-queue' },
  );
  return gate;
}

/** Agents of the gate role, the ones no live orchestrator runs first. */
function gateAgents(ws: Workspace): { idle: AgentConfig[]; run: AgentConfig[] } {
  const role = ws.config.policies.review.gateRole;
  const agents = ws.config.agents.filter((a) => a.enabled && (a.role === role || a.id === role));
  const running = (a: AgentConfig) => {
    const state = ws.view.agentState(a.id);
    return state?.runner != null && !runnerDied(state);
  };
  return { idle: agents.filter((a) => !running(a)), run: agents.filter(running) };
}

function tail(ws: Workspace, task: Task): string {
  const log = task.result?.log;
  let text = '';
  if (log) {
    try {
      text = readLines(`${ws.home}/${log}`, 0, true).lines.join('\n');
    } catch {
      text = '';
    }
  }
  const error = task.result?.error ? `${task.result.error}\n` : '';
  return stripControl(`${error}${text}`).slice(-OUTPUT_TAIL);
}

/** Claims the gate task as `agent` and runs its command here, reporting its outcome on the board. */
async function runHere(
  ws: Workspace,
  agent: AgentConfig,
  gate: Task,
  tree: string,
  repo: string,
): Promise<void> {
  const claimed = await ws.claim(agent.id, { taskId: gate.id });
  if (!claimed) return;
  const logPath = ws.paths.log(agent.id, gate.id);
  fs.mkdirSync(dirname(logPath), { recursive: true, mode: 0o700 });
  const driver = createShellDriver({ kind: 'shell', shell: '/bin/sh' });
  const run = driver.start({
    task: claimed,
    agent: { id: agent.id, systemPrompt: '' },
    home: ws.home,
    cwd: repo,
    worktree: { tree, repo },
    logPath,
    checkpoint: null,
    mailbox: [],
    ...(claimed.timeout ? { timeoutSeconds: claimed.timeout } : {}),
    env: {},
    onLine: () => undefined,
    onProgress: () => undefined,
    onCheckpoint: () => undefined,
    onSpawn: () => undefined,
    tools: {
      addSubtask: () => Promise.reject(new Error('a gate adds no tasks')),
      sendMessage: () => Promise.reject(new Error('a gate sends no mail')),
    },
  });
  const outcome = await run.done;
  const report = {
    agent: agent.id,
    ...(claimed.lease?.token !== undefined ? { leaseToken: claimed.lease.token } : {}),
    log: logPath.slice(ws.home.length + 1),
    ...(outcome.exitCode !== undefined ? { exitCode: outcome.exitCode } : {}),
  };
  if (outcome.ok) await ws.complete(gate.id, { ...report, summary: 'the gate passed' });
  else
    await ws.fail(gate.id, {
      ...report,
      reason: outcome.error ?? 'the gate failed',
      errorCode: outcome.errorCode ?? 'E_GATE',
      final: true,
    });
}

/**
 * Runs (or waits for) the gate task until it ends. A gate task another process holds is waited
 * for; one left working by a process that died returns to ready when its lease runs out, and is
 * taken again.
 */
export async function runGate(ws: Workspace, gate: Task, tree: string, repo: string): Promise<GateResult> {
  for (;;) {
    ws.refresh();
    const now = ws.view.task(gate.id);
    if (!now) return { ok: false, task: gate.id, output: `the gate task ${gate.id} is gone` };
    if (isTerminal(now.status)) {
      const ok = now.status === 'done';
      return { ok, task: gate.id, output: ok ? '' : tail(ws, now) };
    }
    const agents = gateAgents(ws);
    if (now.status === 'ready' && agents.idle[0]) {
      await runHere(ws, agents.idle[0], now, tree, repo).catch(() => undefined);
      continue;
    }
    if (agents.idle.length === 0 && agents.run.length === 0)
      return {
        ok: false,
        task: gate.id,
        output: `no enabled agent has the gate role ${ws.config.policies.review.gateRole}`,
      };
    // Working, held by an agent no live orchestrator runs: the queue that ran it here was killed
    // (one queue at a time holds the lock), so it goes back to ready and runs again.
    const holder = now.lease?.owner;
    if (now.status === 'working' && holder && agents.idle.some((a) => a.id === holder)) {
      await ws
        .move(now.id, 'ready', 'the merge queue running this gate stopped: run again')
        .catch(() => undefined);
      continue;
    }
    if (now.status === 'working') await ws.sweep();
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
