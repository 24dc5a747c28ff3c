/**
 * The review stage through the library: an attempt on a branch ends in review or done, approvals and
 * rejections and who may give them, the operator's moves out of review, and what dependents see.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  initWorkspace,
  reviewApprove,
  reviewList,
  reviewReject,
  type Workspace,
} from '../../../src/index.js';
import { planCodeOpen } from '../../../src/lifecycle/index.js';
import { attentionNow } from '../../../src/reports.js';
import type { Task } from '../../../state/schemas.js';
import { tempDir } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
let ws: Workspace;

const BASE = 'a'.repeat(40);
const HEAD = 'b'.repeat(40);

beforeEach(async () => {
  tmp = tempDir();
  ws = await initWorkspace({ dir: tmp.dir });
});
afterEach(async () => {
  await ws.close();
  tmp.cleanup();
});

/** A task claimed by `agent` on its own branch, its attempt ended with `head` (null: no change). */
async function attempt(agent: string, head: string | null, id?: string): Promise<Task> {
  const task = id ? ws.getTask(id) : await ws.addTask({ title: 'code work', prompt: 'change it' });
  const claimed = (await ws.claim(agent, { taskId: task.id }))!;
  await ws.apply((ctx) => planCodeOpen(ctx, task.id, { base: 'main', baseCommit: BASE }));
  return ws.complete(task.id, {
    agent,
    leaseToken: claimed.lease!.token!,
    codeHead: head,
    summary: 'did it',
  });
}

describe('review', () => {
  it('sends a good attempt with changes to review, and one without to done', async () => {
    const changed = await attempt('agent-2', HEAD);
    expect(changed).toMatchObject({
      status: 'review',
      code: { branch: `dreamos/${changed.id}`, base: 'main', baseCommit: BASE, head: HEAD, stage: 'waiting' },
    });
    const dependent = await ws.addTask({ title: 'after it', run: 'true', dependsOn: [changed.id] });
    expect(dependent.status).toBe('backlog');
    const same = await attempt('agent-2', null);
    expect(same).toMatchObject({ status: 'done', code: { stage: 'no-changes' } });
    expect(reviewList(ws).map((i) => i.id)).toEqual([changed.id]);
    const attention = attentionNow(ws);
    expect(attention).toContainEqual(expect.objectContaining({ reason: 'waiting-review', task: changed.id }));
  });

  it('lets the operator or a reviewing role approve, never the task’s own agent or another role', async () => {
    const byCaptain = await attempt('agent-1', HEAD);
    await expect(reviewApprove(ws, byCaptain.id, 'agent-1')).rejects.toMatchObject({ code: 'E_CONFLICT' });
    await expect(reviewApprove(ws, byCaptain.id, 'agent-2')).rejects.toMatchObject({ code: 'E_CONFLICT' });
    const approved = await reviewApprove(ws, byCaptain.id);
    expect(approved.code).toMatchObject({ stage: 'approved', approvedBy: ws.actor });
    await expect(reviewApprove(ws, byCaptain.id)).rejects.toMatchObject({ code: 'E_INVALID_TRANSITION' });
    const other = await attempt('agent-2', HEAD);
    expect((await reviewApprove(ws, other.id, 'agent-1')).code?.approvedBy).toBe('agent-1');
    await expect(reviewApprove(ws, 'T-00999')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });

  it('rejects with a note: back to ready on the same branch, attempts reset, the note kept', async () => {
    const task = await attempt('agent-2', HEAD);
    await expect(reviewReject(ws, task.id, ' \u001b[2J ')).rejects.toMatchObject({ code: 'E_INVALID_INPUT' });
    const back = await reviewReject(ws, task.id, 'add a test \u001b[31mnow');
    expect(back).toMatchObject({
      status: 'ready',
      attempts: 0,
      agent: null,
      code: {
        branch: `dreamos/${task.id}`,
        stage: 'open',
        last: { reason: 'rejected', text: 'add a test now' },
      },
    });
    // The next attempt keeps the branch and its base commit.
    const again = await attempt('agent-3', HEAD, task.id);
    expect(again.code).toMatchObject({ baseCommit: BASE, stage: 'waiting' });
  });

  it('approves at once under policy auto, and lets the operator move a task out of review', async () => {
    await ws.close();
    const { writePolicies } = await import('../../helpers/workspace.js');
    writePolicies(ws.home, { review: { policy: 'auto' } });
    const { openWorkspace } = await import('../../../src/index.js');
    ws = await openWorkspace({ home: ws.home });
    const task = await attempt('agent-2', HEAD);
    expect(task.code).toMatchObject({ stage: 'approved', approvedBy: 'policy' });
    await expect(ws.move(task.id, 'done')).rejects.toMatchObject({ code: 'E_INVALID_TRANSITION' });
    const moved = await ws.move(task.id, 'ready');
    expect(moved).toMatchObject({ status: 'ready', code: { stage: 'open' } });
  });
});
