/**
 * What every state backend must do, whichever it is: the task lifecycle, leases, dependencies,
 * several real processes claiming from one board, a process killed mid-transaction, the history of
 * changes and the wake-up when another process changes the state. Written against the workspace
 * API and `StateBackend` only (docs/decisions/state-backend.md), and run for every backend in
 * tests/helpers/backends.ts. Processes use the built library: build first.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { planAgentUpdate } from '../../../src/orchestrator/plans.js';
import { parseTaskInput, planAdd } from '../../../src/task-input.js';
import { Workspace } from '../../../src/workspace.js';
import type { BatchItem, Outcome } from '../../../state/backend.js';
import {
  acksAtLeast,
  BACKENDS,
  boardProblems,
  claimProblems,
  readAcks,
  startWorker,
  statuses,
} from '../../helpers/backends.js';
import { describePg } from '../../helpers/pg.js';
import { tempDir } from '../../helpers/workspace.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `done()` holds, looking every 50 ms for at most `ms`; returns whether it held. */
async function eventually(done: () => boolean, ms = 15_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (done()) return true;
  return done();
}

describe('the invariant checks catch a misbehaving backend', () => {
  it('flags a double claim, a lost task and a claim of nothing added', () => {
    expect(claimProblems(['T-1', 'T-2'], ['T-1', 'T-2'])).toEqual([]);
    expect(claimProblems(['T-1', 'T-2'], ['T-1', 'T-1', 'T-2'])).toEqual(['T-1 was claimed 2 times']);
    expect(claimProblems(['T-1', 'T-2'], ['T-1'])).toEqual(['T-2 was never claimed']);
    expect(claimProblems(['T-1'], ['T-1', 'T-9'])).toEqual(['T-9 was claimed but never added']);
  });

  it('flags a task in two stores, in the wrong store, or working without a lease', () => {
    const task = (id: string, status: string, extra = {}) =>
      ({ id, status, lease: null, agent: null, dependsOn: [], ...extra }) as never;
    const stores: Record<string, never[]> = {
      backlog: [],
      ready: [task('T-1', 'ready'), task('T-2', 'working')],
      working: [task('T-1', 'working', { lease: { owner: 'a' }, agent: 'a' }), task('T-3', 'working')],
      completed: [],
    };
    const view = {
      inStore: (s: string) => stores[s] ?? [],
      tasks: () => Object.values(stores).flat(),
    };
    expect(boardProblems(view as never)).toEqual([
      'T-2 (working) is in ready',
      'T-2 is working with no lease or agent',
      'T-1 is in ready and in working',
      'T-3 is working with no lease or agent',
    ]);
  });
});

for (const backend of BACKENDS)
  (backend.needs === 'postgres' ? describePg : describe)(`the ${backend.name} backend`, () => {
    let tmp: ReturnType<typeof tempDir>;
    let home: string;
    const open: Workspace[] = [];
    const openWs = async (actor?: string) => {
      const ws = await backend.open(home, actor ? { actor } : {});
      open.push(ws);
      return ws;
    };

    beforeEach(async () => {
      tmp = tempDir(`dreamos-conformance-${backend.name}-`);
      home = await backend.init(tmp.dir);
    });
    afterEach(async () => {
      for (const ws of open.splice(0)) await ws.close();
      tmp.cleanup();
      await backend.cleanup?.();
    });

    describe('lifecycle', () => {
      it('moves a task through its stages, refusing what its stage does not allow', async () => {
        const ws = await openWs();
        const held = await ws.addTask({ title: 'held', hold: true });
        expect(held.status).toBe('backlog');
        expect((await ws.promote(held.id)).status).toBe('ready');
        const claimed = await ws.claim('agent-1');
        expect(claimed).toMatchObject({ id: held.id, status: 'working', agent: 'agent-1', attempts: 1 });
        expect(claimed?.lease?.owner).toBe('agent-1');
        await expect(ws.complete(held.id, { agent: 'agent-2' })).rejects.toMatchObject({
          code: 'E_CONFLICT',
        });
        const done = await ws.complete(held.id, { agent: 'agent-1', summary: 'ok' });
        expect(done).toMatchObject({ status: 'done', lease: null, result: { ok: true, summary: 'ok' } });
        await expect(ws.complete(held.id, { agent: 'agent-1' })).rejects.toMatchObject({
          code: 'E_INVALID_TRANSITION',
        });

        const flaky = await ws.addTask({ title: 'flaky', maxAttempts: 2 });
        await ws.claim('agent-1', { taskId: flaky.id });
        const waiting = await ws.fail(flaky.id, { agent: 'agent-1', reason: 'first' });
        expect(waiting.status).toBe('ready');
        expect(waiting.notBefore).not.toBeNull();
        await expect(ws.claim('agent-1', { taskId: flaky.id })).rejects.toMatchObject({ code: 'E_CONFLICT' });
        expect((await ws.retry(flaky.id)).notBefore).toBeNull();
        await ws.claim('agent-2', { taskId: flaky.id });
        expect(await ws.fail(flaky.id, { agent: 'agent-2', reason: 'second', final: true })).toMatchObject({
          status: 'failed',
          lease: null,
        });
        const dropped = await ws.addTask({ title: 'dropped' });
        expect((await ws.cancel(dropped.id, 'not needed')).status).toBe('cancelled');

        // Another process (a second backend on the same state) sees every change, durably.
        const other = await openWs();
        expect(statuses(other)).toEqual(
          new Map([
            [held.id, 'done'],
            [flaky.id, 'failed'],
            [dropped.id, 'cancelled'],
          ]),
        );
        expect(boardProblems(other.view)).toEqual([]);
      });

      it('records a change whole or not at all, and a batch plan by plan', async () => {
        const ws = await openWs();
        const before = ws.view.seq;
        await expect(
          ws.db.transact(() => {
            throw new Error('refused while planning');
          }),
        ).rejects.toThrow('refused while planning');
        expect(ws.view.seq).toBe(before);

        const add = (title: string): BatchItem['plan'] => {
          const input = parseTaskInput({ title });
          return (view, now) =>
            planAdd({ view, now, by: 'operator', policies: ws.config.policies }, [input], new Set());
        };
        const outcomes: Outcome<unknown>[] = [];
        const items: BatchItem[] = [
          add('first'),
          () => {
            throw new Error('this one fails alone');
          },
          add('third'),
        ].map((plan, i) => ({ plan, settle: (o) => (outcomes[i] = o) }));
        await ws.db.transactBatch(() => items);
        expect(outcomes.map((o) => o.ok)).toEqual([true, false, true]);
        ws.refresh();
        expect([...ws.view.tasks()].map((t) => t.title).sort()).toEqual(['first', 'third']);
        expect(boardProblems(ws.view)).toEqual([]);
      });

      it('plans each change of a batch on the state the ones before it leave', async () => {
        const ws = await openWs();
        const before = ws.view.seq;
        const [a, b] = await ws.applyTogether(
          { plan: (ctx) => planAgentUpdate(ctx, 'agent-1', { progress: 0.25 }) },
          { plan: (ctx) => planAgentUpdate(ctx, 'agent-1', { failures: 2 }) },
        );
        expect(a.progress).toBe(0.25);
        expect(b).toMatchObject({ progress: 0.25, failures: 2 });
        expect(ws.view.seq).toBe(before + 2);
        const refused = ws.applyTogether(
          {
            plan: () => {
              throw new Error('refused plan');
            },
          },
          { plan: (ctx) => planAgentUpdate(ctx, 'agent-1', { failures: 3 }) },
        );
        await expect(refused).rejects.toThrow('refused plan');
        expect(ws.view.agentState('agent-1')).toMatchObject({ progress: 0.25, failures: 3 });
      });
    });

    describe('leases', () => {
      it('renews only for its holder; an expired lease requeues the task and fences its old holder', async () => {
        const ws = await openWs();
        const task = await ws.addTask({ title: 'leased' });
        const claimed = (await ws.claim('agent-1'))!;
        const renewed = await ws.renew(task.id, 'agent-1');
        expect(Date.parse(renewed.lease!.expiresAt)).toBeGreaterThanOrEqual(
          Date.parse(claimed.lease!.expiresAt),
        );
        await expect(ws.renew(task.id, 'agent-2')).rejects.toMatchObject({ code: 'E_CONFLICT' });
        expect(await ws.sweep()).toEqual([]);
        await ws.close();
        open.pop();

        // A short lease, left to run out (the sweep judges it by the backend's clock).
        const config = JSON.parse(fs.readFileSync(path.join(home, 'config.json'), 'utf8'));
        config.policies.leaseSeconds = 0.2;
        fs.writeFileSync(path.join(home, 'config.json'), JSON.stringify(config));
        const short = await openWs();
        const late = await short.addTask({ title: 'short lease' });
        const held = (await short.claim('agent-1', { taskId: late.id }))!;
        while (Date.now() <= Date.parse(held.lease!.expiresAt)) await sleep(50);
        const expired = await short.sweep();
        expect(expired.map((t) => t.id)).toEqual([late.id]);
        expect(short.getTask(late.id)).toMatchObject({ status: 'ready', lease: null, stalls: 1 });
        await expect(short.complete(late.id, { agent: 'agent-1' })).rejects.toMatchObject({
          code: expect.stringMatching(/^E_(CONFLICT|INVALID_TRANSITION)$/),
        });
        expect(await short.claim('agent-2', { taskId: late.id })).toMatchObject({
          agent: 'agent-2',
          attempts: 2,
        });
        expect(boardProblems(short.view)).toEqual([]);
      });

      it('refuses a report from a lease that ran out or was given again, and changes nothing', async () => {
        const config = JSON.parse(fs.readFileSync(path.join(home, 'config.json'), 'utf8'));
        config.policies.leaseSeconds = 0.2;
        fs.writeFileSync(path.join(home, 'config.json'), JSON.stringify(config));
        const ws = await openWs();
        const task = await ws.addTask({ title: 'fenced' });
        const first = (await ws.claim('agent-1', { taskId: task.id }))!;
        const token = first.lease!.token!;
        while (Date.now() <= Date.parse(first.lease!.expiresAt)) await sleep(50);
        // Run out but not yet swept: still working, and still refused.
        await expect(ws.complete(task.id, { agent: 'agent-1', leaseToken: token })).rejects.toMatchObject({
          code: 'E_CONFLICT',
        });
        await expect(ws.renew(task.id, 'agent-1', token)).rejects.toMatchObject({ code: 'E_CONFLICT' });
        expect(ws.getTask(task.id)).toMatchObject({ status: 'working', lease: { token } });
        // Given again to the same agent: the old attempt's token is refused, the new one is not.
        await ws.sweep();
        const second = (await ws.claim('agent-1', { taskId: task.id }))!;
        expect(second.lease!.token).toBeGreaterThan(token);
        await expect(ws.complete(task.id, { agent: 'agent-1', leaseToken: token })).rejects.toMatchObject({
          code: 'E_CONFLICT',
        });
        expect(ws.getTask(task.id)).toMatchObject({ status: 'working', attempts: 2 });
        expect(
          await ws.complete(task.id, { agent: 'agent-1', leaseToken: second.lease!.token! }),
        ).toMatchObject({
          status: 'done',
        });
      });
    });

    describe('dependencies', () => {
      it('holds a task until what it depends on is done', async () => {
        const ws = await openWs();
        const first = await ws.addTask({ title: 'first' });
        const second = await ws.addTask({ title: 'second', dependsOn: [first.id] });
        expect(second.status).toBe('backlog');
        expect((await ws.claim('agent-1'))?.id).toBe(first.id);
        expect(await ws.claim('agent-2')).toBeNull();
        await ws.complete(first.id, { agent: 'agent-1' });
        expect(ws.getTask(second.id).status).toBe('ready');
        expect((await ws.claim('agent-2'))?.id).toBe(second.id);
        expect(boardProblems(ws.view)).toEqual([]);
      });

      it('refuses a cycle, in an edit or an import, and records nothing of it', async () => {
        const ws = await openWs();
        const a = await ws.addTask({ title: 'a', hold: true });
        const b = await ws.addTask({ title: 'b', dependsOn: [a.id] });
        const seq = ws.view.seq;
        await expect(ws.edit(a.id, { dependsOn: [b.id] })).rejects.toMatchObject({ code: 'E_CYCLE' });
        await expect(ws.edit(a.id, { dependsOn: [a.id] })).rejects.toMatchObject({ code: 'E_CYCLE' });
        await expect(
          ws.importTasks([
            { title: 'x', ref: 'x', dependsOn: ['y'] },
            { title: 'y', ref: 'y', dependsOn: ['x'] },
          ]),
        ).rejects.toMatchObject({ code: 'E_CYCLE' });
        ws.refresh();
        expect(ws.view.seq).toBe(seq);
        expect(ws.getTask(a.id).dependsOn).toEqual([]);
        expect([...ws.view.tasks()]).toHaveLength(2);
      });
    });

    describe('history', () => {
      it('records a bulk change as one entry, refusing the tasks that cannot take it', async () => {
        const ws = await openWs();
        const a = await ws.addTask({ title: 'a' });
        const b = await ws.addTask({ title: 'b' });
        await ws.cancel(a.id);
        await ws.cancel(b.id);
        const ready = await ws.addTask({ title: 'c' });
        const before = ws.view.seq;
        const outcome = await ws.bulk([a.id, b.id, ready.id], { kind: 'retry' });
        expect(outcome.changed.map((t) => t.status)).toEqual(['ready', 'ready']);
        expect(outcome.refused.map((r) => r.id)).toEqual([ready.id]);
        const { entries } = await ws.history.tail(5);
        const after = entries.filter((e) => e.seq > before);
        expect(after.map((e) => [e.op, e.tasks?.length])).toEqual([['retry', 2]]);
        expect(ws.view.seq).toBe(before + 1);
      });

      it('lists every change in order, and a follower sees the changes made after its mark', async () => {
        const ws = await openWs();
        const a = await ws.addTask({ title: 'a' });
        await ws.claim('agent-1', { taskId: a.id });
        await ws.complete(a.id, { agent: 'agent-1' });
        const seqs: number[] = [];
        const touched: string[] = [];
        await ws.history.forEach((e) => {
          seqs.push(e.seq);
          touched.push(...(e.tasks ?? []).map((p) => `${p.task.id}:${p.task.status}`));
        });
        expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
        expect(new Set(seqs).size).toBe(seqs.length);
        expect(seqs.at(-1)).toBe(ws.view.seq);
        expect(touched.filter((t) => t.startsWith(`${a.id}:`))).toEqual([
          `${a.id}:ready`,
          `${a.id}:working`,
          `${a.id}:done`,
        ]);
        // What `dreamos log` reads, without opening the state, is the same history.
        const unopened: number[] = [];
        await Workspace.history({ home }).forEach((e) => {
          unopened.push(e.seq);
        });
        expect(unopened).toEqual(seqs);

        const { entries, mark } = await ws.history.tail(2);
        expect(entries.map((e) => e.seq)).toEqual(seqs.slice(-2));
        const follower = ws.history.follow(mark);
        expect(await follower.readNew()).toEqual([]);
        const other = await openWs('someone-else');
        const b = await other.addTask({ title: 'b' });
        await other.cancel(b.id);
        const fresh = await follower.readNew();
        expect(fresh.map((e) => e.by)).toEqual(['someone-else', 'someone-else']);
        expect(fresh.map((e) => e.seq)).toEqual([other.view.seq - 1, other.view.seq]);
        expect(await follower.readNew()).toEqual([]);
        expect(await ws.history.follow(follower.mark).readNew()).toEqual([]);
      });

      it('wakes a watcher when another process changes the state', async () => {
        const ws = await openWs();
        const task = await ws.addTask({ title: 'done elsewhere' });
        let woken = false;
        const watching = ws.db.watch(() => {
          woken = true;
        });
        try {
          const worker = startWorker({
            home,
            backend: backend.name,
            agent: 'agent-1',
            mode: 'drain',
            acks: path.join(tmp.dir, 'acks.jsonl'),
          });
          expect((await worker.done).code).toBe(0);
          // A wake-up may come early: the change counts only once a wake-up shows it.
          const seen = await eventually(() => {
            if (!woken) return false;
            woken = false;
            ws.refresh();
            return ws.getTask(task.id).status === 'done';
          });
          expect(seen).toBe(true);
        } finally {
          watching.close();
        }
      });
    });

    describe('several processes', () => {
      it('has every task of one board claimed exactly once by four racing processes', async () => {
        const seed = await openWs();
        const added = await seed.importTasks(Array.from({ length: 48 }, (_, i) => ({ title: `job ${i}` })));
        await seed.close();
        open.pop();
        const files = [1, 2, 3, 4].map((n) => path.join(tmp.dir, `acks-${n}.jsonl`));
        const workers = files.map((acks, i) =>
          startWorker({ home, backend: backend.name, agent: `agent-${i + 1}`, mode: 'drain', acks }),
        );
        const exits = await Promise.all(workers.map((w) => w.done));
        const acks = readAcks(files);
        const ids = added.map((t) => t.id);
        expect(
          claimProblems(
            ids,
            acks.filter((a) => a.op === 'claimed').map((a) => a.id),
          ),
        ).toEqual([]);
        expect(exits.map((e) => [e.code, e.stderr])).toEqual(exits.map(() => [0, '']));
        const ws = await openWs();
        expect(statuses(ws)).toEqual(new Map(ids.map((id) => [id, 'done'])));
        for (const task of ws.view.tasks()) expect(task.attempts).toBe(1);
        expect(boardProblems(ws.view)).toEqual([]);
      });

      it('loses and duplicates nothing when processes are killed mid-transaction', async () => {
        const everyFile: string[] = [];
        for (let round = 0; round < 3; round++) {
          const files = [1, 2].map((n) => path.join(tmp.dir, `churn-${round}-${n}.jsonl`));
          everyFile.push(...files);
          const workers = files.map((acks, i) =>
            startWorker({ home, backend: backend.name, agent: `agent-${i + 1}`, mode: 'churn', acks }),
          );
          await Promise.all(
            workers.map(async (worker, i) => {
              await acksAtLeast(files[i]!, 6 + 5 * i, worker);
              worker.child.kill('SIGKILL');
              const exit = await worker.done;
              expect(exit.signal, exit.stderr).toBe('SIGKILL');
            }),
          );

          const ws = await openWs();
          ws.refresh();
          expect(boardProblems(ws.view)).toEqual([]);
          const acks = readAcks(files);
          const tasks = new Map([...ws.view.tasks()].map((t) => [t.id, t]));
          for (const a of acks.filter((x) => x.op === 'added')) expect(tasks.get(a.id)?.title).toBe(a.title);
          for (const a of acks.filter((x) => x.op === 'claimed'))
            expect(['working', 'done']).toContain(tasks.get(a.id)?.status);
          for (const a of acks.filter((x) => x.op === 'done')) expect(tasks.get(a.id)?.status).toBe('done');
          // Each add made once: no title twice, and at most one unacknowledged add per killed process.
          const titles = [...tasks.values()].map((t) => t.title);
          expect(new Set(titles).size).toBe(titles.length);
          const churned = titles.filter((t) => t.startsWith('agent-')).length;
          const acknowledged = readAcks(everyFile).filter((a) => a.op === 'added').length;
          expect(churned).toBeGreaterThanOrEqual(acknowledged);
          expect(churned).toBeLessThanOrEqual(acknowledged + everyFile.length);
          // The state still takes changes: whatever the killed processes held is let go.
          const after = await ws.addTask({ title: `after round ${round}` });
          expect(ws.getTask(after.id).status).toBe('ready');
          await ws.cancel(after.id);
        }
      });
    });
  });
