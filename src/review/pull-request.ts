/**
 * The merge queue's `--pr` mode: the task's branch is pushed and a pull request opened with the
 * GitHub CLI (`gh`), which must be installed and signed in; the repository's own checks and
 * reviewers then take over, and the task is done with the request's address.
 */

import { gitOk } from '../../agents/platform/task-git.js';
import type { Task, TaskCode } from '../../state/schemas.js';
import { oneLine } from '../sanitize.js';
import type { Workspace } from '../workspace.js';

const GH_TIMEOUT_MS = 120_000;

function gh(args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    process
      .getBuiltinModule('node:child_process')
      .execFile(
        'gh',
        args,
        { cwd, timeout: GH_TIMEOUT_MS, encoding: 'utf8', maxBuffer: 1024 * 1024 },
        (error, stdout, stderr) => {
          if (!error) return resolve(String(stdout));
          const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
          reject(
            new Error(
              missing
                ? 'gh (the GitHub CLI) is not installed: install it and run `gh auth login`, or leave --pr out'
                : `gh pr create: ${oneLine(String(stderr) || error.message).slice(0, 1000)}`,
            ),
          );
        },
      );
  });
}

/** Pushes the task's branch and opens its pull request; returns the request's address. */
export async function openPullRequest(
  ws: Workspace,
  repo: string,
  task: Task & { code: TaskCode },
): Promise<string> {
  const { branch, base } = task.code;
  const remote = ws.config.policies.review.remote;
  await gitOk(['push', '--quiet', remote, `refs/heads/${branch}:refs/heads/${branch}`], repo);
  const body = `${task.prompt ?? task.title}\n\n${task.result?.summary ?? ''}\n\n(Dream.OS task ${task.id})`;
  const out = await gh(
    [
      'pr',
      'create',
      '--base',
      base,
      '--head',
      branch,
      '--title',
      `${task.id}: ${task.title}`,
      '--body',
      body,
    ],
    repo,
  );
  const url = out.trim().split('\n').pop() ?? '';
  if (!/^https?:\/\/\S+$/.test(url))
    throw new Error(`gh pr create did not print the request's address: ${oneLine(out).slice(0, 200)}`);
  return url;
}
