/**
 * Work nobody can take, from the command line: `task add` and `task import` warn on stderr,
 * `status` and `attention` show it, `attention --exit-code` and `run --until-idle` exit non-zero
 * for health checks and CI.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Task } from '../../../state/schemas.js';
import { type Board, board, show } from '../../helpers/cli.js';

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

    // Build waits for an orchestrator; the prompt task waits for nobody can take it.
    const items = b.json<Item[]>('attention');
    expect(items.map((i) => [i.reason, i.subject])).toEqual([
      ['no-orchestrator', 'agents'],
      ['unassignable', task.id],
    ]);
    const text = b.run('attention');
    expect(text.stdout).toMatch(/unassignable .*no agent takes prompt tasks/);
    expect(text.stdout).not.toMatch(/nothing needs you/);

    const status = b.json<{ unassignable: Group[] }>('status');
    expect(status.unassignable.map((g) => [g.kind, g.tasks])).toEqual([['driver', [task.id]]]);
    expect(b.run('status').stdout).toMatch(
      new RegExp(`nobody can take 1 task \\(${task.id}\\): no agent takes prompt tasks`),
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
    // Deploy can be taken now: it waits only for an orchestrator to run agent-4.
    expect(b.json<Item[]>('attention').map((i) => i.reason)).toEqual(['no-orchestrator', 'unassignable']);
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

describe('exit codes for health checks and CI', () => {
  it('`attention --exit-code` exits 8 when something needs the operator, 0 otherwise', () => {
    b.add('Build', '--run', 'true');
    expect(b.run('run', '--until-idle', '--quiet').code).toBe(0);
    const calm = b.run('attention', '--exit-code');
    expect(calm.code, show(calm)).toBe(0);
    expect(calm.stdout).toMatch(/nothing needs you/);
    b.add('Docs', '--prompt', 'write the docs');
    const busy = b.run('attention', '--exit-code');
    expect(busy.code, show(busy)).toBe(8);
    expect(busy.stdout).toMatch(/unassignable/);
    // Without the flag the list is information, not a failure.
    expect(b.run('attention').code).toBe(0);
  });

  it('`run --until-idle` exits 0 when all went well', () => {
    b.add('Build', '--run', 'true');
    const r = b.run('run', '--until-idle', '--quiet');
    expect(r.code, show(r)).toBe(0);
    expect(r.stderr).toMatch(/stopped \(idle\): 1 done, 0 failed attempts/);
  });

  it('`run --until-idle` exits 8 when work is left that nobody can take', () => {
    b.add('Build', '--run', 'true');
    const docs = b.add('Docs', '--prompt', 'write the docs');
    const r = b.run('run', '--until-idle', '--quiet');
    expect(r.code, show(r)).toBe(8);
    expect(r.stderr).toMatch(/1 done/);
    expect(r.stderr).toMatch(new RegExp(`nobody can take 1 task \\(${docs.id}\\): no agent takes prompt`));
    const json = b.run('run', '--until-idle', '--json', '--quiet');
    expect(json.code, show(json)).toBe(8);
    const summary = JSON.parse(json.stdout.trim().split('\n').pop()!);
    expect(summary).toMatchObject({ type: 'summary', exitCode: 8, failedTasks: [] });
    expect(summary.unassignable[0].tasks).toEqual([docs.id]);
  });

  it('`run --until-idle` exits 7 when a task of the run failed', () => {
    const broken = b.add('Broken', '--run', 'exit 3', '--max-attempts', '1');
    b.add('Docs', '--prompt', 'write the docs');
    const r = b.run('run', '--until-idle', '--quiet');
    expect(r.code, show(r)).toBe(7);
    expect(r.stderr).toMatch(new RegExp(`failed: ${broken.id}`));
    // The next run did not work on it: its failure is history, not this run's.
    b.run('task', 'cancel', b.list('--status', 'ready')[0]!.id);
    const again = b.run('run', '--until-idle', '--quiet');
    expect(again.code, show(again)).toBe(0);
  });
});
