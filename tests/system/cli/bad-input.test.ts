/**
 * Bad input from people, scripts and agents: each is refused with one clear line, a non-zero exit
 * code, and changes nothing (every task and the journal position are the same afterwards).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Task } from '../../../state/schemas.js';
import { type Board, board, dreamos, expectJsonError, expectRefused, show } from '../../helpers/cli.js';

// Each test starts dozens of real processes: a loaded machine is slow, not wrong.
vi.setConfig({ testTimeout: 180_000 });

const HOSTILE = '\u001b[31mred\u001b]0;title\u0007';
const ONE_MB = 'x'.repeat(1024 * 1024);

let b: Board;
let existing: Task;
beforeEach(() => {
  b = board();
  existing = b.add('an existing task');
});
afterEach(() => b.cleanup());

const importFile = (data: unknown) => {
  const file = path.join(b.dir, `import-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, JSON.stringify(data));
  return file;
};

describe('titles and other one-line text', () => {
  it('refuses terminal control sequences in a title, wherever it comes from', () => {
    const controls = /must not contain control characters or terminal escape sequences/;
    expectRefused(b, ['task', 'add', HOSTILE], 2, controls);
    expectRefused(b, ['task', 'add', 'two\nlines'], 2, controls);
    expectRefused(b, ['task', 'add', 'tab\there'], 2, controls);
    expectRefused(b, ['task', 'add', 'c1 \u009b2J control'], 2, controls);
    expectRefused(b, ['task', 'add', 'delete \u007f'], 2, controls);
    expectRefused(b, ['task', 'edit', existing.id, '--title', HOSTILE], 2, controls);
    expectRefused(b, ['task', 'import', importFile([{ title: 'fine' }, { title: HOSTILE }])], 2, controls);
    expectRefused(b, ['task', 'import', '-'], 2, controls, { input: JSON.stringify([{ title: HOSTILE }]) });
  });

  it('refuses control sequences in tags, capabilities and resources', () => {
    expectRefused(b, ['task', 'add', 'x', '--tag', HOSTILE], 2, /tags\.0/);
    expectRefused(b, ['task', 'add', 'x', '--capability', 'a\u001b[2J'], 2, /capabilities\.0/);
    expectRefused(b, ['task', 'add', 'x', '--resource', 'src/\u0007**'], 2, /resources\.0/);
    expectRefused(b, ['task', 'edit', existing.id, '--tag', 'ok', '--tag', 'bad\r'], 2, /tags\.1/);
  });

  it('refuses text-direction overrides and zero-width characters in every one-line field', () => {
    const invisible = /must not contain invisible or text-direction characters \(U\+/;
    for (const trick of ['\u202e', '\u2066', '\u200f', '\u200b', '\u2060', '\ufeff']) {
      const title = `invoice${trick}fdp.exe`;
      expectRefused(b, ['task', 'add', title], 2, invisible);
      expectRefused(b, ['task', 'edit', existing.id, '--title', title], 2, invisible);
      expectRefused(b, ['task', 'import', importFile([{ title }])], 2, invisible);
      expectRefused(b, ['task', 'add', 'x', '--tag', `a${trick}`], 2, /tags\.0: must not contain invisible/);
    }
    expectRefused(b, ['task', 'add', 'x', '--capability', 'g\u202epu'], 2, /capabilities\.0/);
    expectRefused(b, ['task', 'add', 'x', '--resource', 'src/\u200b**'], 2, /resources\.0/);
    expectRefused(
      b,
      ['task', 'edit', existing.id, '--tag', 'a\u2067'],
      2,
      /tags: must not contain invisible/,
    );
    // Joiners stay: emoji sequences and several scripts need them.
    expect(b.add('family 👩\u200d👧 and می\u200cخواهم').title).toBe('family 👩\u200d👧 and می\u200cخواهم');
  });

  it('refuses a 1 MB title from an import file or stdin without echoing it back', () => {
    for (const run of [
      () => expectRefused(b, ['task', 'import', importFile([{ title: ONE_MB }])], 2, /title: at most 300/),
      () =>
        expectRefused(b, ['task', 'import', '-'], 2, /title: at most 300/, {
          input: JSON.stringify([{ title: ONE_MB }]),
        }),
    ]) {
      const r = run();
      expect(r.stderr.length).toBeLessThan(1000);
    }
    const r = dreamos(['task', 'import', '-', '--json'], {
      cwd: b.dir,
      input: JSON.stringify([{ title: 'ok' }, { title: ONE_MB }]),
    });
    expectJsonError(r, 2, 'E_INVALID_INPUT', /task.*title: at most 300 characters/);
    expect(r.stdout.length).toBeLessThan(10_000);
  });

  it('refuses an import file over 512 MiB by its size, before reading it (exit 2)', () => {
    const file = path.join(b.dir, 'huge.json');
    const fd = fs.openSync(file, 'w');
    fs.ftruncateSync(fd, 600 * 1024 * 1024); // sparse: no disk used
    fs.closeSync(fd);
    const r = expectRefused(
      b,
      ['task', 'import', file],
      2,
      /huge\.json is 629145600 bytes; task import reads at most 536870888 bytes \(512 MiB\): split it/,
    );
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('refuses a title longer than 300 characters given on the command line', () => {
    // One argument may hold at most 128 KB on Linux; the 1 MB case goes through files above.
    expectRefused(b, ['task', 'add', 'y'.repeat(100_000)], 2, /title: at most 300 characters/);
    expectRefused(b, ['task', 'add', 'y'.repeat(301)], 2, /title: at most 300 characters/);
    expect(b.add('y'.repeat(300)).title).toHaveLength(300);
  });

  it('refuses a 1 MB prompt in an import, and an empty title', () => {
    expectRefused(b, ['task', 'import', importFile([{ title: 'big', prompt: ONE_MB }])], 2, /prompt/);
    expectRefused(b, ['task', 'add', ''], 2, /a task needs a title/);
    expectRefused(b, ['task', 'edit', existing.id, '--title', ''], 2, /title/);
  });

  it('keeps control sequences in a prompt as data, and strips them when showing it', () => {
    const t = b.add(
      'with a colourful prompt',
      '--prompt',
      `please ${HOSTILE} do it`,
      '--run',
      `echo ${HOSTILE}`,
    );
    expect(b.get(t.id).prompt).toBe(`please ${HOSTILE} do it`); // --json keeps the data (escaped)
    const r = b.run('task', 'show', t.id);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toContain('please red do it');
    expect(r.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
  });
});

describe('imports', () => {
  it('refuses unknown fields, at the top and inside, adding nothing', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ title: 'x', colour: 'red' }, /Unrecognized key: "colour"/],
      [{ title: 'x', budget: { tokens: 10, euros: 5 } }, /budget.*Unrecognized key: "euros"/],
      [{ title: 'x', dependson: [] }, /Unrecognized key: "dependson"/],
    ];
    for (const [task, message] of cases) {
      expectRefused(b, ['task', 'import', importFile([{ title: 'good' }, task])], 2, message);
    }
  });

  it('refuses fields that only Dream.OS may set (id, status, attempts, history, lease)', () => {
    const forged: Array<Record<string, unknown>> = [
      { title: 'x', id: 'T-00099' },
      { title: 'x', status: 'done' },
      { title: 'x', attempts: 0 },
      { title: 'x', history: [] },
      { title: 'x', lease: { owner: 'agent-2', expiresAt: new Date().toISOString() } },
      { title: 'x', agent: 'agent-2' },
    ];
    for (const task of forged) {
      const key = Object.keys(task)[1]!;
      expectRefused(b, ['task', 'import', importFile([task])], 2, new RegExp(`Unrecognized key: "${key}"`));
    }
  });

  it('refuses wrong types and out-of-range values in an import', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ title: 42 }, /title/],
      [{ title: 'x', priority: 'urgent' }, /priority/],
      [{ title: 'x', maxAttempts: 0 }, /maxAttempts/],
      [{ title: 'x', maxAttempts: 2.5 }, /maxAttempts: must be a whole number$/],
      // One clean message, not every bound the number breaks.
      [{ title: 'x', maxAttempts: 1e20 }, /invalid task #1: maxAttempts: at most 100$/],
      [{ title: 'x', timeout: 'forever' }, /not a duration/],
      [{ title: 'x', timeout: -1 }, /duration must be positive/],
      [{ title: 'x', tags: 'one' }, /tags/],
      [{ title: 'x', source: 'hacker' }, /source/],
    ];
    for (const [task, message] of cases) {
      expectRefused(b, ['task', 'import', importFile([task])], 2, message);
    }
  });
});

describe('ids', () => {
  const BAD_IDS = [
    'T-1',
    '../../etc/passwd',
    '',
    't-00001',
    'T-00001/../../x',
    'T-00001\u001b[2J',
    'T-00001 ',
  ];

  it('refuses malformed task ids with exit 2 before touching anything', () => {
    for (const id of BAD_IDS) expectRefused(b, ['task', 'show', id], 2, /not a task id/);
    expectJsonError(b.run('task', 'show', '../../etc/passwd', '--json'), 2, 'E_INVALID_INPUT');
  });

  it.each([
    ['promote', (id: string) => ['task', 'promote', id]],
    ['move', (id: string) => ['task', 'move', id, '--to', 'backlog']],
    ['claim --task', (id: string) => ['task', 'claim', '--agent', 'agent-2', '--task', id]],
    ['renew', (id: string) => ['task', 'renew', id, '--agent', 'agent-2']],
    ['complete', (id: string) => ['task', 'complete', id]],
    ['fail', (id: string) => ['task', 'fail', id, '--reason', 'x']],
    ['retry', (id: string) => ['task', 'retry', id]],
    ['cancel', (id: string) => ['task', 'cancel', id]],
    ['edit', (id: string) => ['task', 'edit', id, '--title', 'x']],
  ])('refuses malformed ids in task %s', (_name, command) => {
    for (const id of ['../../etc/passwd', '']) expectRefused(b, command(id), 2, /not a task id/);
    expect(fs.readdirSync(b.dir)).toEqual(['.dreamos']);
  });

  it('refuses malformed dependency ids (exit 2) and unknown ones (exit 3)', () => {
    expectRefused(b, ['task', 'add', 'x', '--depends-on', '../../etc/passwd'], 2, /task id/);
    expectRefused(b, ['task', 'add', 'x', '--depends-on', 'T-1'], 2, /task id/);
    expectRefused(b, ['task', 'edit', existing.id, '--depends-on', 'T-1'], 2, /task id/);
    expectRefused(
      b,
      ['task', 'add', 'x', '--depends-on', 'T-00ZZZ'],
      3,
      /dependency T-00ZZZ .*does not exist/,
    );
    expectRefused(b, ['task', 'edit', existing.id, '--depends-on', 'T-00ZZZ'], 3, /no task T-00ZZZ/);
    const imp = importFile([{ title: 'x', dependsOn: ['T-00ZZZ'] }]);
    expectRefused(b, ['task', 'import', imp], 3, /does not exist/);
  });

  it('refuses a well-formed id that does not exist (exit 3)', () => {
    for (const args of [
      ['task', 'show', 'T-00ZZZ'],
      ['task', 'promote', 'T-00ZZZ'],
      ['task', 'cancel', 'T-00ZZZ'],
      ['task', 'claim', '--agent', 'agent-2', '--task', 'T-00ZZZ'],
    ]) {
      expectRefused(b, args, 3, /no task T-00ZZZ/);
    }
  });
});

describe('agents', () => {
  const UNKNOWN = ['nobody', 'agent-9', 'AGENT-2', '../agent-2', 'operator', ''];

  it('refuses to claim for an agent that is not in the registry (exit 3)', () => {
    for (const agent of UNKNOWN) {
      expectRefused(b, ['task', 'claim', '--agent', agent], 3, /no agent .*known: agent-1, agent-2/);
    }
  });

  it('refuses unknown agents in renew, complete and fail, and unknown roles in add (exit 3)', () => {
    b.json('task', 'claim', '--agent', 'agent-2', '--task', existing.id);
    expectRefused(b, ['task', 'renew', existing.id, '--agent', 'nobody'], 3, /no agent "nobody"/);
    expectRefused(b, ['task', 'complete', existing.id, '--agent', 'nobody'], 3, /no agent "nobody"/);
    expectRefused(b, ['task', 'complete', existing.id, '--agent', ''], 3, /no agent ""/);
    expectRefused(b, ['task', 'fail', existing.id, '--agent', 'nobody', '--reason', 'x'], 3, /no agent/);
    expectRefused(
      b,
      ['task', 'add', 'x', '--role', 'astronaut'],
      3,
      /no agent has the role or id "astronaut"/,
    );
    expectRefused(b, ['task', 'add', 'x', '--role', '../../etc'], 2, /role/);
    expect(b.get(existing.id)).toMatchObject({ status: 'working', agent: 'agent-2' });
  });

  it('refuses a DREAMOS_AGENT_ID that names no agent, so nothing is recorded under a made-up name', () => {
    const before = b.state();
    for (const id of ['nobody', '\u001b[2Jagent', 'a'.repeat(80)]) {
      const r = dreamos(['task', 'add', 'as someone else'], { cwd: b.dir, env: { DREAMOS_AGENT_ID: id } });
      expect(r.code, show(r)).toBe(3);
      expect(r.stderr).toMatch(/^dreamos: DREAMOS_AGENT_ID names no agent/);
      expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
      expect(r.stderr).not.toContain('\u001b');
    }
    expect(b.state()).toEqual(before);
  });
});

describe('dependency cycles', () => {
  it('refuses a cycle made by an edit (exit 4), leaving every dependency as it was', () => {
    const a = b.add('a', '--hold');
    const c = b.add('c', '--depends-on', a.id);
    const d = b.add('d', '--depends-on', c.id);
    expectRefused(b, ['task', 'edit', a.id, '--depends-on', d.id], 4, /dependency cycle refused: .*->/);
    expectRefused(b, ['task', 'edit', a.id, '--depends-on', c.id], 4, /dependency cycle/);
    expectRefused(b, ['task', 'edit', a.id, '--depends-on', a.id], 4, new RegExp(`${a.id} -> ${a.id}`));
    expectJsonError(b.run('task', 'edit', a.id, '--depends-on', d.id, '--json'), 4, 'E_CYCLE');
    expect(b.get(a.id).dependsOn).toEqual([]);
  });

  it('refuses a cycle inside an import (exit 4), adding none of it', () => {
    const file = importFile([
      { title: 'a', ref: 'a', dependsOn: ['c'] },
      { title: 'b', ref: 'b', dependsOn: ['a'] },
      { title: 'c', ref: 'c', dependsOn: ['b'] },
    ]);
    expectRefused(b, ['task', 'import', file], 4, /dependency cycle/);
    const self = importFile([{ title: 'self', ref: 'self', dependsOn: ['self'] }]);
    expectRefused(b, ['task', 'import', self], 4, /dependency cycle/);
  });
});

describe('option values', () => {
  it('refuses a bad --priority (exit 2)', () => {
    for (const p of ['urgent', 'HIGH', '', '1']) {
      expectRefused(
        b,
        ['task', 'add', 'x', '--priority', p],
        2,
        /Allowed choices are critical, high, normal, low/,
      );
    }
    expectRefused(b, ['task', 'edit', existing.id, '--priority', 'urgent'], 2, /Allowed choices/);
  });

  it('refuses a bad --timeout (exit 2)', () => {
    for (const [value, message] of [
      ['abc', /not a duration: "abc"/],
      ['10y', /not a duration/],
      ['-5s', /not a duration/],
      ['0', /must be positive/],
      ['0s', /must be positive/],
      ['', /not a duration/],
      ['8d', /timeout/], // more than a week
    ] as const) {
      expectRefused(b, ['task', 'add', 'x', '--timeout', value], 2, message);
    }
    expectRefused(b, ['task', 'edit', existing.id, '--timeout', 'soon'], 2, /not a duration/);
  });

  it('refuses a bad --max-attempts (exit 2)', () => {
    for (const n of ['0', '-1', '1.5', 'three', '', '101', '99999999999999999999']) {
      const r = expectRefused(
        b,
        ['task', 'add', 'x', '--max-attempts', n],
        2,
        /--max-attempts must be a whole number from 1 to 100, got/,
      );
      expect(r.stderr).not.toMatch(/Too big|expected/);
    }
    expectRefused(b, ['task', 'edit', existing.id, '--max-attempts', '0'], 2, /--max-attempts/);
  });

  it('refuses bad budgets, statuses and limits (exit 2)', () => {
    expectRefused(b, ['task', 'add', 'x', '--budget-usd', 'lots'], 2, /budget\.usd/);
    expectRefused(b, ['task', 'add', 'x', '--budget-usd', '-1'], 2, /budget\.usd/);
    expectRefused(b, ['task', 'add', 'x', '--budget-tokens', '1.5'], 2, /--budget-tokens/);
    expectRefused(b, ['task', 'add', 'x', '--budget-seconds', 'long'], 2, /not a duration/);
    expectRefused(b, ['task', 'list', '--status', 'finished'], 2, /unknown status "finished"/);
    expectRefused(b, ['task', 'list', '--status', 'ready,'], 2, /unknown status ""/);
    expectRefused(b, ['task', 'list', '--limit', '0'], 2, /--limit/);
  });
});
