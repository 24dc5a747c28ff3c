/**
 * The per-task switch of the branch of its own (`task add --branch | --no-branch`), through the CLI
 * in a real git repository: a task that runs in place on an agent that would give it a branch, and
 * a task on a branch of its own on an agent that would run it in place.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type CodeRepo, codeRepo } from '../../helpers/code-repo.js';

let repo: CodeRepo | undefined;
afterEach(() => {
  repo?.cleanup();
  repo = undefined;
});

function runAgents(r: CodeRepo): void {
  const run = r.run('run', '--until-idle');
  expect(run.code, run.stderr).toBe(0);
}

describe('the branch of a task of its own, per task', () => {
  it('runs a --no-branch task in place, with no review, on an agent that works on branches', () => {
    repo = codeRepo();
    const task = repo.add('In place', 'echo here > here.txt', '--no-branch');
    expect(task.branch).toBe(false);
    expect(repo.run('task', 'show', task.id).stdout).toContain('none: runs in place (--no-branch)');
    runAgents(repo);
    const done = repo.task(task.id);
    expect(done.status).toBe('done');
    expect(done.code).toBeUndefined();
    // Its change is in the checkout itself, not committed, and no branch was made.
    expect(fs.readFileSync(path.join(repo.dir, 'here.txt'), 'utf8')).toBe('here\n');
    expect(repo.git('branch', '--list', 'dreamos/*')).toBe('');
    expect(repo.json<unknown[]>('review', 'list')).toEqual([]);
  });

  it('gives a --branch task its own branch and review on an agent that runs in place', () => {
    repo = codeRepo();
    // The Testing agent has the shell driver: in place by default.
    const added = repo.json<{ id: string; branch?: boolean }>(
      'task',
      'add',
      'On a branch',
      '--run',
      'echo there > there.txt',
      '--role',
      'testing',
      '--branch',
    );
    expect(added.branch).toBe(true);
    const plain = repo.json<{ id: string }>(
      'task',
      'add',
      'Plain',
      '--run',
      'echo x > plain.txt',
      '--role',
      'testing',
    );
    runAgents(repo);
    expect(repo.task(added.id)).toMatchObject({
      status: 'review',
      agent: 'tester',
      code: { branch: `dreamos/${added.id}`, stage: 'waiting' },
    });
    expect(repo.git('show', `dreamos/${added.id}:there.txt`)).toBe('there');
    expect(fs.existsSync(path.join(repo.dir, 'there.txt'))).toBe(false);
    // Without the switch, the same agent runs in place.
    expect(repo.task(plain.id)).toMatchObject({ status: 'done' });
    expect(repo.task(plain.id).code).toBeUndefined();
    expect(fs.existsSync(path.join(repo.dir, 'plain.txt'))).toBe(true);
  });
});
