/**
 * Events from the journal as it is written (src/notify/journal-events.ts): each new entry as its
 * event, in order, and the attention list told again whenever it changes.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { DreamEvent } from '../../../../src/events.js';
import { initWorkspace, type Workspace } from '../../../../src/index.js';
import { journalEvents } from '../../../../src/notify/journal-events.js';
import { tempDir } from '../../../helpers/workspace.js';

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

async function until(check: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 10_000; !check(); ) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

it('tells new entries as events, and the attention list when it changes', async () => {
  await ws.addTask({ title: 'before the start', role: 'agent-1' });
  const events = await journalEvents(ws);
  const seen: DreamEvent[] = [];
  events.subscribe((e) => seen.push(e));
  try {
    const task = await ws.addTask({ title: 'nobody can', capabilities: ['quantum-computer'] });
    await until(() => seen.some((e) => e.type === 'attention.changed'));
    // Nothing from before the start: the first event is the first new entry's.
    expect(seen[0]).toMatchObject({ type: 'task.created', tasks: [{ id: task.id, title: 'nobody can' }] });
    const told = seen.find((e) => e.type === 'attention.changed')!;
    expect(told.attention).toContainEqual(
      expect.objectContaining({ key: `task:${task.id}`, reason: 'unassignable', task: task.id }),
    );
    expect(seen.some((e) => e.tasks?.some((t) => t.title === 'before the start'))).toBe(false);

    // A change that leaves the list as it was tells no new list.
    const count = seen.filter((e) => e.type === 'attention.changed').length;
    await ws.edit(task.id, { title: 'still nobody' });
    await until(() => seen.some((e) => e.type === 'task.edited'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen.filter((e) => e.type === 'attention.changed')).toHaveLength(count);
  } finally {
    events.close();
  }
});
