/** Each drift rule (docs/drift.md) over hand-built states: when it fires, with what evidence and action. */
import { describe, expect, it } from 'vitest';
import { errorSignature, matchesGlob, workingSeconds } from '../../../../src/drift/facts.js';
import {
  clearedAlerts,
  type DriftInput,
  type DriftKind,
  evaluateDrift,
  judgedHere,
} from '../../../../src/drift/index.js';
import {
  AGENTS,
  agentState,
  alert,
  type Built,
  checkpoint,
  finished,
  input,
  LLM_AGENTS,
  policies,
  runBy,
  T0,
  task,
  working,
} from '../../../helpers/drift-fixtures.js';

const only = (kind: DriftKind, i: DriftInput) => evaluateDrift(i, [kind]);

interface Case {
  name: string;
  built: Built;
  now: number;
  extra?: Partial<DriftInput>;
  /** Expected findings (a subset of their fields), in order; [] for none. */
  expect: Array<Record<string, unknown>>;
}

function table(kind: DriftKind, cases: Case[]) {
  for (const c of cases) {
    it(c.name, () => {
      const found = only(kind, input(c.built, c.now, c.extra));
      expect(found).toHaveLength(c.expect.length);
      c.expect.forEach((e, i) => {
        expect(found[i]).toMatchObject(e);
      });
    });
  }
}

const holding = (beatS: number, patch = {}) => ({
  tasks: [working('T-00001', 'agent-2', 0)],
  agents: [agentState('agent-2', { status: 'working', task: 'T-00001', ...runBy(beatS), ...patch })],
});

describe('stall', () => {
  table('stall', [
    {
      name: 'an agent holding a task whose heartbeat is older than two intervals: requeue',
      built: holding(100),
      now: 111,
      expect: [
        {
          key: 'stall:agent-2',
          agent: 'agent-2',
          task: 'T-00001',
          action: 'requeue',
          severity: 'critical',
          occurrence: new Date(T0 + 100_000).toISOString(),
          evidence: { silentSeconds: 11, limitSeconds: 10 },
        },
      ],
    },
    { name: 'a heartbeat within two intervals is fine', built: holding(100), now: 109, expect: [] },
    {
      name: 'an agent the caller runs itself is never stale to it',
      built: holding(100),
      now: 200,
      extra: { alive: new Set(['agent-2']) },
      expect: [],
    },
    {
      name: 'an idle agent of a dead orchestrator needs nothing',
      built: { agents: [agentState('agent-2', runBy(0))] },
      now: 500,
      expect: [],
    },
    {
      name: 'an agent already marked stale stays a (warning) stall until it beats again',
      built: { agents: [agentState('agent-2', { status: 'stale', ...runBy(0) })] },
      now: 500,
      expect: [{ key: 'stall:agent-2', task: null, severity: 'warning' }],
    },
    {
      name: 'an agent no orchestrator runs is left to its lease',
      built: {
        tasks: [working('T-00001', 'agent-2', 0)],
        agents: [agentState('agent-2', { task: 'T-00001' })],
      },
      now: 500,
      expect: [],
    },
    {
      name: 'a task silent past silentSeconds is escalated',
      built: holding(1000),
      now: 1001,
      extra: { lastOutputAt: new Map([['agent-2', T0 + 50_000]]) },
      expect: [{ key: 'stall:T-00001', action: 'escalate', evidence: { quietSeconds: 951 } }],
    },
    {
      name: 'a task that wrote output lately is not silent',
      built: holding(1000),
      now: 1001,
      extra: { lastOutputAt: new Map([['agent-2', T0 + 900_000]]) },
      expect: [],
    },
  ]);

  it('is configurable: three intervals, escalate only', () => {
    const i = input(holding(100), 111, {
      policies: policies({ stall: { heartbeatIntervals: 3, action: 'escalate' } }),
    });
    expect(only('stall', i)).toHaveLength(0);
    expect(only('stall', { ...i, now: new Date(T0 + 116_000) })[0]).toMatchObject({ action: 'escalate' });
  });

  it('judges who acts: the runner of a live agent, anyone for a stale one', () => {
    const live = input(holding(100), 105);
    expect(judgedHere(live, 'agent-2', new Set())).toBe(false);
    expect(judgedHere(live, 'agent-2', new Set(['agent-2']))).toBe(true);
    expect(judgedHere(input(holding(100), 200), 'agent-2', new Set())).toBe(true);
  });

  it('leaves a stale agent to the leader of the sweeps: one that does not judge others leaves it', () => {
    const stale = input(holding(100), 200);
    expect(judgedHere(stale, 'agent-2', new Set(), false)).toBe(false);
    expect(judgedHere(stale, 'agent-2', new Set(['agent-2']), false)).toBe(true);
    expect(only('stall', stale)).toHaveLength(1);
  });
});

const doneLike = (n: number, seconds: number, patch = {}) =>
  Array.from({ length: n }, (_, i) =>
    finished(`T-D000${i}`, 'agent-2', 0, seconds + i, { role: 'agent-2', tags: ['build'], ...patch }),
  );

describe('overrun', () => {
  const long = (startS: number, patch = {}) =>
    working('T-00001', 'agent-2', startS, { role: 'agent-2', tags: ['build'], ...patch });
  table('overrun', [
    {
      name: 'past its timeout (plus grace): stop with E_TIMEOUT',
      built: { tasks: [long(0, { timeout: 60 })] },
      now: 80,
      expect: [{ key: 'overrun:T-00001', action: 'stop', errorCode: 'E_TIMEOUT', evidence: { timeout: 60 } }],
    },
    {
      name: 'within its timeout and grace',
      built: { tasks: [long(0, { timeout: 60 })] },
      now: 70,
      expect: [],
    },
    {
      name: 'far past the usual duration of its role and tags: escalate',
      built: { tasks: [long(0), ...doneLike(5, 10)] },
      now: 130,
      expect: [{ action: 'escalate', evidence: { usualSeconds: 12, samples: 5 } }],
    },
    {
      name: 'never before usualMinSeconds',
      built: { tasks: [long(0), ...doneLike(5, 10)] },
      now: 100,
      expect: [],
    },
    {
      name: 'too few finished tasks of its kind to know',
      built: { tasks: [long(0), ...doneLike(4, 10)] },
      now: 1000,
      expect: [],
    },
    {
      name: 'tasks of another kind do not count',
      built: { tasks: [long(0), ...doneLike(5, 10, { tags: ['deploy'] })] },
      now: 1000,
      expect: [],
    },
  ]);
});

const failing = (n: number, error: (i: number) => string) =>
  Array.from({ length: n }, (_, i) => finished(`T-F000${i}`, 'agent-2', i * 10, i * 10 + 1, {}, error(i)));

describe('repeated failure', () => {
  table('repeated-failure', [
    {
      name: 'the last three attempts failed with the same error: pause the agent',
      built: {
        tasks: failing(3, (i) => `exited with code 3: boom ${i}`),
        agents: [agentState('agent-2', { failures: 3 })],
      },
      now: 100,
      expect: [
        {
          key: 'repeated-failure:agent-2',
          action: 'pause',
          task: null,
          evidence: { error: 'exited with code 3', failures: 3 },
        },
      ],
    },
    {
      name: 'different errors are not a loop',
      built: {
        tasks: failing(3, (i) => `exited with code ${i}`),
        agents: [agentState('agent-2', { failures: 3 })],
      },
      now: 100,
      expect: [],
    },
    {
      name: 'fewer consecutive failures than the policy',
      built: {
        tasks: failing(2, () => 'exited with code 3'),
        agents: [agentState('agent-2', { failures: 2 })],
      },
      now: 100,
      expect: [],
    },
    {
      name: 'a success in between breaks the run',
      built: {
        tasks: [...failing(3, () => 'exited with code 3'), finished('T-S0001', 'agent-2', 25, 26)],
        agents: [agentState('agent-2', { failures: 3 })],
      },
      now: 100,
      expect: [],
    },
  ]);

  it('any error counts when sameError is off', () => {
    const i = input(
      { tasks: failing(3, (n) => `exited with code ${n}`), agents: [agentState('agent-2', { failures: 3 })] },
      100,
      { policies: policies({ repeatedFailure: { sameError: false, action: 'escalate' } }) },
    );
    expect(only('repeated-failure', i)).toMatchObject([{ action: 'escalate' }]);
  });

  it('reads retried attempts from the history too', () => {
    const t = task('T-R0001', {
      status: 'ready',
      attempts: 3,
      history: [
        ...task('T-R0001').history,
        ...[1, 2, 3].flatMap((n) => [
          {
            from: 'ready' as const,
            to: 'working' as const,
            by: 'agent-2',
            at: new Date(T0 + n * 10_000).toISOString(),
          },
          {
            from: 'working' as const,
            to: 'ready' as const,
            by: 'agent-2',
            at: new Date(T0 + n * 10_000 + 1000).toISOString(),
            why: `attempt ${n} failed: timed out after 5 s; retry in 2.5 s`,
          },
        ]),
      ],
    });
    const i = input({ tasks: [t], agents: [agentState('agent-2', { failures: 3 })] }, 100);
    expect(only('repeated-failure', i)).toMatchObject([{ evidence: { error: 'timed out after 5 s' } }]);
  });
});

describe('context drift', () => {
  const llm = (built: Built, now: number) => input(built, now, { agents: LLM_AGENTS });
  const base = { agents: [agentState('agent-3', { status: 'working' as const, task: 'T-00001' })] };
  table('context-drift', [
    {
      name: 'an llm agent near its context budget: reset its context',
      built: {
        ...base,
        tasks: [working('T-00001', 'agent-3', 0)],
        checkpoints: [checkpoint('C-00001', 'agent-3', 'T-00001', 10, { contextTokens: 85_000 })],
      },
      now: 20,
      extra: { agents: LLM_AGENTS },
      expect: [{ key: 'context-drift:agent-3', action: 'reset-context', evidence: { limitTokens: 80_000 } }],
    },
    {
      name: 'well within the budget',
      built: {
        ...base,
        tasks: [working('T-00001', 'agent-3', 0)],
        checkpoints: [
          checkpoint('C-00001', 'agent-3', 'T-00001', 10, {
            usage: { inputTokens: 40_000, outputTokens: 1 },
          }),
        ],
      },
      now: 20,
      extra: { agents: LLM_AGENTS },
      expect: [],
    },
    {
      name: 'a session longer than maxSessionSeconds',
      built: { ...base, tasks: [working('T-00001', 'agent-3', 0)] },
      now: 3700,
      extra: { agents: LLM_AGENTS },
      expect: [{ occurrence: 'T-00001:1:session' }],
    },
    {
      name: 'a shell agent has no context to drift',
      built: { tasks: [working('T-00001', 'agent-2', 0)] },
      now: 99_999,
      extra: { agents: LLM_AGENTS },
      expect: [],
    },
  ]);

  it('ignores checkpoints of an earlier attempt', () => {
    const built = {
      ...base,
      tasks: [working('T-00001', 'agent-3', 100)],
      checkpoints: [checkpoint('C-00001', 'agent-3', 'T-00001', 50, { contextTokens: 99_000 })],
    };
    expect(only('context-drift', llm(built, 120))).toHaveLength(0);
  });
});

describe('scope drift', () => {
  const scoped = working('T-00001', 'agent-2', 0, { resources: ['src/**', 'package.json'] });
  const files = (list: string[]) => ({ changedFiles: new Map([['agent-2', list]]) });
  table('scope-drift', [
    {
      name: 'files changed outside the resources: escalate with the files',
      built: { tasks: [scoped] },
      now: 10,
      extra: files(['src/a.ts', 'README.md', 'docs/x.md']),
      expect: [{ action: 'escalate', evidence: { files: ['README.md', 'docs/x.md'], count: 2 } }],
    },
    {
      name: 'everything inside',
      built: { tasks: [scoped] },
      now: 10,
      extra: files(['src/a/b.ts', 'package.json']),
      expect: [],
    },
    { name: 'unknown changes (not a git folder)', built: { tasks: [scoped] }, now: 10, expect: [] },
    {
      name: 'a task without resources declares nothing to drift from',
      built: { tasks: [working('T-00001', 'agent-2', 0)] },
      now: 10,
      extra: files(['anything']),
      expect: [],
    },
    {
      name: "another running task's resources are not this task's drift",
      built: { tasks: [scoped, working('T-00002', 'agent-4', 0, { resources: ['docs/'] })] },
      now: 10,
      extra: files(['docs/x.md']),
      expect: [],
    },
  ]);

  it('honours ignore globs', () => {
    const i = input({ tasks: [scoped] }, 10, {
      ...files(['dist/x.js']),
      policies: policies({ scopeDrift: { ignore: ['dist/**'] } }),
    });
    expect(only('scope-drift', i)).toHaveLength(0);
  });
});

describe('budget', () => {
  table('budget', [
    {
      name: 'time spent past budget.seconds: stop for good with E_BUDGET',
      built: { tasks: [working('T-00001', 'agent-2', 0, { budget: { seconds: 10 } })] },
      now: 20,
      expect: [
        {
          key: 'budget:T-00001',
          action: 'stop',
          final: true,
          errorCode: 'E_BUDGET',
          evidence: { over: ['seconds'], spent: { seconds: 20 } },
        },
      ],
    },
    {
      name: 'tokens of earlier attempts and those reported now add up',
      built: {
        tasks: [
          working('T-00001', 'agent-2', 0, {
            budget: { tokens: 1000 },
            result: { ok: false, usage: { inputTokens: 400, outputTokens: 100, usd: 0 } },
          }),
        ],
        checkpoints: [
          checkpoint('C-00001', 'agent-2', 'T-00001', 5, { usage: { inputTokens: 500, outputTokens: 100 } }),
        ],
      },
      now: 10,
      expect: [{ evidence: { over: ['tokens'], spent: { tokens: 1100 } } }],
    },
    {
      name: 'within budget',
      built: { tasks: [working('T-00001', 'agent-2', 0, { budget: { seconds: 60, usd: 1 } })] },
      now: 20,
      expect: [],
    },
  ]);
});

describe('helpers', () => {
  it.each([
    ['src/**', 'src/a/b.ts', true],
    ['src/**', 'srcx/a.ts', false],
    ['src/*.ts', 'src/a.ts', true],
    ['src/*.ts', 'src/a/b.ts', false],
    ['src', 'src/a/b.ts', true],
    ['src/', 'src/a.ts', true],
    ['package.json', 'package.json', true],
    ['**/*.md', 'README.md', true],
    ['**/*.md', 'docs/a/b.md', true],
    ['{src,tests}/**', 'tests/x.ts', true],
    ['file?.txt', 'file1.txt', true],
    ['[ab].txt', 'c.txt', false],
    ['./lib/*.js', 'lib/x.js', true],
  ])('glob %s matches %s: %s', (glob, file, expected) => {
    expect(matchesGlob(glob, file)).toBe(expected);
  });

  it('sums working time over attempts', () => {
    const t = task('T-00001', {
      status: 'working',
      history: [
        { from: 'ready', to: 'working', by: 'a', at: new Date(T0).toISOString() },
        { from: 'working', to: 'ready', by: 'a', at: new Date(T0 + 5000).toISOString() },
        { from: 'ready', to: 'working', by: 'a', at: new Date(T0 + 10_000).toISOString() },
        { from: 'working', to: 'working', by: 'a', at: new Date(T0 + 12_000).toISOString() },
      ],
    });
    expect(workingSeconds(t, T0 + 20_000)).toBe(15);
  });

  it('reads "the same error" from the first clause of the message', () => {
    expect(errorSignature('exited with code 3: boom')).toBe(errorSignature('exited with code 3: bang'));
    expect(errorSignature('exited with code 3: boom')).not.toBe(errorSignature('exited with code 4: boom'));
  });
});

describe('auto-resolve', () => {
  it('an alert whose condition cleared is resolved; one its rule cannot judge stays', () => {
    const built: Built = {
      tasks: [finished('T-00009', 'agent-2', 0, 5)],
      agents: [agentState('agent-2', { status: 'idle', ...runBy(100) })],
      alerts: [
        alert('A-00001', { key: 'stall:agent-2', evidence: { agent: 'agent-2', task: null } }),
        alert('A-00002', {
          kind: 'scope-drift',
          key: 'scope-drift:T-00009',
          subject: 'T-00009',
          evidence: { agent: 'agent-2', task: 'T-00009' },
        }),
        alert('A-00003', {
          kind: 'overrun',
          key: 'overrun:T-00009',
          subject: 'T-00009',
          evidence: { agent: 'agent-2', task: 'T-00009' },
        }),
        alert('A-00004', { kind: 'corrupt-state', key: 'corrupt:x', evidence: {} }),
      ],
    };
    const i = input(built, 105);
    const cleared = clearedAlerts(i, evaluateDrift(i), new Set(['agent-2']));
    expect(cleared.map((a) => a.id)).toEqual(['A-00001', 'A-00003']);
    // Another orchestrator that does not run agent-2 (alive and beating) leaves its alerts alone.
    expect(clearedAlerts(i, evaluateDrift(i), new Set())).toEqual([]);
  });

  it('every rule can be turned off', () => {
    const off = Object.fromEntries(
      ['stall', 'overrun', 'repeatedFailure', 'contextDrift', 'scopeDrift', 'budget'].map((k) => [
        k,
        { enabled: false },
      ]),
    );
    const i = input(holding(0, {}), 99_999, { policies: policies(off), agents: AGENTS });
    expect(evaluateDrift(i)).toEqual([]);
  });
});
