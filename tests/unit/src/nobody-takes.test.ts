/**
 * Work nobody can take: the rule that says why (role, capability, driver, paused or disabled), and
 * the attention item it becomes. Each case is checked against the scheduler itself: what this calls
 * untakeable, `assign` hands to nobody; what it lets pass, `assign` hands to someone.
 */
import { describe, expect, it } from 'vitest';
import { createDriver } from '../../../agents/drivers/index.js';
import { attention } from '../../../src/attention.js';
import type { AgentConfig } from '../../../src/config.js';
import { assign, type Slot } from '../../../src/orchestrator/scheduler.js';
import { whyNobodyTakes } from '../../../src/orchestrator/takers.js';
import type { Task } from '../../../state/schemas.js';
import { AGENTS, agentState, policies, T0, task, view } from '../../helpers/drift-fixtures.js';

const command = { kind: 'command' as const, argv: ['claude', '-p', '{prompt}'], env: {}, worktree: false };
const withCommand = (ids: string[]) =>
  AGENTS.map((a) => (ids.includes(a.id) ? { ...a, driver: command } : a));

/** What the orchestrator would do with this one task: the agents it may hand it to. */
function scheduled(t: Task, agents: AgentConfig[], paused: string[] = []): string[] {
  const slots: Slot[] = agents
    .filter((a) => a.enabled && !paused.includes(a.id))
    .map((a) => ({
      agent: a,
      accepts: (x: Task) => createDriver(a.driver).accepts(x),
      idleSince: 0,
      recentTags: new Set(),
      recentResources: [],
    }));
  return [...assign(view({ tasks: [t] }), slots, policies(), T0 + 1000).keys()];
}

function why(t: Task, agents: AgentConfig[], paused: string[] = []) {
  const answer = whyNobodyTakes(t, agents, (id) => paused.includes(id));
  // The rule and the scheduler agree: untakeable exactly when the scheduler hands it to nobody.
  expect(scheduled(t, agents, paused).length === 0).toBe(answer !== null);
  return answer;
}

describe('why nobody can take a task', () => {
  it('says that no agent takes prompt tasks when every agent has the shell driver', () => {
    const w = why(task('T-00001', { prompt: 'write the docs' }), AGENTS);
    expect(w?.kind).toBe('driver');
    expect(w?.text).toMatch(/^no agent takes prompt tasks/);
    expect(w?.action).toContain('--run');
    expect(why(task('T-00002', { run: 'make' }), AGENTS)).toBeNull();
  });

  it('names the role when only agents of other roles take prompts', () => {
    const w = why(task('T-00001', { role: 'testing' }), withCommand(['agent-1']));
    expect(w?.text).toMatch(/^no agent with role testing takes prompt tasks/);
    expect(why(task('T-00002', { role: 'captain' }), withCommand(['agent-1']))).toBeNull();
  });

  it('names the capability no agent has', () => {
    const w = why(task('T-00001', { run: 'train', capabilities: ['gpu'] }), AGENTS);
    expect(w).toMatchObject({ kind: 'capability', text: 'needs capability gpu, which no agent has' });
    const both = why(task('T-00002', { run: 'x', capabilities: ['ux', 'ci'] }), AGENTS);
    expect(both?.text).toBe('needs capabilities ux, ci together, which no agent has');
  });

  it('names the only agent that may take it when it is paused, and how to resume it', () => {
    const t = task('T-00001', { role: 'agent-4', run: 'deploy' });
    const w = why(t, AGENTS, ['agent-4']);
    expect(w).toMatchObject({ kind: 'unavailable', text: 'only agent-4 may take it, and it is paused' });
    expect(w?.action).toContain('dreamos agent resume agent-4');
    expect(why(t, AGENTS)).toBeNull();
    // Another agent that may take it is enough.
    expect(why(task('T-00002', { run: 'x' }), AGENTS, ['agent-4'])).toBeNull();
  });

  it('names disabled agents and a role nobody has', () => {
    const agents = AGENTS.map((a) => (a.id === 'agent-7' ? { ...a, enabled: false } : a));
    expect(why(task('T-00001', { role: 'ux', run: 'x' }), agents)?.text).toBe(
      'only agent-7 may take it, and it is disabled',
    );
    expect(why(task('T-00002', { role: 'gone', run: 'x' }), AGENTS)).toMatchObject({
      kind: 'role',
      text: 'no agent with role gone exists',
    });
  });
});

describe('attention', () => {
  const now = new Date(T0 + 100_000);
  it('lists ready and backlog tasks nobody can take, typed, and not those someone can', () => {
    const built = {
      tasks: [
        task('T-00001', { prompt: 'p' }),
        task('T-00002', { run: 'true' }),
        task('T-00003', { status: 'backlog', run: 'x', capabilities: ['gpu'] }),
      ],
      agents: [agentState('agent-4', { paused: true })],
    };
    const items = attention(view(built), { policies: policies(), agents: AGENTS, now });
    expect(items.map((i) => [i.reason, i.subject, i.severity])).toEqual([
      // T-00002 can be taken, but no orchestrator runs the agents.
      ['no-orchestrator', 'agents', 'warning'],
      ['unassignable', 'T-00001', 'warning'],
      ['unassignable', 'T-00003', 'warning'],
    ]);
    expect(items[1]!.text).toBe(
      "task T-00001: no agent takes prompt tasks (the shell driver runs only a task's `run` command)",
    );
    const fixed = attention(view(built), { policies: policies(), agents: withCommand(['agent-5']), now });
    expect(fixed.map((i) => i.subject)).toEqual(['agents', 'T-00003']);
  });
});
