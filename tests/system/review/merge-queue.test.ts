/**
 * Code tasks end to end, through the CLI as child processes in real git repositories: a branch and
 * worktree per task, review, the merge queue with its gate, conflicts resolved by a scripted agent,
 * rejection with a note, pull requests with a fake `gh`, and hostile titles and diffs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Task } from '../../../state/schemas.js';
import { type CodeRepo, codeRepo, RESOLVES_CONFLICT } from '../../helpers/code-repo.js';

let repo: CodeRepo | undefined;
afterEach(() => {
  repo?.cleanup();
  repo = undefined;
});

interface Outcome {
  id: string;
  outcome: string;
  files?: string[];
  text?: string;
  commit?: string;
  pr?: string;
}

const taskTrees = (r: CodeRepo) =>
  fs.existsSync(path.join(r.home, 'worktrees')) ? fs.readdirSync(path.join(r.home, 'worktrees')) : [];

/** Runs the agents until no runnable work is left. */
function runAgents(r: CodeRepo): void {
  const run = r.run('run', '--until-idle');
  expect(run.code, run.stderr).toBe(0);
}

describe('review and the merge queue', () => {
  it('merges two tasks that changed different files in parallel, and removes their worktrees', () => {
    repo = codeRepo({ agents: ['coder-1', 'coder-2'] });
    const a = repo.add('Add a', 'echo a > a.txt');
    const b = repo.add('Add b', 'echo b > b.txt');
    runAgents(repo);
    const listed = repo.json<{ id: string; stage: string; branch: string }[]>('review', 'list');
    expect(listed.map((i) => [i.id, i.stage, i.branch]).sort()).toEqual([
      [a.id, 'waiting', `dreamos/${a.id}`],
      [b.id, 'waiting', `dreamos/${b.id}`],
    ]);
    expect(repo.task(a.id).status).toBe('review');
    expect(new Set([repo.task(a.id).agent, repo.task(b.id).agent])).toEqual(new Set(['coder-1', 'coder-2']));
    expect(repo.run('review', 'approve', a.id).code).toBe(0);
    expect(repo.run('review', 'approve', b.id).code).toBe(0);
    const merged = repo.run('merge', 'run', '--json');
    expect(merged.code, merged.stderr).toBe(0);
    expect((JSON.parse(merged.stdout) as Outcome[]).map((o) => o.outcome)).toEqual(['merged', 'merged']);
    expect(repo.git('show', 'main:a.txt')).toBe('a');
    expect(repo.git('show', 'main:b.txt')).toBe('b');
    const subjects = repo.git('log', '--format=%s', 'main').split('\n');
    expect(subjects).toEqual(expect.arrayContaining([`${a.id}: Add a`, `${b.id}: Add b`]));
    expect(repo.task(a.id)).toMatchObject({ status: 'done', code: { stage: 'merged' } });
    expect(taskTrees(repo)).toEqual([]);
    expect(repo.json<unknown[]>('worktree', 'list')).toEqual([]);
    // The checkout of main moved with it, and is clean.
    expect(fs.readFileSync(path.join(repo.dir, 'a.txt'), 'utf8')).toBe('a\n');
    expect(repo.git('status', '--porcelain')).toBe('');
    // The branches are kept (for keepBranchDays).
    expect(repo.git('branch', '--list', 'dreamos/*')).toContain(`dreamos/${a.id}`);
  });

  it('sends a conflicting task back with the file named, and merges it once an agent resolved it', () => {
    repo = codeRepo({ files: { 'shared.txt': 'x\n' } });
    const first = repo.add('First', 'echo A > shared.txt');
    const second = repo.add('Second', RESOLVES_CONFLICT);
    runAgents(repo);
    repo.run('review', 'approve', first.id);
    repo.run('review', 'approve', second.id);
    const run = repo.run('merge', 'run', '--json');
    expect(run.code).toBe(4);
    const outcomes = JSON.parse(run.stdout) as Outcome[];
    expect(outcomes.map((o) => [o.id, o.outcome])).toEqual([
      [first.id, 'merged'],
      [second.id, 'merge-conflict'],
    ]);
    expect(outcomes[1]!.files).toEqual(['shared.txt']);
    const back = repo.task(second.id);
    expect(back.status).toBe('ready');
    expect(back.code).toMatchObject({
      stage: 'open',
      last: { reason: 'merge-conflict', files: ['shared.txt'] },
    });
    const attention = repo.json<{ reason: string; task?: string }[]>('attention');
    expect(attention).toContainEqual(expect.objectContaining({ reason: 'merge-conflict', task: second.id }));
    expect(repo.git('show', 'main:shared.txt')).toBe('A');

    runAgents(repo);
    expect(repo.task(second.id).status).toBe('review');
    expect(repo.run('review', 'approve', second.id).code).toBe(0);
    const again = repo.run('merge', 'run', '--json');
    expect(again.code, again.stderr).toBe(0);
    expect(repo.git('show', 'main:shared.txt')).toBe('AB');
    expect(repo.task(second.id)).toMatchObject({ status: 'done', code: { stage: 'merged' } });
  });

  it('keeps a task whose gate fails off the base, with the gate output in its context', () => {
    repo = codeRepo({ review: { gate: 'echo GATE-SAYS-NO; test ! -f bad.txt' } });
    const before = repo.git('rev-parse', 'main');
    const bad = repo.add('Break it', 'echo oops > bad.txt');
    runAgents(repo);
    repo.run('review', 'approve', bad.id);
    const run = repo.run('merge', 'run', '--json');
    expect(run.code).toBe(7);
    const [outcome] = JSON.parse(run.stdout) as Outcome[];
    expect(outcome).toMatchObject({ id: bad.id, outcome: 'gate-failed' });
    expect(repo.git('rev-parse', 'main')).toBe(before);
    const back = repo.task(bad.id);
    expect(back.status).toBe('ready');
    expect(back.code?.last?.reason).toBe('gate-failed');
    expect(back.code?.last?.text).toContain('GATE-SAYS-NO');
    // The gate was a task of the Testing role, on the board, with its log.
    const gates = repo.json<Task[]>('task', 'list', '--tag', 'merge-gate');
    expect(gates).toHaveLength(1);
    expect(gates[0]).toMatchObject({ role: 'testing', status: 'failed', agent: 'tester' });
    expect(repo.run('task', 'log', gates[0]!.id).stdout).toContain('GATE-SAYS-NO');
    expect(repo.json<{ reason: string }[]>('attention')).toContainEqual(
      expect.objectContaining({ reason: 'gate-failed', task: bad.id }),
    );
  });

  it('gives the reviewer note to the next attempt, on the same branch', () => {
    repo = codeRepo();
    const task = repo.add(
      'Note taker',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell script's own expansion
      'echo "note: ${DREAMOS_REVIEW_NOTE:-none}" >> notes.txt; git rev-parse --abbrev-ref HEAD > branch.txt',
    );
    runAgents(repo);
    const refused = repo.run('review', 'reject', task.id, '--note', '  ');
    expect(refused.code).toBe(2);
    expect(repo.run('review', 'reject', task.id, '--note', 'say more').code).toBe(0);
    expect(repo.task(task.id)).toMatchObject({
      status: 'ready',
      attempts: 0,
      code: { last: { reason: 'rejected', text: 'say more' } },
    });
    runAgents(repo);
    const diff = repo.json<{ text: string; files: { path: string }[] }>('review', 'show', task.id);
    expect(diff.files.map((f) => f.path).sort()).toEqual(['branch.txt', 'notes.txt']);
    expect(diff.text).toContain('+note: none');
    expect(diff.text).toContain('+note: say more');
    expect(diff.text).toContain(`+dreamos/${task.id}`);
    // A task that is not in review cannot be approved or rejected again by mistake.
    expect(repo.run('review', 'approve', 'T-00099').code).toBe(3);
  });

  it('keeps hostile titles out of paths and refs, and strips escape sequences from diffs', () => {
    repo = codeRepo();
    const title = '../../../../tmp/escape $(touch pwned) `id` ; rm -rf ~';
    const script =
      "printf 'red \\033[31mRED\\033]0;owned\\007 \\033[2J end\\n' > \"$(printf 'evil\\033[2J.txt')\"";
    const task = repo.add(title, script);
    runAgents(repo);
    const shown = repo.task(task.id);
    expect(shown.code?.branch).toBe(`dreamos/${task.id}`);
    expect(taskTrees(repo)).toEqual([task.id]);
    expect(fs.existsSync(path.join(repo.dir, 'pwned'))).toBe(false);
    const stat = repo.run('review', 'show', task.id);
    expect(stat.code, stat.stderr).toBe(0);
    expect(stat.stdout).not.toContain('\u001b');
    expect(stat.stdout).toContain('RED');
    const json = repo.json<{ text: string; files: { path: string }[] }>('review', 'show', task.id);
    expect(json.text).not.toContain('\u001b');
    expect(json.files[0]!.path).not.toContain('\u001b');
  });

  it('opens a pull request with gh in --pr mode', () => {
    repo = codeRepo();
    const remote = path.join(repo.dir, '..', `${path.basename(repo.dir)}-remote.git`);
    fs.mkdirSync(remote);
    repo.git('init', '-q', '--bare', remote);
    repo.git('remote', 'add', 'origin', remote);
    const bin = path.join(repo.dir, '.dreamos', 'fake-bin');
    fs.mkdirSync(bin);
    const calls = path.join(bin, 'calls');
    fs.writeFileSync(
      path.join(bin, 'gh'),
      `#!/bin/sh\nprintf '%s\\n' "$@" > '${calls}'\necho https://github.example/acme/app/pull/7\n`,
      { mode: 0o755 },
    );
    repo.env.PATH = `${bin}:${process.env.PATH}`;
    const task = repo.add('Send a PR', 'echo pr > pr.txt');
    runAgents(repo);
    repo.run('review', 'approve', task.id);
    const before = repo.git('rev-parse', 'main');
    const r = repo.run('merge', 'run', '--pr', '--json');
    try {
      expect(r.code, r.stderr).toBe(0);
    } finally {
      fs.rmSync(remote, { recursive: true, force: true });
    }
    expect(JSON.parse(r.stdout)).toEqual([
      { id: task.id, outcome: 'pr-opened', pr: 'https://github.example/acme/app/pull/7' },
    ]);
    expect(fs.readFileSync(calls, 'utf8').split('\n')).toEqual(
      expect.arrayContaining(['pr', 'create', '--base', 'main', '--head', `dreamos/${task.id}`]),
    );
    expect(repo.git('rev-parse', 'main')).toBe(before);
    expect(repo.task(task.id)).toMatchObject({ status: 'done', code: { stage: 'pr-opened' } });
  });

  it('removes a cancelled task’s worktree, prunes old branches, and has doctor report leftovers', () => {
    repo = codeRepo({ review: { keepBranchDays: 0 } });
    const task = repo.add('Dropped', 'echo gone > gone.txt');
    runAgents(repo);
    expect(taskTrees(repo)).toEqual([task.id]);
    expect(repo.run('task', 'cancel', task.id).code).toBe(0);
    expect(taskTrees(repo)).toEqual([]);
    expect(repo.git('branch', '--list', `dreamos/${task.id}`)).toContain(task.id);
    // A worktree nothing needs: a task id that is not on the board.
    repo.git('worktree', 'add', '-q', '--detach', path.join(repo.home, 'worktrees', 'T-00777'), 'main');
    const doctor = repo.run('doctor', '--json');
    expect(doctor.code).not.toBe(0);
    expect(JSON.parse(doctor.stdout).problems).toContainEqual(
      expect.objectContaining({ code: 'leftover-worktree', task: 'T-00777' }),
    );
    const listed = repo.json<{ owner: string; leftover: boolean; bytes: number }[]>('worktree', 'list');
    expect(listed).toEqual([expect.objectContaining({ owner: 'T-00777', leftover: true })]);
    expect(listed[0]!.bytes).toBeGreaterThan(0);
    const pruned = repo.json<{ removed: { owner: string }[]; branches: string[] }>('worktree', 'prune');
    expect(pruned.removed.map((w) => w.owner)).toEqual(['T-00777']);
    expect(pruned.branches).toEqual([`dreamos/${task.id}`]);
    expect(repo.git('branch', '--list', 'dreamos/*')).toBe('');
    expect(repo.run('doctor').code).toBe(0);
  });
});
