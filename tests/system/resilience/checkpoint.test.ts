/**
 * Checkpoints through the library and the CLI: which checkpoint a run starts from, the hand-over of
 * `task retry --from-checkpoint`, retention, the git commit of the agent's working folder, and
 * `dreamos checkpoint save` as a driven program or the operator uses it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { agentFolder, gitHead } from '../../../agents/platform/git.js';
import {
  boundCheckpoint,
  lastCheckpointOfTask,
  planRetryFromCheckpoint,
  resumeCheckpoint,
} from '../../../src/checkpoints.js';
import { saveCheckpoint } from '../../../src/commands/checkpoints.js';
import { AgentConfig } from '../../../src/config.js';
import { planCheckpoint } from '../../../src/orchestrator/plans.js';
import { initWorkspace, openWorkspace, type Workspace } from '../../../src/workspace.js';
import type { Checkpoint } from '../../../state/schemas.js';
import { KEEP_CHECKPOINTS } from '../../../state/state-index.js';
import { cli, gitEmptyCommit, gitInitWithCommit, tempDir } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
let ws: Workspace;

beforeEach(async () => {
  tmp = tempDir('dreamos-checkpoint-');
  ws = await initWorkspace({ dir: tmp.dir });
});
afterEach(async () => {
  await ws.close();
  tmp.cleanup();
});

const agentIds = () => ws.config.agents.map((a) => a.id);

/** What the loop records on its own, as the orchestrator would. */
const loopStep = (agent: string, task: string, step: string, progress: number | null = null) =>
  ws.apply((ctx) => planCheckpoint(ctx, agent, { task, step, progress }), agent);

/** A task claimed by `agent` and failed for good. */
async function failedTask(agent: string, title = 'work'): Promise<string> {
  const task = await ws.addTask({ title, run: 'true', maxAttempts: 1 });
  await ws.claim(agent, { taskId: task.id });
  return task.id;
}

describe('which checkpoint a run starts from', () => {
  it("prefers the work's own checkpoint to the steps the loop records", async () => {
    const id = (await ws.addTask({ title: 'resumable', run: 'true' })).id;
    await ws.claim('agent-2', { taskId: id });
    await loopStep('agent-2', id, 'start', 0);
    expect(resumeCheckpoint(ws.view, 'agent-2', id)).toBeNull(); // a start says nothing
    await saveCheckpoint(ws, 'agent-2', { task: id, step: 'half', sessionId: 's-1', progress: 0.5 });
    await loopStep('agent-2', id, 'interrupted', 0.6);
    await loopStep('agent-2', id, 'resume', 0.6);
    const cp = resumeCheckpoint(ws.view, 'agent-2', id);
    expect(cp).toMatchObject({ agent: 'agent-2', task: id, step: 'half', sessionId: 's-1' });
    // Another agent does not get agent-2's checkpoint on its own.
    expect(resumeCheckpoint(ws.view, 'agent-3', id)).toBeNull();
  });

  it('falls back to the last step the loop recorded when the work reported none', async () => {
    const id = (await ws.addTask({ title: 'quiet', run: 'true' })).id;
    await ws.claim('agent-2', { taskId: id });
    await loopStep('agent-2', id, 'start', 0);
    await loopStep('agent-2', id, 'interrupted', 0.3);
    expect(resumeCheckpoint(ws.view, 'agent-2', id)).toMatchObject({ step: 'interrupted', progress: 0.3 });
  });

  it('an operator retry starts over; --from-checkpoint hands the last checkpoint to any agent', async () => {
    const id = await failedTask('agent-2');
    await saveCheckpoint(ws, 'agent-2', { task: id, step: 'half', sessionId: 's-1', progress: 0.5 });
    await ws.fail(id, { agent: 'agent-2', reason: 'boom', errorCode: 'E_EXIT' });
    await loopStep('agent-2', id, 'failed', 0.5);

    // A restart and the checkpoints are ordered by their times, to the millisecond: the retry comes
    // in a later one, as an operator's does.
    for (const at = Date.now(); Date.now() === at; ) await new Promise((resolve) => setImmediate(resolve));
    await ws.retry(id);
    expect(resumeCheckpoint(ws.view, 'agent-2', id)).toBeNull();

    await ws.claim('agent-2', { taskId: id });
    await ws.fail(id, { agent: 'agent-2', reason: 'boom again', final: true });
    const retried = await ws.retry(id, undefined, { fromCheckpoint: true });
    expect(retried.status).toBe('ready');
    expect(retried.history.at(-1)!.why).toMatch(/from checkpoint C-/);
    for (const agent of ['agent-2', 'agent-3', 'agent-7']) {
      expect(resumeCheckpoint(ws.view, agent, id)).toMatchObject({
        agent: 'agent-2',
        step: 'half',
        sessionId: 's-1',
        progress: 0.5,
      });
    }
    // The hand-over is kept in the operator's list, visible through the API.
    expect(ws.checkpoints('operator').at(-1)).toMatchObject({ task: id, step: 'handover' });

    // Once the new agent reports its own progress, that is what it resumes from.
    await ws.claim('agent-3', { taskId: id });
    await loopStep('agent-3', id, 'resume', 0.5);
    expect(resumeCheckpoint(ws.view, 'agent-3', id)).toMatchObject({ agent: 'agent-2', step: 'half' });
    await saveCheckpoint(ws, 'agent-3', { task: id, step: 'three quarters', progress: 0.75 });
    expect(resumeCheckpoint(ws.view, 'agent-3', id)).toMatchObject({
      agent: 'agent-3',
      step: 'three quarters',
    });
  });

  it('the hand-over outlives the retention of the agent that saved the checkpoint', async () => {
    const id = await failedTask('agent-2');
    await saveCheckpoint(ws, 'agent-2', { task: id, step: 'deep', summary: 'hours of work' });
    await ws.fail(id, { agent: 'agent-2', reason: 'boom', final: true });
    await ws.retry(id, 'again', { fromCheckpoint: true });
    const other = (await ws.addTask({ title: 'busy', run: 'true' })).id;
    for (let i = 0; i < KEEP_CHECKPOINTS + 5; i++) await loopStep('agent-2', other, `step ${i}`);
    expect(ws.checkpoints('agent-2').some((c) => c.task === id)).toBe(false);
    expect(resumeCheckpoint(ws.view, 'agent-5', id)).toMatchObject({
      step: 'deep',
      summary: 'hours of work',
    });
  });

  it('refuses --from-checkpoint for a task without a checkpoint, and changes nothing', async () => {
    const id = await failedTask('agent-2');
    await ws.fail(id, { agent: 'agent-2', reason: 'boom', final: true });
    await expect(ws.retry(id, undefined, { fromCheckpoint: true })).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
    });
    expect(ws.getTask(id).status).toBe('failed');
    expect(ws.checkpoints('operator')).toEqual([]);
  });

  it("a second hand-over carries the original checkpoint, not the first hand-over's record", async () => {
    const id = await failedTask('agent-2');
    await saveCheckpoint(ws, 'agent-2', { task: id, step: 'half', sessionId: 's-1' });
    await ws.fail(id, { agent: 'agent-2', reason: 'boom', final: true });
    await ws.retry(id, undefined, { fromCheckpoint: true });
    await ws.claim('agent-3', { taskId: id });
    await loopStep('agent-3', id, 'resume');
    await ws.fail(id, { agent: 'agent-3', reason: 'boom', final: true });
    await loopStep('agent-3', id, 'failed');
    expect(lastCheckpointOfTask(ws.view, agentIds(), id)).toMatchObject({ agent: 'agent-2', step: 'half' });
    await ws.retry(id, undefined, { fromCheckpoint: true });
    const handed = ws.checkpoints('operator').at(-1)!;
    expect((handed.data!.checkpoint as Checkpoint).step).toBe('half');
    expect(resumeCheckpoint(ws.view, 'agent-4', id)).toMatchObject({ sessionId: 's-1' });
  });

  it('the retry and the hand-over are one change', async () => {
    const id = await failedTask('agent-2');
    await saveCheckpoint(ws, 'agent-2', { task: id, step: 'half' });
    await ws.fail(id, { agent: 'agent-2', reason: 'boom', final: true });
    const plan = planRetryFromCheckpoint(
      { view: ws.view, now: new Date(), by: 'operator', policies: ws.config.policies },
      id,
      agentIds(),
    );
    expect(plan.change?.tasks?.map((t) => t.id)).toEqual([id]);
    expect(plan.change?.checkpoints).toHaveLength(1);
    expect(plan.change?.counters?.checkpoint).toBe(ws.view.counters.checkpoint + 1);
  });
});

describe('retention and bounds', () => {
  it(`keeps the last ${KEEP_CHECKPOINTS} checkpoints of each agent, in memory and on disk`, async () => {
    const id = (await ws.addTask({ title: 'chatty', run: 'true' })).id;
    for (let i = 0; i < KEEP_CHECKPOINTS + 10; i++)
      await saveCheckpoint(ws, 'agent-4', { task: id, step: `s${i}` });
    const kept = ws.checkpoints('agent-4');
    expect(kept).toHaveLength(KEEP_CHECKPOINTS);
    expect(kept.at(-1)!.step).toBe(`s${KEEP_CHECKPOINTS + 9}`);
    await ws.db.flush();
    const file = JSON.parse(fs.readFileSync(ws.paths.checkpoint('agent-4'), 'utf8'));
    expect(file.items).toHaveLength(KEEP_CHECKPOINTS);
    // And after a reopen.
    const again = await openWorkspace({ home: tmp.dir });
    try {
      expect(again.checkpoints('agent-4')).toHaveLength(KEEP_CHECKPOINTS);
    } finally {
      await again.close();
    }
  });

  it('holds what programs report to the schema instead of refusing the checkpoint', async () => {
    const bounded = boundCheckpoint({
      task: null,
      step: 's'.repeat(2000),
      summary: 'x'.repeat(60_000),
      sessionId: 'i'.repeat(500),
      data: { big: 'y'.repeat(100_000) },
      progress: 7,
    });
    expect(bounded.step).toHaveLength(500);
    expect(bounded.summary).toHaveLength(50_000);
    expect(bounded.sessionId).toBeUndefined();
    expect(bounded.data).toBeUndefined();
    expect(bounded.progress).toBe(1);
    const saved = await ws.apply((ctx) => planCheckpoint(ctx, 'agent-1', bounded), 'agent-1');
    expect(saved.step).toHaveLength(500);
    // Data too deep to serialise is left out, not thrown at the loop; data as deep as allowed stays.
    const nest = (levels: number) => {
      let data: Record<string, unknown> = { n: 1 };
      for (let i = 1; i < levels; i++) data = { a: data };
      return data;
    };
    expect(boundCheckpoint({ task: null, data: nest(20_000) }).data).toBeUndefined();
    expect(boundCheckpoint({ task: null, data: nest(512) }).data).toEqual(nest(512));
  });
});

describe('the git commit of the working folder', () => {
  const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();

  it('is read from the repository of the folder, and absent elsewhere', async () => {
    expect(await gitHead(tmp.dir)).toBeUndefined(); // not a repository
    expect(await gitHead(path.join(tmp.dir, 'missing'))).toBeUndefined();
    const repo = path.join(tmp.dir, 'repo');
    fs.mkdirSync(repo);
    execFileSync('git', ['init', '-q'], { cwd: repo });
    expect(await gitHead(repo)).toBeUndefined(); // no commit yet
    gitEmptyCommit(repo);
    const head = git(repo, 'rev-parse', 'HEAD');
    expect(await gitHead(repo)).toBe(head);
    fs.mkdirSync(path.join(repo, 'sub'));
    expect(await gitHead(path.join(repo, 'sub'))).toBe(head);
  });

  it("the agent's folder is its worktree, its driver's cwd, or the workspace's folder", () => {
    const home = path.join(tmp.dir, '.dreamos');
    const agent = (driver: unknown) => AgentConfig.parse({ id: 'agent-9', name: 'n', role: 'r', driver });
    expect(agentFolder(home, agent({ kind: 'sim' }))).toBe(tmp.dir);
    expect(agentFolder(home, agent({ kind: 'shell', cwd: 'src' }))).toBe(path.join(tmp.dir, 'src'));
    expect(agentFolder(home, agent({ kind: 'command', argv: ['x'], worktree: true }))).toBe(tmp.dir);
    fs.mkdirSync(path.join(home, 'worktrees', 'agent-9'), { recursive: true });
    fs.writeFileSync(path.join(home, 'worktrees', 'agent-9', '.git'), 'gitdir: elsewhere\n');
    expect(agentFolder(home, agent({ kind: 'command', argv: ['x'], worktree: true }))).toBe(
      path.join(home, 'worktrees', 'agent-9'),
    );
  });

  it('is recorded by `checkpoint save` when the workspace is in a repository', async () => {
    gitInitWithCommit(tmp.dir);
    const id = (await ws.addTask({ title: 'in git', run: 'true' })).id;
    const saved = await saveCheckpoint(ws, 'agent-2', { task: id, step: 'x' });
    expect(saved.gitCommit).toBe(git(tmp.dir, 'rev-parse', 'HEAD'));
  });
});

describe('dreamos checkpoint save', () => {
  const run = (args: string[], env: Record<string, string> = {}) =>
    cli(['checkpoint', 'save', ...args], { cwd: tmp.dir, env });

  it('a driven program saves for its own agent and task, from the environment', async () => {
    const id = (await ws.addTask({ title: 'driven', run: 'true' })).id;
    const env = { DREAMOS_AGENT_ID: 'agent-6', DREAMOS_TASK_ID: id };
    const r = run(
      [
        '--step',
        'parsed',
        '--progress',
        '0.25',
        '--summary',
        'tokenizer done',
        '--session-id',
        'sess-9',
        '--data',
        '{"n":3}',
        '--json',
      ],
      env,
    );
    expect(r.code).toBe(0);
    const saved = r.json<Checkpoint>();
    expect(saved).toMatchObject({
      agent: 'agent-6',
      task: id,
      step: 'parsed',
      progress: 0.25,
      summary: 'tokenizer done',
      sessionId: 'sess-9',
      data: { n: 3 },
    });
    expect(saved.rev).toBeGreaterThan(0);
    const listed = cli(['checkpoint', 'list', '--agent', 'agent-6', '--json'], { cwd: tmp.dir }).json<
      Checkpoint[]
    >();
    expect(listed.map((c) => c.id)).toEqual([saved.id]);
    // Saving for another agent is refused.
    expect(run(['--agent', 'agent-7', '--step', 'x'], env).code).toBe(2);
  });

  it('the operator must name the agent; bad input gets a clear error and records nothing', async () => {
    const id = (await ws.addTask({ title: 'by hand', run: 'true' })).id;
    const refused = run(['--step', 'x']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--agent/);
    expect(run(['--agent', 'agent-2', '--progress', '1.5']).code).toBe(2);
    expect(run(['--agent', 'agent-2', '--progress', 'half']).code).toBe(2);
    expect(run(['--agent', 'agent-2', '--data', '[1,2]']).code).toBe(2);
    expect(run(['--agent', 'agent-2', '--data', '{nope']).code).toBe(2);
    expect(run(['--agent', 'agent-2', '--session-id', 'x'.repeat(300)]).code).toBe(2);
    const nested = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
    const deep = run(['--agent', 'agent-2', '--data', nested(5000)]);
    expect([deep.code, deep.stderr]).toEqual([2, 'dreamos: --data nests deeper than 512 levels\n']);
    expect(run(['--agent', 'nobody', '--step', 'x']).code).toBe(3);
    expect(run(['--agent', 'agent-2', '--task', 'T-ZZZZZ', '--step', 'x']).code).toBe(3);
    expect(run(['--agent', 'agent-2', '--task', 'not-a-task']).code).toBe(2);
    ws.refresh();
    expect(ws.checkpoints('agent-2')).toEqual([]);
    const ok = run(['--agent', 'agent-2', '--task', id, '--step', 'noted by the operator', '--json']);
    expect(ok.code).toBe(0);
    expect(ok.json<Checkpoint>()).toMatchObject({ agent: 'agent-2', task: id });
  });
});
