import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initWorkspace, type Workspace } from '../../../src/index.js';
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

async function failed(title: string) {
  const t = await ws.addTask({ title, run: 'false', maxAttempts: 1 });
  await ws.claim('agent-2', { taskId: t.id });
  return ws.fail(t.id, { agent: 'agent-2', reason: 'exit 1', final: true });
}

const entriesAfter = async (seq: number) => {
  const { entries } = await ws.history.tail(50);
  return entries.filter((e) => e.seq > seq);
};

describe('bulk changes', () => {
  it('retries many failed tasks in one journal entry and reports those that cannot be retried', async () => {
    const a = await failed('a');
    const b = await failed('b');
    const ready = await ws.addTask({ title: 'c', run: 'true' });
    const before = ws.view.seq;
    const outcome = await ws.bulk([a.id, b.id, ready.id], { kind: 'retry' });
    expect(outcome.changed.map((t) => [t.id, t.status])).toEqual([
      [a.id, 'ready'],
      [b.id, 'ready'],
    ]);
    expect(outcome.refused).toEqual([
      { id: ready.id, reason: expect.stringContaining(`${ready.id} is ready`) },
    ]);
    const entries = await entriesAfter(before);
    expect(entries).toHaveLength(1);
    expect(entries[0]!.op).toBe('retry');
    expect(entries[0]!.tasks?.map((p) => p.task.id).sort()).toEqual([a.id, b.id].sort());
    expect(ws.getTask(a.id).attempts).toBe(0);
    expect(ws.getTask(ready.id).history).toEqual(ready.history);
  });

  it('cancels a task and a dependent of another cancelled one, each planned on what the others left', async () => {
    const a = await ws.addTask({ title: 'a', run: 'true' });
    const b = await ws.addTask({ title: 'b', run: 'true', dependsOn: [a.id] });
    const before = ws.view.seq;
    const outcome = await ws.bulk([a.id, b.id, a.id], { kind: 'cancel' });
    expect(outcome.changed.map((t) => t.status)).toEqual(['cancelled', 'cancelled']);
    expect(outcome.refused).toEqual([]);
    expect(await entriesAfter(before)).toHaveLength(1);
  });

  it('sets a priority, refusing the tasks that have it already, and records nothing when none can', async () => {
    const a = await ws.addTask({ title: 'a', run: 'true', priority: 'high' });
    const b = await ws.addTask({ title: 'b', run: 'true', priority: 'low' });
    const outcome = await ws.bulk([a.id, b.id], { kind: 'priority', to: 'high' });
    expect(outcome.changed.map((t) => [t.id, t.priority])).toEqual([[b.id, 'high']]);
    expect(outcome.refused.map((r) => r.id)).toEqual([a.id]);
    const before = ws.view.seq;
    const none = await ws.bulk([a.id, b.id], { kind: 'promote' });
    expect(none.changed).toEqual([]);
    expect(none.refused).toHaveLength(2);
    expect(ws.view.seq).toBe(before);
  });

  it('moves tasks to a stage and refuses bad input before anything is planned', async () => {
    const a = await ws.addTask({ title: 'a', run: 'true' });
    const outcome = await ws.bulk([a.id], { kind: 'move', to: 'backlog' });
    expect(outcome.changed[0]?.status).toBe('backlog');
    await expect(async () => ws.bulk([], { kind: 'retry' })).rejects.toThrow('no task');
    await expect(async () => ws.bulk(['nope'], { kind: 'retry' })).rejects.toThrow();
    await expect(async () => ws.bulk([a.id], { kind: 'move', to: 'limbo' as never })).rejects.toThrow(
      'unknown stage',
    );
  });
});
