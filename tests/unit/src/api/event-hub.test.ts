/**
 * The event hub (src/api/event-hub.ts): it hands over the events of the entries written after it
 * started, each once and in order, and a failed read of the history only pauses it: it reads on
 * from its last entry, without a gap or a repeat.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { EventHub, type HubWorkspace } from '../../../../src/api/event-hub.js';
import type { DreamEvent } from '../../../../src/events.js';
import { initWorkspace, type Workspace } from '../../../../src/index.js';
import type { History, HistoryFollower } from '../../../../state/backend.js';
import { tempDir } from '../../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
let ws: Workspace;
const cleanups: Array<() => void> = [];

beforeEach(async () => {
  tmp = tempDir();
  ws = await initWorkspace({ dir: tmp.dir });
});
afterEach(async () => {
  for (const undo of cleanups.splice(0)) undo();
  await ws.close();
  tmp.cleanup();
});

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The workspace's history, whose followers fail their next read while `failing` is set. */
function flakyHistory(inner: History) {
  const control = { failing: false, failures: 0 };
  const history: History = {
    forEach: (onEntry, options) => inner.forEach(onEntry, options),
    tail: (limit, options) => inner.tail(limit, options),
    follow(mark): HistoryFollower {
      const follower = inner.follow(mark);
      return {
        get mark() {
          return follower.mark;
        },
        async readNew() {
          if (control.failing) {
            control.failing = false;
            control.failures += 1;
            throw new Error('the connection was lost');
          }
          return follower.readNew();
        },
      };
    },
    watch: (onMaybeChanged, options) => inner.watch(onMaybeChanged, options),
  };
  return { history, control };
}

function hubWorkspace(history: History): HubWorkspace {
  return {
    history,
    get view() {
      return ws.view;
    },
    config: ws.config,
    refresh: () => ws.refresh(),
    journalLockHolder: () => ws.journalLockHolder(),
  };
}

it('hands over the events after it started, and reads on without a gap after a failed read', async () => {
  for (let i = 0; i < 2; i++) await ws.addTask({ title: `before ${i}` });
  const { history, control } = flakyHistory(ws.history);
  const errors: unknown[] = [];
  const hub = await EventHub.start(hubWorkspace(history), { retryMs: 10, onError: (e) => errors.push(e) });
  cleanups.push(() => hub.close());
  const start = hub.lastSeq;
  expect(start).toBe(ws.view.seq);
  const seen: DreamEvent[] = [];
  hub.subscribe((event, json) => {
    expect(JSON.parse(json)).toEqual(event);
    seen.push(event);
  });
  const entries = () => seen.filter((e) => e.type !== 'attention.changed').map((e) => e.seq);

  await ws.addTask({ title: 'one' });
  await until(() => entries().length === 1, 'the first event');
  control.failing = true;
  for (let i = 0; i < 3; i++) await ws.addTask({ title: `while failing ${i}` });
  await until(() => entries().length === 4, 'the events after the failure');
  expect(control.failures).toBe(1);
  expect(errors.map((e) => (e as Error).message)).toEqual(['the connection was lost']);
  await ws.addTask({ title: 'after' });
  await until(() => entries().length === 5, 'the event after the hub resumed');
  expect(entries()).toEqual([1, 2, 3, 4, 5].map((n) => start + n));
  expect(hub.lastSeq).toBe(start + 5);
});

it('counts connected readers, and tells its subscribers when it closes', async () => {
  const hub = await EventHub.start(ws);
  const release = hub.connect();
  const other = hub.connect();
  expect(hub.clients).toBe(2);
  release();
  release();
  expect(hub.clients).toBe(1);
  other();
  expect(hub.clients).toBe(0);
  let closed = 0;
  hub.subscribe(
    () => undefined,
    () => (closed += 1),
  );
  hub.close();
  expect(closed).toBe(1);
  hub.subscribe(
    () => undefined,
    () => (closed += 1),
  );
  expect(closed).toBe(2);
});
