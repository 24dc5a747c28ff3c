import { describe, expect, test } from 'vitest';
import { STATUSES, type Status, type Task } from '../../../state/schemas.js';
import { typedLine } from '../../../ui/commands.js';
import { applyCompletion, type CompletionData, completions } from '../../../ui/completion.js';
import type { AgentRow, ConsoleView } from '../../../ui/data/console-view.js';
import { initialSelection, reduceSelection, sortTasks } from '../../../ui/selection.js';

const task = (over: Partial<Task>): Task =>
  ({
    id: 'T-00001',
    title: 't',
    status: 'ready',
    priority: 'normal',
    tags: [],
    attempts: 0,
    agent: null,
    createdAt: '2026-01-01T00:00:00Z',
    ...over,
  }) as Task;

const columns = Object.fromEntries(STATUSES.map((s) => [s, [] as Task[]])) as Record<Status, Task[]>;
columns.failed = [
  task({ id: 'T-00001', status: 'failed', tags: ['flaky'] }),
  task({ id: 'T-00002', status: 'failed', tags: ['ci'] }),
];
columns.ready = [task({ id: 'T-00010', tags: ['flaky'] })];
const agents = [
  { id: 'agent-1', name: 'Captain' },
  { id: 'agent-2', name: 'Infra' },
] as AgentRow[];
const data: CompletionData = {
  view: { columns, agents } as unknown as ConsoleView,
  roles: ['captain', 'testing', 'testing'],
  readOnly: false,
};
const items = (text: string, d = data) => completions(text, d).items;

describe('completing a typed command', () => {
  test('command names, then the kind of each argument, from live data', () => {
    expect(items('re')).toEqual(['retry', 'resume', 'restart']);
    expect(items('retry st')).toEqual(['status:']);
    expect(items('retry status:fa')).toEqual(['status:failed']);
    expect(items('retry status:failed,ca')).toEqual(['status:failed,cancelled']);
    expect(items('cancel tag:')).toEqual(['tag:ci', 'tag:flaky']);
    expect(items('cancel -tag:f')).toEqual(['-tag:flaky']);
    expect(items('retry T-0000')).toEqual(['T-00001', 'T-00002']);
    expect(items('pause ')).toEqual(['agent-1', '1', 'agent-2', '2']);
    expect(items('move ')).toEqual(['backlog', 'ready', 'done', 'failed', 'cancelled']);
    expect(items('move backlog tag:c')).toEqual(['tag:ci']);
    expect(items('sort a')).toEqual(['age', 'attempts', 'agent']);
    expect(items('add "x" --r')).toEqual(['--role', '--run']);
    expect(items('add "x" --role t')).toEqual(['testing']);
    expect(items('add "x" ')).toEqual([]);
  });

  test('a read-only console neither completes nor runs commands that change anything', () => {
    expect(items('re', { ...data, readOnly: true })).toEqual([]);
    expect(items('f', { ...data, readOnly: true })).toEqual(['filter']);
    expect(typedLine('retry failed', true)).toBeNull();
    expect(typedLine('filter failed', true)?.args).toEqual(['failed']);
  });

  test('a completion replaces the word being typed, quoted when it holds a space', () => {
    const text = 'retry status:fa';
    expect(applyCompletion(text, completions(text, data), 'status:failed')).toBe('retry status:failed ');
    expect(applyCompletion('retry st', completions('retry st', data), 'status:')).toBe('retry status:');
    expect(applyCompletion('add ', completions('add ', data), 'two words')).toBe('add "two words" ');
  });
});

describe('marks and sorting', () => {
  test('marks toggle, set and clear; sorting keeps the board order for priority', () => {
    let s = reduceSelection(initialSelection(), { type: 'mark', ids: ['a', 'b'], on: true });
    s = reduceSelection(s, { type: 'mark', ids: ['b', 'c'], on: 'toggle' });
    expect([...s.marked].sort()).toEqual(['a', 'c']);
    expect(reduceSelection(s, { type: 'mark-clear' }).marked.size).toBe(0);
    const tasks = [
      task({ id: 'A', attempts: 1, createdAt: '2026-01-02T00:00:00Z', agent: 'agent-10' }),
      task({ id: 'B', attempts: 3, createdAt: '2026-01-01T00:00:00Z', agent: null }),
      task({ id: 'C', attempts: 2, createdAt: '2026-01-03T00:00:00Z', agent: 'agent-2' }),
    ];
    expect(sortTasks(tasks, 'priority')).toBe(tasks);
    expect(sortTasks(tasks, 'age').map((t) => t.id)).toEqual(['B', 'A', 'C']);
    expect(sortTasks(tasks, 'attempts').map((t) => t.id)).toEqual(['B', 'C', 'A']);
    expect(sortTasks(tasks, 'agent').map((t) => t.id)).toEqual(['C', 'A', 'B']);
  });
});
