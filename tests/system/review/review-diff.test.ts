/**
 * `review show` after a branch was brought up to date with a newer base (a conflict resolved by a
 * rebase), through the CLI in a real git repository: the diff holds the task's own changes, not
 * those the base gained meanwhile.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type CodeRepo, codeRepo, RESOLVES_CONFLICT } from '../../helpers/code-repo.js';

let repo: CodeRepo | undefined;
afterEach(() => {
  repo?.cleanup();
  repo = undefined;
});

interface Diff {
  files: { path: string }[];
  baseCommit: string;
  from: string;
  text?: string;
}

describe('review show after a rebase', () => {
  it("diffs from where the branch forks from its base now, so the base's own changes are not shown", () => {
    repo = codeRepo({ files: { 'shared.txt': 'x\n' } });
    const first = repo.add('First', 'echo A > shared.txt; echo one > one.txt');
    const second = repo.add('Second', RESOLVES_CONFLICT);
    expect(repo.run('run', '--until-idle').code).toBe(0);
    repo.run('review', 'approve', first.id);
    repo.run('review', 'approve', second.id);
    expect(repo.run('merge', 'run').code).toBe(4);
    const mergedFirst = repo.git('rev-parse', 'main');
    expect(repo.run('run', '--until-idle').code).toBe(0);
    expect(repo.task(second.id).status).toBe('review');

    const diff = repo.json<Diff>('review', 'show', second.id);
    expect(diff.files.map((f) => f.path)).toEqual(['shared.txt']);
    expect(diff.from).toBe(mergedFirst);
    expect(diff.from).not.toBe(diff.baseCommit);
    expect(diff.text).toContain('-A');
    expect(diff.text).toContain('+AB');
    expect(diff.text).not.toContain('one.txt');
    const stat = repo.run('review', 'show', second.id, '--stat');
    expect(stat.stdout).toContain(`(${mergedFirst.slice(0, 12)}..`);
  });
});
