/** The attention inbox: what needs the operator, ranked, one item per subject, no noise. */
import { describe, expect, it } from 'vitest';
import { attention } from '../../../src/attention.js';
import type { Mail } from '../../../state/schemas.js';
import {
  AGENTS,
  agentState,
  alert,
  type Built,
  finished,
  policies,
  runBy,
  T0,
  task,
  view,
  working,
} from '../../helpers/drift-fixtures.js';

/** Agents whose driver takes any task, so that only the rules under test keep a task waiting. */
const TAKERS = AGENTS.map((a) => ({
  ...a,
  driver: { kind: 'command' as const, argv: ['true'], env: {}, worktree: false },
}));
const inbox = (built: Built, nowS = 100) =>
  attention(view(built), { policies: policies(), agents: TAKERS, now: new Date(T0 + nowS * 1000) });
const brief = (built: Built, nowS?: number) => inbox(built, nowS).map((i) => [i.reason, i.subject]);

function mail(id: string, patch: Partial<Mail> = {}): Mail {
  return {
    id,
    to: 'operator',
    from: 'agent-4',
    type: 'message',
    body: 'may I touch the deploy scripts?',
    createdAt: new Date(T0).toISOString(),
    readAt: null,
    ackedAt: null,
    rev: 1,
    ...patch,
  };
}

describe('attention', () => {
  it('is empty for a board that is merely running', () => {
    const built: Built = {
      tasks: [working('T-00001', 'agent-2', 90), task('T-00002'), finished('T-00003', 'agent-2', 0, 5)],
      agents: [agentState('agent-2', { status: 'working', task: 'T-00001', ...runBy(99) })],
    };
    expect(inbox(built)).toEqual([]);
  });

  it('gives each case its typed reason', () => {
    const built: Built = {
      tasks: [
        finished('T-0000F', 'agent-2', 0, 5, {}, 'exited with code 1'),
        task('T-0000B', { status: 'backlog', dependsOn: ['T-0000F'] }),
        task('T-0000P', {
          status: 'backlog',
          history: [{ from: null, to: 'backlog', by: 'agent-5', at: new Date(T0).toISOString() }],
          source: 'agent',
        }),
        // Held back by the operator on purpose: not a request for approval.
        task('T-0000H', { status: 'backlog' }),
        working('T-0000L', 'agent-6', 0, {
          lease: { owner: 'agent-6', expiresAt: new Date(T0 + 50_000).toISOString() },
        }),
      ],
      agents: [agentState('agent-3', { status: 'stale', ...runBy(0) })],
      alerts: [
        alert('A-00001', {
          kind: 'scope-drift',
          subject: 'T-0000S',
          key: 'scope-drift:T-0000S',
          evidence: { task: 'T-0000S' },
        }),
        alert('A-00002', {
          kind: 'corrupt-state',
          subject: 'boards/x.json',
          key: 'corrupt:x',
          severity: 'critical',
        }),
        alert('A-00003', {
          kind: 'budget',
          subject: 'T-0000X',
          key: 'budget:T-0000X',
          status: 'acknowledged',
        }),
      ],
      mail: [mail('M-00001'), mail('M-00002', { ackedAt: new Date(T0).toISOString() })],
    };
    const items = inbox(built);
    expect(items.map((i) => [i.reason, i.subject]).sort()).toEqual(
      [
        ['blocked', 'T-0000B'],
        ['failed', 'T-0000F'],
        ['message', 'agent-4'],
        ['needs-approval', 'T-0000P'],
        ['scope-drift', 'T-0000S'],
        ['stalled', 'T-0000L'],
        ['stalled', 'agent-3'],
        ['state-damaged', 'boards/x.json'],
      ].sort(),
    );
    expect(items.find((i) => i.subject === 'T-0000F')?.text).toMatch(
      /exited with code 1.*1 task waits on it/,
    );
    expect(items.find((i) => i.subject === 'T-0000B')?.action).toContain('dreamos task retry T-0000F');
  });

  it('merges what concerns one subject into one item, keeping the weightiest reason', () => {
    const built: Built = {
      tasks: [
        finished(
          'T-00001',
          'agent-2',
          0,
          5,
          { result: { ok: false, error: 'over budget', errorCode: 'E_BUDGET' } },
          'x',
        ),
      ],
      agents: [agentState('agent-2', { status: 'stale', task: null, ...runBy(0) })],
      alerts: [
        alert('A-00001', { kind: 'budget', subject: 'T-00001', key: 'budget:T-00001', severity: 'critical' }),
        alert('A-00002', { kind: 'stall', subject: 'agent-2', key: 'stall:agent-2', severity: 'warning' }),
        alert('A-00003', {
          kind: 'overrun',
          subject: 'T-00002',
          key: 'overrun:T-00002',
          severity: 'warning',
        }),
      ],
    };
    built.tasks!.push(finished('T-00002', 'agent-4', 0, 5, {}, 'exited with code 2'));
    const items = inbox(built);
    expect(items).toHaveLength(3);
    expect(items[2]).toMatchObject({
      reason: 'failed',
      subject: 'T-00002',
      alerts: ['A-00003'],
      also: ['overrun'],
    });
    expect(items[0]).toMatchObject({
      reason: 'over-budget',
      subject: 'T-00001',
      alerts: ['A-00001'],
      also: [],
    });
    expect(items[1]).toMatchObject({ reason: 'stalled', subject: 'agent-2', alerts: ['A-00002'] });
  });

  it('ranks by severity, then reason, then task priority, newest first', () => {
    const built: Built = {
      tasks: [
        finished('T-0000A', 'agent-2', 0, 5, {}, 'boom'),
        finished('T-0000B', 'agent-2', 0, 9, {}, 'boom'),
        finished('T-0000C', 'agent-2', 0, 1, { priority: 'high' }, 'boom'),
        finished('T-0000D', 'agent-2', 0, 1, { priority: 'critical' }, 'boom'),
        task('T-0000E', { status: 'backlog', dependsOn: ['T-0000A'] }),
      ],
      agents: [agentState('agent-3', { status: 'working', task: 'T-0000Z', ...runBy(0) })],
    };
    expect(brief(built)).toEqual([
      ['stalled', 'agent-3'], // critical: it holds a task and its orchestrator is silent
      ['failed', 'T-0000D'], // critical: a critical task
      ['failed', 'T-0000C'], // warning, high priority
      ['failed', 'T-0000B'], // warning, newest
      ['failed', 'T-0000A'],
      ['blocked', 'T-0000E'], // info
    ]);
  });

  it('lists webhooks that fail or were disabled, ranked with the other items', () => {
    const built: Built = {
      tasks: [
        finished('T-0000A', 'agent-2', 0, 5, {}, 'boom'),
        task('T-0000E', { status: 'backlog', dependsOn: ['T-0000A'] }),
      ],
    };
    const at = new Date(T0).toISOString();
    const hook = { url: 'https://example.com/hook', since: at, pending: 2 };
    const items = attention(view(built), {
      policies: policies(),
      agents: TAKERS,
      now: new Date(T0 + 100_000),
      webhooks: [
        { ...hook, id: 'W-FAILING1', state: 'failing', why: '1 failed attempt in a row', failures: 1 },
        {
          ...hook,
          id: 'W-GONE0000',
          state: 'disabled',
          why: 'the receiver answered 410 Gone',
          failures: 1,
          by: 'receiver',
        },
      ],
    });
    expect(items.map((i) => [i.reason, i.subject, i.severity])).toEqual([
      ['failed', 'T-0000A', 'warning'],
      ['webhook-failing', 'W-GONE0000', 'warning'], // a disabled webhook: its events wait
      ['webhook-failing', 'W-FAILING1', 'info'], // retries go on; events reach nobody meanwhile
      ['blocked', 'T-0000E', 'info'],
    ]);
    expect(items[1]).toMatchObject({ key: 'webhook:W-GONE0000' });
    expect(items[1]!.text).toContain('2 deliveries wait');
    expect(items[1]!.action).toContain('dreamos webhook enable W-GONE0000');
  });

  it('an agent whose orchestrator beats is not stalled', () => {
    const built: Built = {
      agents: [agentState('agent-3', { status: 'working', task: 'T-0000Z', ...runBy(95) })],
    };
    expect(inbox(built)).toEqual([]);
  });
});
