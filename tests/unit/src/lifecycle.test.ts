import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initWorkspace, openWorkspace, type Workspace } from '../../../src/index.js';
import { type Ctx, planClaim, planComplete, planFail, planRenew } from '../../../src/lifecycle/index.js';
import { planHeartbeat } from '../../../src/orchestrator/plans.js';
import type { Task } from '../../../state/schemas.js';
import { tempDir } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
let ws: Workspace;

beforeEach(async () => {
  tmp = tempDir();
  ws = await initWorkspace({ dir: tmp.dir });
});
afterEach(async () => {
  await ws.close();
  tmp.cleanup();
});

describe('task lifecycle through the library', () => {
  it('adds, claims with a lease, completes, and promotes dependents in the same change', async () => {
    const a = await ws.addTask({ title: 'build', run: 'true' });
    const b = await ws.addTask({ title: 'test', run: 'true', dependsOn: [a.id] });
    expect(a.status).toBe('ready');
    expect(b.status).toBe('backlog');
    const claimed = await ws.claim('agent-2');
    expect(claimed?.id).toBe(a.id);
    expect(claimed?.lease?.owner).toBe('agent-2');
    expect(claimed?.attempts).toBe(1);
    await ws.complete(a.id, { agent: 'agent-2', summary: 'built' });
    expect(ws.getTask(b.id).status).toBe('ready');
    expect(ws.getTask(a.id).history.map((h) => h.to)).toEqual(['backlog', 'ready', 'working', 'done']);
  });

  it("keeps an agent's held proposal in the backlog when what it depends on is done", async () => {
    const a = await ws.addTask({ title: 'build', run: 'true' });
    const proposal = await ws.addTask(
      { title: 'then deploy', prompt: 'deploy it', source: 'agent', hold: true, dependsOn: [a.id] },
      'agent-3',
    );
    await ws.claim('agent-2', { taskId: a.id });
    await ws.complete(a.id, { agent: 'agent-2' });
    expect(ws.getTask(proposal.id).status).toBe('backlog');
    // The operator's promote is what lets it run.
    expect((await ws.promote(proposal.id)).status).toBe('ready');
  });

  it('records a task added through the library without a source as from the api', async () => {
    expect((await ws.addTask({ title: 'from code', run: 'true' })).source).toBe('api');
    expect((await ws.addTask({ title: 'said', run: 'true', source: 'webhook' })).source).toBe('webhook');
  });

  it('retries a failed attempt with backoff, then dead-letters it', async () => {
    const t = await ws.addTask({ title: 'flaky', run: 'false', maxAttempts: 2 });
    await ws.claim('agent-2');
    const retried = await ws.fail(t.id, { agent: 'agent-2', reason: 'exit 1' });
    expect(retried.status).toBe('ready');
    expect(Date.parse(retried.notBefore ?? '')).toBeGreaterThan(Date.now());
    expect(await ws.claim('agent-2')).toBeNull(); // still backing off
    await ws.retry(t.id); // operator: retry now
    await ws.claim('agent-2');
    const failed = await ws.fail(t.id, { agent: 'agent-2', reason: 'exit 1 again' });
    expect(failed.status).toBe('failed');
    expect(failed.result?.error).toBe('exit 1 again');
  });

  it('refuses a dependency cycle created by an edit', async () => {
    const a = await ws.addTask({ title: 'a', hold: true });
    const b = await ws.addTask({ title: 'b', dependsOn: [a.id] });
    await expect(ws.edit(a.id, { dependsOn: [b.id] })).rejects.toMatchObject({ code: 'E_CYCLE' });
    expect(ws.getTask(a.id).dependsOn).toEqual([]);
  });

  it('refuses invalid transitions with a conflict code', async () => {
    const t = await ws.addTask({ title: 'x' });
    await expect(ws.complete(t.id)).rejects.toMatchObject({ code: 'E_INVALID_TRANSITION', exitCode: 4 });
    await ws.cancel(t.id);
    await expect(ws.cancel(t.id)).rejects.toMatchObject({ exitCode: 4 });
    await expect(ws.move(t.id, 'working')).rejects.toMatchObject({ exitCode: 4 });
  });

  it('never runs two tasks whose resources overlap', async () => {
    await ws.addTask({ title: 'one', resources: ['src/**'] });
    const two = await ws.addTask({ title: 'two', resources: ['src/state/db.ts'] });
    const three = await ws.addTask({ title: 'three', resources: ['docs/**'] });
    const first = await ws.claim('agent-5');
    const second = await ws.claim('agent-5');
    expect(first?.title).toBe('one');
    expect(second?.id).toBe(three.id);
    expect(await ws.claim('agent-5')).toBeNull();
    await ws.complete(first!.id);
    expect((await ws.claim('agent-5'))?.id).toBe(two.id);
  });

  it('survives reopening: state comes back from snapshots and journal', async () => {
    const t = await ws.addTask({ title: 'persist me', priority: 'high', tags: ['x'] });
    await ws.close();
    ws = await openWorkspace({ home: tmp.dir });
    expect(ws.getTask(t.id)).toMatchObject({ title: 'persist me', priority: 'high', status: 'ready' });
  });
});

describe('lease fencing tokens', () => {
  /** A planner's context at `now`, on the workspace's current state. */
  const at = (now: Date, by = 'agent-2'): Ctx => ({ view: ws.view, now, by, policies: ws.config.policies });
  /** Just after the lease of `task` runs out. */
  const afterExpiry = (task: Task) => new Date(Date.parse(task.lease!.expiresAt) + 1);

  it('gives every claim of a task a higher token, through a retry, a stall and another agent', async () => {
    const t = await ws.addTask({ title: 'claimed again and again', run: 'true', maxAttempts: 5 });
    const first = (await ws.claim('agent-2'))!;
    expect(first.lease?.token).toBeGreaterThan(0);
    await ws.fail(t.id, { agent: 'agent-2', leaseToken: first.lease!.token!, reason: 'x', final: true });
    await ws.retry(t.id);
    const second = (await ws.claim('agent-2'))!;
    // The lease runs out, and the next claim (by another agent) finds it expired and takes the task.
    const third = await ws.apply((ctx) =>
      planClaim({ ...ctx, now: afterExpiry(second) }, ws.agent('agent-3')),
    );
    expect(third?.stalls).toBe(1);
    const tokens = [first, second, third!].map((c) => c.lease!.token!);
    expect(tokens[1]).toBeGreaterThan(tokens[0]!);
    expect(tokens[2]).toBeGreaterThan(tokens[1]!);
    expect(ws.getTask(t.id).lease?.token).toBe(tokens[2]);
  });

  it('refuses a completion, failure or renewal after the lease ran out, even before a sweep', async () => {
    const t = await ws.addTask({ title: 'late', run: 'true' });
    const c = (await ws.claim('agent-2'))!;
    const holder = { agent: 'agent-2', leaseToken: c.lease!.token! };
    const late = at(afterExpiry(c));
    const expired = new RegExp(`lease of agent-2 on ${t.id} expired at ${c.lease!.expiresAt}`);
    expect(() => planComplete(late, t.id, holder)).toThrow(expired);
    expect(() => planFail(late, t.id, { ...holder, reason: 'x' })).toThrow(expired);
    expect(() => planRenew(late, t.id, holder)).toThrow(expired);
    expect(() => planComplete(late, t.id, holder)).toThrow(expect.objectContaining({ code: 'E_CONFLICT' }));
    // The same report while the lease holds goes through.
    expect(planComplete(at(new Date(Date.parse(c.lease!.expiresAt) - 1)), t.id, holder).result.status).toBe(
      'done',
    );
  });

  it('refuses a report with the token of an earlier claim of the task', async () => {
    const t = await ws.addTask({ title: 'handed over', run: 'true', maxAttempts: 3 });
    const old = (await ws.claim('agent-2'))!;
    await ws.apply((ctx) => planClaim({ ...ctx, now: afterExpiry(old) }, ws.agent('agent-2')));
    const current = ws.getTask(t.id);
    expect(current.lease?.owner).toBe('agent-2'); // the same agent, a new claim
    const stale = { agent: 'agent-2', leaseToken: old.lease!.token! };
    await expect(ws.complete(t.id, stale)).rejects.toMatchObject({
      code: 'E_CONFLICT',
      message: expect.stringMatching(new RegExp(`${t.id} was claimed again by agent-2`)),
    });
    await expect(ws.fail(t.id, { ...stale, reason: 'x' })).rejects.toMatchObject({ code: 'E_CONFLICT' });
    await expect(ws.renew(t.id, 'agent-2', stale.leaseToken)).rejects.toMatchObject({ code: 'E_CONFLICT' });
    expect(ws.getTask(t.id)).toEqual(current);
    const done = await ws.complete(t.id, { agent: 'agent-2', leaseToken: current.lease!.token! });
    expect(done.status).toBe('done');
  });

  it('lets the operator complete or fail a task whatever its lease', async () => {
    const a = await ws.addTask({ title: 'a', run: 'true' });
    const b = await ws.addTask({ title: 'b', run: 'true' });
    const ca = (await ws.claim('agent-2', { taskId: a.id }))!;
    const cb = (await ws.claim('agent-2', { taskId: b.id }))!;
    expect(planComplete(at(afterExpiry(ca), 'operator'), a.id, {}).result.status).toBe('done');
    expect(planFail(at(afterExpiry(cb), 'operator'), b.id, { reason: 'no', final: true }).result.status).toBe(
      'failed',
    );
    expect(() => ws.complete(a.id, { leaseToken: 1 })).toThrow(/a lease token comes with the agent/);
  });

  it('renews in the heartbeat only the lease of the claim the agent runs, and only while it holds', async () => {
    const t = await ws.addTask({ title: 'beating', run: 'true' });
    const c = (await ws.claim('agent-2'))!;
    const held = new Map([['agent-2', { task: t.id, token: c.lease!.token }]]);
    const now = new Date(Date.parse(c.lease!.expiresAt) - 1);
    const beat = planHeartbeat(at(now, 'orchestrator'), held).result.get('agent-2')!;
    expect(beat.renewed).toBe(true);
    expect(beat.task?.lease).toMatchObject({ owner: 'agent-2', token: c.lease!.token });
    const late = planHeartbeat(at(afterExpiry(c), 'orchestrator'), held).result.get('agent-2')!;
    expect(late).toEqual({ task: ws.getTask(t.id), renewed: false });
    const other = new Map([['agent-2', { task: t.id, token: c.lease!.token! + 1 }]]);
    expect(planHeartbeat(at(now, 'orchestrator'), other).result.get('agent-2')?.renewed).toBe(false);
  });
});
