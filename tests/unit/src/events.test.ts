/**
 * Events made from journal entries (src/events.ts): one per entry, typed by its operation, with
 * the entry's sequence number as its id, and short forms of what it changed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attentionEvent, EVENT_TYPES, eventFilter, eventOf, tasksOf } from '../../../src/events.js';
import { initWorkspace, type Workspace } from '../../../src/index.js';
import type { JournalEntry } from '../../../state/schemas.js';
import { ROOT, tempDir } from '../../helpers/workspace.js';

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

async function entries(): Promise<JournalEntry[]> {
  const all: JournalEntry[] = [];
  await ws.history.forEach((e) => {
    all.push(e);
  });
  return all;
}

describe('eventOf', () => {
  it('makes one typed event per entry, with its sequence number as id', async () => {
    const task = await ws.addTask({ title: 'Write the parser', prompt: 'x'.repeat(5000), role: 'agent-1' });
    await ws.claim('agent-1', { taskId: task.id });
    await ws.complete(task.id, { summary: 's'.repeat(2000) });
    const events = (await entries()).map(eventOf);
    expect(events.map((e) => e.type)).toEqual([
      'workspace.created',
      'task.created',
      'task.claimed',
      'task.done',
    ]);
    expect(events.map((e) => e.id)).toEqual(events.map((e) => String(e.seq)));
    const done = events.at(-1)!;
    expect(done.tasks).toEqual([expect.objectContaining({ id: task.id, status: 'done', agent: 'agent-1' })]);
    expect(done.tasks![0]!.result!.summary!.length).toBeLessThanOrEqual(500);
    expect(JSON.stringify(events)).not.toContain('x'.repeat(100));
    expect([...tasksOf(done)]).toEqual([task.id]);
  });

  it('types drift operations as alert.raised and unknown ones as workspace.changed', () => {
    const base = {
      schemaVersion: 1,
      seq: 9,
      at: new Date().toISOString(),
      by: 'x',
      counters: {},
      crc: '00000000',
    };
    expect(eventOf({ ...base, op: 'drift-stall' } as unknown as JournalEntry).type).toBe('alert.raised');
    expect(eventOf({ ...base, op: 'something-new' } as unknown as JournalEntry).type).toBe(
      'workspace.changed',
    );
  });
});

describe('eventFilter', () => {
  it('matches types, kinds and everything, and refuses an unknown word', () => {
    const f = eventFilter(['task.done', 'alert']);
    expect(f('task.done')).toBe(true);
    expect(f('task.claimed')).toBe(false);
    expect(f('alert.raised')).toBe(true);
    expect(eventFilter([])('agent.heartbeat')).toBe(true);
    expect(eventFilter(['task.*'])('task.failed')).toBe(true);
    expect(() => eventFilter(['task.dun'])).toThrow(/unknown event type "task.dun"/);
    expect(EVENT_TYPES).toContain('attention.changed');
  });
});

describe('attentionEvent', () => {
  it('carries the list as of an entry, with that entry as its id, and the tasks it names', () => {
    const item = {
      key: 'task:T-00007',
      reason: 'failed' as const,
      severity: 'critical' as const,
      subject: 'T-00007',
      text: 'it broke',
      action: 'retry it',
      at: '2026-12-01T00:00:00.000Z',
      task: 'T-00007',
      alerts: [],
      also: [],
    };
    const event = attentionEvent([item], { seq: 42, by: 'agent-2' }, new Date('2026-12-01T00:00:01.000Z'));
    expect(event).toEqual({
      id: '42',
      type: 'attention.changed',
      seq: 42,
      at: '2026-12-01T00:00:01.000Z',
      by: 'agent-2',
      op: 'attention',
      attention: [
        {
          key: 'task:T-00007',
          reason: 'failed',
          severity: 'critical',
          subject: 'T-00007',
          text: 'it broke',
          action: 'retry it',
          alerts: [],
          task: 'T-00007',
        },
      ],
    });
    expect([...tasksOf(event)]).toEqual(['T-00007']);
    expect(attentionEvent([], { seq: 43, by: 'operator' }, new Date()).attention).toEqual([]);
  });
});

describe('docs/events.md', () => {
  it('names every event type in its table', () => {
    const doc = fs.readFileSync(path.join(ROOT, 'docs', 'events.md'), 'utf8');
    const listed = [...doc.matchAll(/^\| `([a-z]+\.[a-z-]+)` \|/gm)].map((m) => m[1]);
    expect([...listed].sort()).toEqual([...EVENT_TYPES]);
  });
});
