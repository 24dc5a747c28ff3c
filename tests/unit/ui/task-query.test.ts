import { describe, expect, test } from 'vitest';
import type { Task } from '../../../state/schemas.js';
import { splitArgs } from '../../../ui/argv.js';
import { parseQuery, taskMatcher } from '../../../ui/task-query.js';

const task = (over: Partial<Task>): Task =>
  ({
    id: 'T-00001',
    title: 'Fix the login bug',
    status: 'ready',
    priority: 'normal',
    role: 'ux',
    agent: null,
    tags: [],
    ...over,
  }) as Task;

const ids = (text: string, tasks: Task[]) => tasks.filter(taskMatcher(text).match).map((t) => t.id);

describe('splitting a typed command line', () => {
  test('quotes group words; a backslash keeps a quote inside double quotes', () => {
    expect(splitArgs('add "Fix the login bug" --role testing').args).toEqual([
      'add',
      'Fix the login bug',
      '--role',
      'testing',
    ]);
    expect(splitArgs(`say 'it''s' "a \\"b\\""`).args).toEqual(['say', 'its', 'a "b"']);
    expect(splitArgs('  a   b ').starts).toEqual([2, 6]);
    expect(splitArgs('add "open').error).toBe('a quote " is not closed');
  });
});

describe('the task query language', () => {
  const tasks = [
    task({ id: 'T-00001', status: 'failed', tags: ['flaky'], role: 'testing' }),
    task({ id: 'T-00002', status: 'ready', role: 'ux', priority: 'high', title: 'Polish the failed view' }),
    task({ id: 'T-00003', status: 'working', agent: 'agent-3', tags: ['flaky', 'ci'] }),
    task({ id: 'T-00004', status: 'cancelled', priority: 'low' }),
  ];

  test('fields, alternatives, negation and words all have to match', () => {
    expect(ids('status:ready role:ux', tasks)).toEqual(['T-00002']);
    expect(ids('tag:flaky', tasks)).toEqual(['T-00001', 'T-00003']);
    expect(ids('tag:flaky -status:working', tasks)).toEqual(['T-00001']);
    expect(ids('status:failed,cancelled', tasks)).toEqual(['T-00001', 'T-00004']);
    expect(ids('agent:AGENT-3', tasks)).toEqual(['T-00003']);
    expect(ids('priority:high', tasks)).toEqual(['T-00002']);
    expect(ids('stage:cancelled', tasks)).toEqual(['T-00004']);
    expect(ids('login', tasks)).toEqual(['T-00001', 'T-00003', 'T-00004']);
    expect(ids('"the login" id:t-00004', tasks)).toEqual(['T-00004']);
    expect(ids('', tasks)).toHaveLength(4);
  });

  test('a word that names a stage is that stage, not a word of the title', () => {
    expect(ids('failed', tasks)).toEqual(['T-00001']);
  });

  test('what is not a query says why, and matches nothing', () => {
    expect(parseQuery('colour:red')).toEqual({
      ok: false,
      error: 'unknown field "colour" (one of status, role, tag, agent, priority, id)',
    });
    expect(parseQuery('status:limbo')).toMatchObject({
      ok: false,
      error: expect.stringContaining('unknown stage'),
    });
    expect(parseQuery('priority:urgent')).toMatchObject({ ok: false });
    expect(parseQuery('tag:')).toEqual({ ok: false, error: 'tag: needs a value' });
    expect(taskMatcher('"open').error).toBe('a quote " is not closed');
    expect(ids('"open', tasks)).toEqual([]);
  });
});
