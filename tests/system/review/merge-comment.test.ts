/**
 * The comment back on a merge: `dreamos serve` as a child process in a real git repository, code
 * tasks made from issues (`gh:owner/repo#N`) reviewed and merged by the CLI, and the comments the
 * serving process posts to a fake GitHub on 127.0.0.1: one per task, saying it was merged and at
 * which commit, with the agent's summary only when `commentBack` is `"summary"`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/agents.js';
import { type CodeRepo, codeRepo } from '../../helpers/code-repo.js';
import { type FakeGithub, startFakeGithub } from '../../helpers/github-fake.js';
import { BIN, collectOutput } from '../../helpers/workspace.js';

const REPO = 'acme/widgets';
let repo: CodeRepo | undefined;
let fake: FakeGithub | undefined;
let child: ChildProcess | undefined;

afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    await new Promise((resolve) => child!.once('close', resolve));
  }
  await fake?.close();
  repo?.cleanup();
  repo = fake = child = undefined;
});

async function serveWithComments(r: CodeRepo, commentBack: true | 'summary'): Promise<FakeGithub> {
  const github = await startFakeGithub();
  const file = path.join(r.home, 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8'));
  config.github = { repos: [REPO], commentBack, apiBaseUrl: github.url };
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  child = spawn(process.execPath, [BIN, 'serve', '--listen', '127.0.0.1:0', '--json'], {
    cwd: r.dir,
    env: { ...process.env, ...r.env, DREAMOS_GITHUB_TOKEN: 'gh-merge-token' },
  });
  const output = collectOutput(child);
  await waitFor(() => output.stdout().includes('\n') || child!.exitCode !== null, 30_000);
  expect(output.stdout(), output.stderr()).toContain('origin');
  return github;
}

function mergeAll(r: CodeRepo, ...ids: string[]): void {
  const run = r.run('run', '--until-idle');
  expect(run.code, run.stderr).toBe(0);
  for (const id of ids) expect(r.run('review', 'approve', id).code).toBe(0);
  const merged = r.run('merge', 'run');
  expect(merged.code, merged.stderr).toBe(0);
}

describe('the comment back on a merge', () => {
  it('comments once when a code task from an issue is merged, with its branch and commit', async () => {
    repo = codeRepo();
    fake = await serveWithComments(repo, true);
    const task = repo.add('Add a', 'echo a > a.txt; echo SUMMARY-OF-A', '--dedupe-key', `gh:${REPO}#7`);
    // Its attempt ends in review: no comment yet; the next one is the merge's.
    mergeAll(repo, task.id);
    expect(repo.task(task.id)).toMatchObject({ status: 'done', code: { stage: 'merged' } });
    const commit = repo.git('rev-parse', 'main');
    await waitFor(() => fake!.comments.length > 0, 30_000);
    // A task done without changes (nothing to merge) says finished, and is the second comment.
    const none = repo.add('Change nothing', 'true', '--dedupe-key', `gh:${REPO}#8`);
    expect(repo.run('run', '--until-idle').code).toBe(0);
    expect(repo.task(none.id)).toMatchObject({ status: 'done', code: { stage: 'no-changes' } });
    await waitFor(() => fake!.comments.length > 1, 30_000);

    expect(fake.comments).toEqual([
      {
        path: `/repos/${REPO}/issues/7/comments`,
        authorization: 'Bearer gh-merge-token',
        body: `Dream.OS merged task ${task.id}: Add a\n\nBranch \`dreamos/${task.id}\` was merged into \`main\` at ${commit}.`,
      },
      {
        path: `/repos/${REPO}/issues/8/comments`,
        authorization: 'Bearer gh-merge-token',
        body: `Dream.OS finished task ${none.id}: Change nothing`,
      },
    ]);
  });

  it('adds the agent summary to the merge comment when commentBack is "summary"', async () => {
    repo = codeRepo();
    fake = await serveWithComments(repo, 'summary');
    const task = repo.add('Add b', 'echo b > b.txt; echo SUMMARY-OF-B', '--dedupe-key', `gh:${REPO}#9`);
    mergeAll(repo, task.id);
    const summary = repo.task(task.id).result?.summary;
    expect(summary).toContain('SUMMARY-OF-B');
    await waitFor(() => fake!.comments.length > 0, 30_000);
    expect(fake.comments).toHaveLength(1);
    expect(fake.comments[0]!.body).toBe(
      `Dream.OS merged task ${task.id}: Add b\n\nBranch \`dreamos/${task.id}\` was merged into \`main\` at ${repo.git('rev-parse', 'main')}.\n\n${summary!.trim()}`,
    );
  });
});
