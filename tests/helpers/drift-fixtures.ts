/** Hand-built states for the drift and attention unit tests: a StateIndex view with tasks, agents, alerts. */
import { defaultAgents } from '../../agents/roles.js';
import { type AgentConfig, Policies } from '../../src/config.js';
import type { DriftInput } from '../../src/drift/index.js';
import { defaultAgentState } from '../../src/mail.js';
import { newTask } from '../../src/task-input.js';
import type { AgentState, Alert, Checkpoint, Mail, Task } from '../../state/schemas.js';
import { StateIndex } from '../../state/state-index.js';

export const T0 = Date.parse('2026-01-01T00:00:00.000Z');
/** The instant `s` seconds after T0. */
export const at = (s: number) => new Date(T0 + s * 1000).toISOString();

export function task(id: string, patch: Partial<Task> = {}): Task {
  const added = newTask(
    id,
    {
      title: `task ${id}`,
      capabilities: [],
      priority: 'normal',
      dependsOn: [],
      resources: [],
      maxAttempts: 3,
      tags: [],
      source: 'cli',
    },
    'operator',
    at(0),
  );
  // Promoted to ready at T0.
  return {
    ...added,
    status: 'ready',
    history: [
      { from: null, to: 'backlog', by: 'operator', at: at(0) },
      { from: 'backlog', to: 'ready', by: 'operator', at: at(0) },
    ],
    rev: 1,
    ...patch,
  };
}

/** A task `agent` has worked on since `startS`. */
export function working(id: string, agent: string, startS: number, patch: Partial<Task> = {}): Task {
  const base = task(id);
  return task(id, {
    status: 'working',
    agent,
    attempts: 1,
    lease: { owner: agent, expiresAt: at(startS + 3600) },
    history: [...base.history, { from: 'ready', to: 'working', by: agent, at: at(startS) }],
    updatedAt: at(startS),
    ...patch,
  });
}

/** A task `agent` ran from `startS` to `endS` and finished done, or failed with `error`. */
export function finished(
  id: string,
  agent: string,
  startS: number,
  endS: number,
  patch: Partial<Task> = {},
  error?: string,
): Task {
  const base = task(id);
  return task(id, {
    status: error ? 'failed' : 'done',
    agent,
    attempts: 1,
    maxAttempts: 1,
    history: [
      ...base.history,
      { from: 'ready', to: 'working', by: agent, at: at(startS) },
      error
        ? { from: 'working', to: 'failed', by: agent, at: at(endS), why: `attempt 1 of 1 failed: ${error}` }
        : { from: 'working', to: 'done', by: agent, at: at(endS), why: 'completed' },
    ],
    result: error ? { ok: false, error, errorCode: 'E_EXIT' } : { ok: true },
    updatedAt: at(endS),
    ...patch,
  });
}

export function agentState(id: string, patch: Partial<AgentState> = {}): AgentState {
  return { ...defaultAgentState(id, new Date(at(0))), rev: 1, ...patch };
}

/** An agent run by orchestrator pid 4242 whose last heartbeat was at `beatS`. */
export const runBy = (beatS: number) => ({
  runner: { pid: 4242, host: 'elsewhere', startedAt: at(0) },
  heartbeatAt: at(beatS),
});

export function alert(id: string, patch: Partial<Alert> = {}): Alert {
  return {
    id,
    kind: 'stall',
    severity: 'warning',
    status: 'open',
    key: `stall:${id}`,
    subject: 'agent-2',
    message: 'something happened',
    evidence: {},
    action: 'escalate: escalated to the operator',
    count: 1,
    createdAt: at(0),
    updatedAt: at(0),
    rev: 1,
    ...patch,
  };
}

export function checkpoint(
  id: string,
  agent: string,
  taskId: string,
  atS: number,
  data: Record<string, unknown>,
): Checkpoint {
  return { id, agent, task: taskId, progress: null, data, at: at(atS), rev: 1 };
}

export interface Built {
  tasks?: Task[];
  agents?: AgentState[];
  alerts?: Alert[];
  checkpoints?: Checkpoint[];
  mail?: Mail[];
}

export function view(built: Built): StateIndex {
  const mem = new StateIndex();
  for (const t of built.tasks ?? []) mem.putTask(t);
  for (const a of built.agents ?? []) mem.putAgent(a);
  for (const a of built.alerts ?? []) mem.putAlert(a);
  for (const c of built.checkpoints ?? []) mem.putCheckpoint(c);
  for (const m of built.mail ?? []) mem.putMail(m);
  mem.sortReadyQueues();
  return mem;
}

/** Default policies (heartbeat 5 s, so an agent is stale after 10 s), with `drift` overrides. */
export function policies(drift: Record<string, unknown> = {}, rest: Record<string, unknown> = {}): Policies {
  return Policies.parse({ ...rest, drift });
}

export const AGENTS: AgentConfig[] = defaultAgents();
export const LLM_AGENTS: AgentConfig[] = AGENTS.map((a) =>
  a.id === 'agent-3'
    ? {
        ...a,
        driver: {
          kind: 'llm',
          baseUrl: 'http://127.0.0.1:9/v1',
          model: 'm',
          requestTimeoutSeconds: 120,
          contextBudgetTokens: 100_000,
        },
      }
    : a,
);

export function input(built: Built, nowS: number, extra: Partial<DriftInput> = {}): DriftInput {
  return {
    view: view(built),
    agents: AGENTS,
    policies: policies(),
    now: new Date(T0 + nowS * 1000),
    ...extra,
  };
}
