/**
 * Work from outside (webhook, discord, scout, an API token without tasks:approve): it waits in the
 * backlog for approval, runs once approved, and a repeated dedupe key never makes a second task, also
 * after the first was done, archived and the workspace opened again. Run for every state backend.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attention } from '../../../src/attention.js';
import type { Workspace } from '../../../src/workspace.js';
import { BACKENDS } from '../../helpers/backends.js';
import { describePg } from '../../helpers/pg.js';
import { tempDir } from '../../helpers/workspace.js';

const inbox = (ws: Workspace) => {
  ws.refresh();
  return attention(ws.view, { policies: ws.config.policies, agents: ws.config.agents, now: new Date() });
};

for (const backend of BACKENDS)
  (backend.needs === 'postgres' ? describePg : describe)(
    `outside work on the ${backend.name} backend`,
    () => {
      let tmp: ReturnType<typeof tempDir>;
      const open: Workspace[] = [];
      const start = async (policies?: Record<string, unknown>) => {
        const home = await backend.init(tmp.dir, policies);
        // Frequent snapshots: opening again then starts past the entry that archived a task, so what
        // it knows of archived tasks comes from the archive, not from replaying the journal.
        const ws = await backend.open(home, { snapshotEvery: 5 });
        open.push(ws);
        return { home, ws };
      };

      beforeEach(() => {
        tmp = tempDir('dreamos-outside-');
      });
      afterEach(async () => {
        for (const ws of open.splice(0)) await ws.close();
        await backend.cleanup?.();
        tmp.cleanup();
      });

      it('keeps a scout task in the backlog as needs-approval until approved, then it can be claimed', async () => {
        const { ws } = await start();
        const task = await ws.addTask({
          title: 'lead from a feed',
          run: 'true',
          source: 'scout',
          dedupeKey: 'scout:hn:1',
        });
        expect(task).toMatchObject({ status: 'backlog', approval: { status: 'pending' }, source: 'scout' });
        expect(inbox(ws).find((i) => i.task === task.id)).toMatchObject({ reason: 'needs-approval' });
        expect(await ws.claim('agent-2')).toBeNull();
        await expect(ws.promote(task.id)).rejects.toMatchObject({ code: 'E_INVALID_TRANSITION' });

        const approved = await ws.approve(task.id, undefined, 'alice');
        expect(approved.status).toBe('ready');
        expect(approved.approval).toMatchObject({ status: 'approved', by: 'alice' });
        expect(approved.history.at(-1)).toMatchObject({ from: 'backlog', to: 'ready', by: 'alice' });
        expect(inbox(ws).find((i) => i.task === task.id)).toBeUndefined();
        expect((await ws.claim('agent-2'))?.id).toBe(task.id);
        await expect(ws.approve(task.id)).rejects.toMatchObject({ code: 'E_INVALID_TRANSITION' });
      });

      it('asks approval of an api task only when the caller says so, and of nothing the operator adds', async () => {
        const { ws } = await start();
        expect((await ws.addTask({ title: 'library', run: 'true' })).status).toBe('ready');
        const api = await ws.addTask({ title: 'api', run: 'true', source: 'api' }, undefined, {
          needsApproval: true,
        });
        expect(api).toMatchObject({ status: 'backlog', approval: { status: 'pending' } });
        const cli = await ws.addTask({ title: 'typed', run: 'true', source: 'cli' });
        expect(cli.approval).toBeUndefined();
        await expect(ws.approve(cli.id)).rejects.toMatchObject({ code: 'E_INVALID_TRANSITION' });
      });

      it('lets a source whose policy is auto run at once, recording the policy as approver', async () => {
        const { ws } = await start({ approval: { scout: 'auto' } });
        const auto = await ws.addTask({ title: 'trusted feed', run: 'true', source: 'scout' });
        expect(auto).toMatchObject({ status: 'ready', approval: { status: 'approved', by: 'policy' } });
        const hook = await ws.addTask({ title: 'a hook', run: 'true', source: 'webhook' });
        expect(hook.status).toBe('backlog');
      });

      it('never runs an unapproved task whose dependency completes, nor one retried after a cancel', async () => {
        const { ws } = await start();
        const first = await ws.addTask({ title: 'first', run: 'true' });
        const outside = await ws.addTask({
          title: 'after',
          run: 'true',
          source: 'discord',
          dependsOn: [first.id],
        });
        await ws.claim('agent-2');
        await ws.complete(first.id, { agent: 'agent-2' });
        expect(ws.getTask(outside.id).status).toBe('backlog');
        await ws.cancel(outside.id);
        expect((await ws.retry(outside.id)).status).toBe('backlog');
        await expect(ws.move(outside.id, 'ready')).rejects.toMatchObject({ code: 'E_INVALID_TRANSITION' });
      });

      it('makes one task per dedupe key, also once the first is done, archived and the workspace reopened', async () => {
        const { home, ws } = await start({ keepCompleted: 1, approval: { webhook: 'auto' } });
        const input = { title: 'issue 7', run: 'true', source: 'webhook' as const, dedupeKey: 'gh:o/r#7' };
        const first = await ws.addTaskOnce(input);
        expect(first.created).toBe(true);
        const again = await ws.addTaskOnce({ ...input, title: 'issue 7, edited' });
        expect(again).toEqual({ id: first.task.id, created: false, task: first.task });

        await ws.claim('agent-2');
        await ws.complete(first.task.id, { agent: 'agent-2' });
        // Enough other finished tasks to roll the first one into the archive.
        for (let i = 0; i < 14; i += 1) {
          const t = await ws.addTask({ title: `filler ${i}`, run: 'true' });
          await ws.claim('agent-2', { taskId: t.id });
          await ws.complete(t.id, { agent: 'agent-2' });
        }
        ws.refresh();
        expect(ws.view.task(first.task.id)).toBeUndefined();
        await ws.close();
        open.splice(open.indexOf(ws), 1);

        const reopened = await backend.open(home);
        open.push(reopened);
        expect(reopened.view.task(first.task.id)).toBeUndefined();
        const after = await reopened.addTaskOnce(input);
        expect(after.created).toBe(false);
        expect(after.task).toMatchObject({ id: first.task.id, status: 'done', dedupeKey: 'gh:o/r#7' });
        expect(reopened.listTasks().filter((t) => t.dedupeKey === 'gh:o/r#7')).toEqual([]);
        await expect(reopened.importTasks([{ ...input }])).rejects.toMatchObject({ code: 'E_CONFLICT' });
      });
    },
  );
