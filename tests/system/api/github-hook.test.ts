/**
 * GitHub's webhook on a real socket: `dreamos serve` as a child process with a `github` section and
 * the secret and token in its environment, a signed delivery posted to `/hooks/github` without a
 * bearer token, the task it makes seen by the CLI, approved and finished there, and the one comment
 * the serving process posts back to a fake GitHub on 127.0.0.1.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Task } from '../../../state/schemas.js';
import { waitFor } from '../../helpers/agents.js';
import { delivery, type FakeGithub, issuesPayload, startFakeGithub } from '../../helpers/github-fake.js';
import { BIN, cli, collectOutput, tempDir } from '../../helpers/workspace.js';

const SECRET = 'a webhook secret for the serve test';
const REPO = 'acme/widgets';

let fake: FakeGithub;
const tmp = tempDir('dreamos-github-serve-');
const children: ChildProcess[] = [];

beforeAll(async () => {
  fake = await startFakeGithub();
});
afterAll(async () => {
  await fake.close();
  tmp.cleanup();
});
afterEach(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

const run = (...args: string[]) => {
  const result = cli(['--json', ...args], { cwd: tmp.dir });
  expect(result.code, result.stderr).toBe(0);
  return result;
};

describe('POST /hooks/github through dreamos serve', () => {
  it('makes the task of a signed delivery, and comments on the issue once it is done', async () => {
    expect(cli(['init'], { cwd: tmp.dir }).code).toBe(0);
    const configFile = path.join(tmp.dir, '.dreamos', 'config.json');
    const config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    config.github = { repos: [REPO], commentBack: true, apiBaseUrl: fake.url };
    // `true` names the task only: the agent's summary goes to the issue when asked for by name.
    fs.writeFileSync(configFile, JSON.stringify(config, null, 2));

    const child = spawn(process.execPath, [BIN, 'serve', '--listen', '127.0.0.1:0', '--json'], {
      cwd: tmp.dir,
      env: { ...process.env, DREAMOS_GITHUB_WEBHOOK_SECRET: SECRET, DREAMOS_GITHUB_TOKEN: 'gh-serve-token' },
    });
    children.push(child);
    const output = collectOutput(child);
    await waitFor(() => output.stdout().includes('\n') || child.exitCode !== null, 30_000);
    const first = JSON.parse(output.stdout().split('\n')[0] || '{}') as { origin?: string };
    expect(first.origin, output.stderr()).toBeDefined();
    const post = (d: { body: string; headers: Record<string, string> }) =>
      fetch(`${first.origin}/hooks/github`, { method: 'POST', headers: d.headers, body: d.body });

    const forged = await post(
      delivery('wrong', 'issues', issuesPayload(REPO, 'opened', { number: 4, title: 'x' })),
    );
    expect(forged.status).toBe(401);
    const answer = await post(
      delivery(SECRET, 'issues', issuesPayload(REPO, 'opened', { number: 4, title: 'Make it faster' })),
    );
    expect(answer.status).toBe(202);
    const { task: id } = (await answer.json()) as { task: string };
    // The API itself still wants a token.
    expect((await fetch(`${first.origin}/api/v1/tasks`)).status).toBe(401);

    const task = run('task', 'show', id).json<Task>();
    expect(task).toMatchObject({
      source: 'webhook',
      dedupeKey: `gh:${REPO}#4`,
      approval: { status: 'pending' },
    });
    run('task', 'approve', id);
    run('task', 'claim', '--agent', 'agent-2', '--task', id);
    run('task', 'complete', id, '--agent', 'agent-2', '--summary', 'made it faster');

    await waitFor(() => fake.comments.length > 0, 30_000);
    expect(fake.comments).toEqual([
      {
        path: `/repos/${REPO}/issues/4/comments`,
        authorization: 'Bearer gh-serve-token',
        body: `Dream.OS finished task ${id}: Make it faster`,
      },
    ]);
    expect(output.stderr()).not.toContain(SECRET);
    expect(output.stderr()).not.toContain('gh-serve-token');
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('close', resolve));
  });
});
