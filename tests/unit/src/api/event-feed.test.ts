/**
 * What a reader of the event stream gets (src/api/event-feed.ts): what it missed, read from the
 * history, then the hub's live events, with neither a gap nor a repeat, even when entries are
 * written while the history is being read; and an honest word when the history no longer holds
 * what it missed. On both backends.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EventFeed, type FeedItem } from '../../../../src/api/event-feed.js';
import { EventHub, type HubWorkspace } from '../../../../src/api/event-hub.js';
import { initWorkspace, type Workspace } from '../../../../src/index.js';
import type { History } from '../../../../state/backend.js';
import { describePg, type FreshSchema, freshSchema, TEST_PG_URL } from '../../../helpers/pg.js';
import { tempDir } from '../../../helpers/workspace.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const undo of cleanups.splice(0).reverse()) await undo();
});

async function jsonWorkspace(): Promise<Workspace> {
  const tmp = tempDir();
  const ws = await initWorkspace({ dir: tmp.dir });
  cleanups.push(
    () => tmp.cleanup(),
    () => ws.close(),
  );
  return ws;
}

async function pgWorkspace(): Promise<Workspace> {
  const tmp = tempDir();
  const fresh: FreshSchema = await freshSchema('dreamos_events');
  const ws = await initWorkspace({
    dir: tmp.dir,
    backend: 'postgres',
    config: { state: { url: TEST_PG_URL, schema: fresh.schema } },
  });
  cleanups.push(
    () => tmp.cleanup(),
    () => fresh.drop(),
    () => ws.close(),
  );
  return ws;
}

/** The workspace as the hub sees it, with its history replaced by `history`. */
function withHistory(ws: Workspace, history: History): HubWorkspace {
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

/** A history whose first full read runs `before` first (a writer busy while a reader replays). */
function historyWithHook(inner: History, before: () => Promise<void>): History {
  let hooked = false;
  return {
    forEach: async (onEntry, options) => {
      if (!hooked) {
        hooked = true;
        await before();
      }
      return inner.forEach(onEntry, options);
    },
    tail: (limit, options) => inner.tail(limit, options),
    follow: (mark) => inner.follow(mark),
    watch: (onMaybeChanged, options) => inner.watch(onMaybeChanged, options),
  };
}

/** A history whose follower never gets entries `from`..`to`: retention deleted them first. */
function historyLosing(inner: History, from: number, to: number): History {
  return {
    forEach: (onEntry, options) => inner.forEach(onEntry, options),
    tail: (limit, options) => inner.tail(limit, options),
    follow: (mark, options) => {
      const follower = inner.follow(mark, options);
      let told = false;
      return {
        get mark() {
          return follower.mark;
        },
        async readNew() {
          const entries = await follower.readNew();
          const kept = entries.filter((e) => e.seq < from || e.seq > to);
          if (!told && kept.length < entries.length) {
            told = true;
            options?.onLost?.({ from, to });
          }
          return kept;
        },
      };
    },
    watch: (onMaybeChanged, options) => inner.watch(onMaybeChanged, options),
  };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Take items from the feed until `count` events of entries came (or it ended). */
async function take(feed: EventFeed, count: number): Promise<FeedItem[]> {
  const items: FeedItem[] = [];
  while (seqsOf(items).length < count) {
    const item = await Promise.race([
      feed.next(),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`only ${items.length} items`)), 20_000),
      ),
    ]);
    if (item === null) break;
    items.push(item);
  }
  return items;
}

const seqsOf = (items: FeedItem[]) =>
  items.flatMap((i) => (i.kind === 'event' && i.event.type !== 'attention.changed' ? [i.event.seq] : []));

async function startHub(ws: HubWorkspace): Promise<EventHub> {
  const hub = await EventHub.start(ws, { onError: (e) => cleanups.push(() => Promise.reject(e)) });
  cleanups.push(() => hub.close());
  return hub;
}

/**
 * The reader missed entries; while it replays them, more are written. It must get each entry
 * after its id exactly once, in order, then the live ones. With a small queue the live events
 * that came during the replay overflow its buffer and are read from the history instead.
 */
async function replayWhileWriting(ws: Workspace, maxQueue: number): Promise<void> {
  let hub: EventHub | null = null;
  const history = historyWithHook(ws.history, async () => {
    for (let i = 0; i < 5; i++) await ws.addTask({ title: `during the replay ${i}` });
    const last = ws.view.seq;
    await until(() => (hub?.lastSeq ?? 0) >= last, 'the hub to read the writes');
  });
  hub = await startHub(withHistory(ws, history));
  const start = hub.lastSeq;
  for (let i = 0; i < 4; i++) await ws.addTask({ title: `before ${i}` });
  await until(() => hub.lastSeq === start + 4, 'the hub to read the first writes');

  const feed = new EventFeed(hub, { after: start + 1, maxQueue });
  cleanups.push(() => feed.close());
  const replayed = await take(feed, 3 + 5);
  expect(replayed.every((i) => i.kind === 'event')).toBe(true);
  expect(seqsOf(replayed)).toEqual(Array.from({ length: 8 }, (_, i) => start + 2 + i));

  await ws.addTask({ title: 'live' });
  const live = await take(feed, 1);
  expect(seqsOf(live)).toEqual([start + 10]);
  expect(feed.end).toBe(null);
}

describe('EventFeed', () => {
  it.each([2, 1000])(
    'replays what was missed while entries are written, then goes live (queue %i)',
    async (max) => {
      await replayWhileWriting(await jsonWorkspace(), max);
    },
  );

  it('says first that entries the history no longer holds were lost, then gives what is left', async () => {
    const ws = await jsonWorkspace();
    for (let i = 0; i < 4; i++) await ws.addTask({ title: `t${i}` });
    const kept = ws.view.seq - 1;
    // The history as retention leaves it: the entries before `kept` are gone.
    const inner = ws.history;
    const retained: History = {
      ...inner,
      forEach: (onEntry, options) =>
        inner.forEach(
          (e) => {
            if (e.seq >= kept) onEntry(e);
          },
          {
            heads: {
              decode: (h) => h.seq >= kept && (options?.heads?.decode(h) ?? true),
              onHead: (h) => {
                if (h.seq >= kept) options?.heads?.onHead(h);
              },
            },
          },
        ),
      tail: (limit, options) => inner.tail(limit, options),
      follow: (mark) => inner.follow(mark),
      watch: (on, options) => inner.watch(on, options),
    };
    const hub = await startHub(withHistory(ws, retained));
    const feed = new EventFeed(hub, { after: 1 });
    cleanups.push(() => feed.close());
    const items = await take(feed, 2);
    expect(items[0]).toEqual({ kind: 'lost', after: 1, oldest: kept });
    expect(seqsOf(items)).toEqual([kept, kept + 1]);
  });

  it('tells a live reader of entries the hub itself could not read, in their place', async () => {
    const ws = await jsonWorkspace();
    const start = ws.view.seq;
    const hub = await startHub(withHistory(ws, historyLosing(ws.history, start + 2, start + 3)));
    const feed = new EventFeed(hub, { after: null });
    cleanups.push(() => feed.close());
    for (let i = 0; i < 4; i++) await ws.addTask({ title: `task ${i}` });
    const items = await take(feed, 2);
    const shown = items.flatMap((i) =>
      i.kind === 'lost'
        ? [`lost after ${i.after}, from ${i.oldest}`]
        : i.event.type === 'attention.changed'
          ? []
          : [`event ${i.event.seq}`],
    );
    expect(shown).toEqual([
      `event ${start + 1}`,
      `lost after ${start + 1}, from ${start + 4}`,
      `event ${start + 4}`,
    ]);
  });

  it('ends with overflow when its reader stops taking, and says so at once', async () => {
    const ws = await jsonWorkspace();
    const hub = await startHub(ws);
    const ends: string[] = [];
    const feed = new EventFeed(hub, { after: null, maxQueue: 2, onEnd: (end) => ends.push(end) });
    cleanups.push(() => feed.close());
    for (let i = 0; i < 4; i++) await ws.addTask({ title: `t${i}` });
    await until(() => ends.length > 0, 'the overflow');
    expect(ends).toEqual(['overflow']);
    expect(feed.end).toBe('overflow');
    expect(await feed.next()).toBe(null);
    // The hub and its other readers go on.
    const other = new EventFeed(hub, { after: null });
    cleanups.push(() => other.close());
    await ws.addTask({ title: 'after' });
    expect(seqsOf(await take(other, 1))).toEqual([ws.view.seq]);
  });

  it('ends when the hub closes', async () => {
    const ws = await jsonWorkspace();
    const hub = await startHub(ws);
    const feed = new EventFeed(hub, { after: null });
    const next = feed.next();
    hub.close();
    expect(await next).toBe(null);
    expect(feed.end).toBe('hub-closed');
  });
});

describePg('EventFeed on PostgreSQL', () => {
  it('replays what was missed while entries are written, then goes live', async () => {
    await replayWhileWriting(await pgWorkspace(), 2);
  });
});
