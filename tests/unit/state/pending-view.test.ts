/**
 * PendingView (state/state-index.ts): changes planned one on another before any is recorded (a
 * shared writer's batch on PostgreSQL) see the state with the earlier ones on top. What it shows must
 * be what StateIndex.apply would leave, order included: a claim planned after another must not see
 * the first one's task as ready, and the next best task must be the one the applied state would give.
 */
import { describe, expect, it } from 'vitest';
import { STORES } from '../../../state/paths.js';
import { type JournalEntry, PRIORITIES, type Priority, STATUSES, type Task } from '../../../state/schemas.js';
import { PendingView, pendable, StateIndex, type StateView } from '../../../state/state-index.js';
import { makeTask } from '../../helpers/agents.js';

/** A small deterministic generator (the same cases on every run). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const idOf = (n: number) => `T-${String(n).padStart(5, '0')}`;

function entryOf(seq: number, tasks: Task[]): JournalEntry {
  return {
    schemaVersion: 1,
    seq,
    at: new Date(Date.UTC(2026, 11, 8, 0, 0, seq)).toISOString(),
    by: 'operator',
    op: 'test',
    tasks: tasks.map((task) => ({ task: { ...task, rev: seq } })),
    counters: { task: 100, alert: 0, mail: 0, checkpoint: 0 },
    crc: '00000000',
  } as JournalEntry;
}

/** Everything a planner can read of the tasks, in the order the view gives it. */
function shown(view: StateView) {
  const ids = (tasks: Iterable<Task>) => [...tasks].map((t) => `${t.id}@${t.rev}`);
  return {
    seq: view.seq,
    tasks: ids(view.tasks()),
    stores: STORES.map((store) => [store, ids(view.inStore(store)), view.storeSize(store)]),
    ready: PRIORITIES.map((priority) => [priority, ids(view.readyByPriority(priority))]),
    byId: Array.from({ length: 40 }, (_, i) => view.task(idOf(i + 1))?.rev ?? null),
    dedupe: [...Array.from({ length: 40 }, (_, i) => `key-${i + 1}`), 'key-shared'].map(
      (key) => view.dedupe(key) ?? null,
    ),
  };
}

describe('a pending view of task changes', () => {
  it('shows what applying the entries would, in the same order, for many random batches', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const next = random(seed);
      const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
      const statusOf = () => pick(STATUSES);
      const priorityOf = (): Priority => pick(PRIORITIES);
      const taskOf = (n: number): Task =>
        makeTask({
          id: idOf(n),
          status: statusOf(),
          priority: priorityOf(),
          // A key of its own, or one that other tasks carry too: a key stays its first task's.
          ...(next() < 0.3 ? { dedupeKey: next() < 0.5 ? `key-${n}` : 'key-shared' } : {}),
        });

      // The recorded state: 25 tasks in a few entries.
      const base = new StateIndex();
      const applied = new StateIndex();
      let seq = 0;
      for (let n = 1; n <= 25; n += 5) {
        const entry = entryOf(
          ++seq,
          [1, 2, 3, 4, 5].map((k) => taskOf(n + k - 1)),
        );
        base.apply(entry);
        applied.apply(entry);
      }

      // A batch of 1 to 5 changes, each of 1 to 3 tasks: existing ones moved, new ones added.
      const pending = new PendingView(base);
      const batch = 1 + Math.floor(next() * 5);
      for (let b = 0; b < batch; b++) {
        const count = 1 + Math.floor(next() * 3);
        const tasks = Array.from({ length: count }, () => {
          const n = 1 + Math.floor(next() * 32);
          const current = pending.view.task(idOf(n));
          return current ? { ...current, status: statusOf(), priority: priorityOf() } : taskOf(n);
        });
        const entry = entryOf(++seq, tasks);
        expect(pendable(entry)).toBe(true);
        pending.add(entry);
        applied.apply(entry);
        expect(shown(pending.view), `seed ${seed}, change ${b + 1}`).toEqual(shown(applied));
      }
      // The recorded state itself is untouched.
      expect(base.seq).toBe(5);
    }
  });

  it('is not made for archives, mail or configuration, which it cannot show', () => {
    expect(pendable({ archived: [idOf(1)] })).toBe(false);
    expect(pendable({ mail: [{}] })).toBe(false);
    expect(pendable({ config: {} })).toBe(false);
    const pending = new PendingView(new StateIndex());
    expect(() => pending.add({ ...entryOf(1, []), archived: [idOf(1)] })).toThrow(/cannot be pending/);
  });
});
