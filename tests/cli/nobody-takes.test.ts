/**
 * Work nobody can take, from the command line: `task add` and `task import` warn on stderr,
 * `status` and `attention` show it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Task } from '../../state/schemas.js';
import { type Board, board, show } from './helpers.js';

// Each test starts several real processes: a loaded machine is slow, not wrong.
vi.setConfig({ testTimeout: 180_000 });

interface Item {
  reason: string;
  subject: string;
  text: string;
  action: string;
}
interface Group {
  kind: string;
  text: string;
  tasks: string[];
}

let b: Board;
beforeEach(() => {
  b = board();
});
afterEach(() => b.cleanup());

describe('work nobody can take', () => {
  it('is warned about at `task add`, still added, and shown by `attention` and `status`', () => {
    const added = b.run('task', 'add', 'Write the docs', '--prompt', 'write the docs', '--json');
    expect(added.code, show(added)).toBe(0);
    const task = added.json<Task>();
    expect(task.status).toBe('ready');
    expect(added.stderr).toMatch(
      new RegExp(`^dreamos: warning: nobody can take ${task.id}: no agent takes prompt tasks .*--run CMD`),
    );
    expect(added.stderr.trim().split('\n')).toHaveLength(1);

    const fine = b.run('task', 'add', 'Build', '--run', 'true');
    expect(fine.code, show(fine)).toBe(0);
    expect(fine.stderr).toBe('');

    const items = b.json<Item[]>('attention');
    expect(items.map((i) => [i.reason, i.subject])).toEqual([['unassignable', task.id]]);
    const text = b.run('attention');
    expect(text.stdout).toMatch(/unassignable .*no agent takes prompt tasks/);
    expect(text.stdout).not.toMatch(/nothing needs you/);

    const status = b.json<{ unassignable: Group[] }>('status');
    expect(status.unassignable.map((g) => [g.kind, g.tasks])).toEqual([['driver', [task.id]]]);
    expect(b.run('status').stdout).toMatch(
      new RegExp(`nobody can take 1 task\\(s\\) \\(${task.id}\\): no agent takes prompt tasks`),
    );
  });

  it('names the capability and the paused agent', () => {
    const gpu = b.run('task', 'add', 'Train', '--run', 'train', '--capability', 'gpu');
    expect(gpu.stderr).toMatch(/nobody can take T-\w+: needs capability gpu, which no agent has/);
    b.json('agent', 'pause', 'agent-4');
    const deploy = b.run('task', 'add', 'Deploy', '--run', 'deploy', '--role', 'agent-4');
    expect(deploy.stderr).toMatch(
      /only agent-4 may take it, and it is paused; `dreamos agent resume agent-4`/,
    );
    expect(b.json<Item[]>('attention').map((i) => i.text)).toEqual([
      'Deploy: only agent-4 may take it, and it is paused',
      'Train: needs capability gpu, which no agent has',
    ]);
    b.json('agent', 'resume', 'agent-4');
    expect(b.json<Item[]>('attention').map((i) => i.subject)).toHaveLength(1);
  });

  it('is warned about at `task import`, once per reason', () => {
    const tasks = [
      { title: 'a', prompt: 'p' },
      { title: 'b', prompt: 'p' },
      { title: 'c', run: 'true' },
    ];
    fs.writeFileSync(path.join(b.dir, 'tasks.json'), JSON.stringify(tasks));
    const ok = b.run('task', 'import', 'tasks.json', '--json');
    expect(ok.code, show(ok)).toBe(0);
    const ids = ok.json<Task[]>().map((t) => t.id);
    expect(ok.stderr.trim().split('\n')).toEqual([
      `dreamos: warning: nobody can take ${ids[0]}, ${ids[1]}: no agent takes prompt tasks (the shell driver runs only a task's \`run\` command); see \`dreamos attention\``,
    ]);
  });
});
