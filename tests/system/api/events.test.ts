/**
 * The event stream on a real socket (`GET /api/v1/events`), with the changes made by the CLI in
 * other processes: typed events with the journal's sequence number as id, reconnection with
 * `Last-Event-ID` across a restart of the server, the filters, the heartbeat, a slow reader cut
 * off while writes go on, and `attention.changed`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { EventSourceMessage } from 'eventsource-parser';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventHub } from '../../../src/api/event-hub.js';
import type { EventsOptions } from '../../../src/api/events-route.js';
import { type DreamEvent, eventOf, tasksOf } from '../../../src/events.js';
import { planHeartbeat } from '../../../src/orchestrator/plans.js';
import { openWorkspace, type Workspace } from '../../../src/workspace.js';
import type { JournalEntry } from '../../../state/schemas.js';
import { alert } from '../../helpers/drift-fixtures.js';
import { type EventServer, fetchText, readEvents, type SseReader, serveEvents } from '../../helpers/sse.js';
import { cli, cliAsync, tempDir } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
let home: string;
let ws: Workspace;
let hub: EventHub;
let server: EventServer;
const readers: SseReader[] = [];
const extra: Array<() => Promise<void> | void> = [];

async function start(options: EventsOptions = {}): Promise<void> {
  ws = await openWorkspace({ home, share: false });
  hub = await EventHub.start(ws);
  server = await serveEvents(hub, options);
}

async function stop(): Promise<void> {
  for (const r of readers.splice(0)) await r.close();
  hub.close();
  await server.close();
  await ws.close();
}

async function open(query = '', headers: Record<string, string> = {}): Promise<SseReader> {
  const reader = await readEvents(`${server.url}${query}`, headers);
  readers.push(reader);
  return reader;
}

/** Run the CLI in this workspace, expecting success; returns its JSON output. */
function run<T = unknown>(...args: string[]): T {
  const result = cli(['--json', ...args], { cwd: tmp.dir });
  expect(result.code, result.stderr).toBe(0);
  return result.json<T>();
}

const addTask = (title: string, ...more: string[]) =>
  run<{ id: string }>('task', 'add', title, '--run', 'true', ...more).id;

/** The journal's entries after `seq`, oldest first. */
async function entriesAfter(seq: number): Promise<JournalEntry[]> {
  const entries: JournalEntry[] = [];
  await ws.history.forEach((e) => {
    if (e.seq > seq) entries.push(e);
  });
  return entries;
}

const dataOf = (m: EventSourceMessage) => JSON.parse(m.data) as DreamEvent;
/** The events made from entries (attention.changed is computed, not an entry). */
const entryEvents = (r: SseReader) => r.events.filter((m) => m.event !== 'attention.changed');
const lastId = (r: SseReader) => Number(entryEvents(r).at(-1)?.id ?? Number.NaN);

beforeEach(async () => {
  tmp = tempDir('dreamos-events-');
  expect(cli(['init'], { cwd: tmp.dir }).code).toBe(0);
  home = path.join(tmp.dir, '.dreamos');
});
afterEach(async () => {
  await stop();
  for (const undo of extra.splice(0).reverse()) await undo();
  tmp.cleanup();
});

describe('GET /api/v1/events', () => {
  it('sends the change another process makes as typed events, with the sequence number as id', async () => {
    await start();
    const from = hub.lastSeq;
    const reader = await open();
    const id = addTask('typed');
    run('task', 'claim', '--agent', 'agent-2', '--task', id);
    run('task', 'complete', id, '--agent', 'agent-2', '--summary', 'all good');
    await reader.until((r) => r.events.some((m) => m.event === 'task.done'), 'task.done');

    const expected = (await entriesAfter(from)).map(eventOf);
    const got = entryEvents(reader);
    expect(got.map((m) => [m.id, m.event])).toEqual(expected.map((e) => [String(e.seq), e.type]));
    expect(got.map((m) => m.event)).toEqual(
      expect.arrayContaining(['task.created', 'task.claimed', 'task.done']),
    );
    for (const m of got) expect(dataOf(m)).toMatchObject({ id: m.id, type: m.event, seq: Number(m.id) });
    const done = dataOf(got.find((m) => m.event === 'task.done')!);
    expect(done.tasks?.[0]).toMatchObject({ id, status: 'done', agent: 'agent-2', result: { ok: true } });
    expect(hub.clients).toBe(1);
  });

  it('replays exactly what a reader missed, from its Last-Event-ID, across a restart of the server', async () => {
    await start();
    const first = await open(`?since=${hub.lastSeq}`);
    addTask('seen one');
    addTask('seen two');
    await first.until((r) => entryEvents(r).length >= 2, 'the first two events');
    const seen = lastId(first);
    await stop();

    // Changes made while nothing serves.
    const missed = addTask('missed one');
    addTask('missed two');
    run('task', 'claim', '--agent', 'agent-2', '--task', missed);

    await start();
    const again = await open('', { 'Last-Event-ID': String(seen) });
    const replayed = await entriesAfter(seen);
    await again.until((r) => entryEvents(r).length >= replayed.length, 'the replay');
    addTask('live after the replay');
    await again.until((r) => entryEvents(r).length > replayed.length, 'the live event');

    const all = await entriesAfter(seen);
    expect(entryEvents(again).map((m) => Number(m.id))).toEqual(all.map((e) => e.seq));
    expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => seen + 1 + i));
    expect(dataOf(entryEvents(again).at(-1)!).tasks?.[0]?.title).toBe('live after the replay');
    expect(again.events.some((m) => m.event === 'events-lost')).toBe(false);
  });

  it('filters by type, by kind and by task', async () => {
    await start();
    const from = hub.lastSeq;
    const one = addTask('one');
    const two = addTask('two');
    run('task', 'claim', '--agent', 'agent-2', '--task', one);
    run('task', 'complete', one, '--agent', 'agent-2');
    run('task', 'claim', '--agent', 'agent-3', '--task', two);
    run('agent', 'pause', 'agent-5');
    const events = (await entriesAfter(from)).map(eventOf);

    const cases: Array<[string, (e: DreamEvent) => boolean]> = [
      ['types=task.done,alert', (e) => e.type === 'task.done' || e.type.startsWith('alert.')],
      ['types=task', (e) => e.type.startsWith('task.')],
      [`task=${two}`, (e) => tasksOf(e).has(two)],
      [`types=task.claimed&task=${one}`, (e) => e.type === 'task.claimed' && tasksOf(e).has(one)],
    ];
    for (const [query, wanted] of cases) {
      const expected = events.filter(wanted).map((e) => [String(e.seq), e.type]);
      expect(expected.length, query).toBeGreaterThan(0);
      expect(expected.length, query).toBeLessThan(events.length);
      const reader = await open(`?since=${from}&${query}`);
      await reader.until((r) => r.events.length >= expected.length, query);
      expect(
        reader.events.map((m) => [m.id, m.event]),
        query,
      ).toEqual(expected);
    }

    // What comes after the replay is filtered as well: only the second task's completion arrives.
    const byTask = readers.at(-2)!;
    run('task', 'complete', two, '--agent', 'agent-3');
    addTask('three');
    await byTask.until((r) => r.events.some((m) => m.event === 'task.done'), 'the second task done');
    const last = (await entriesAfter(from)).map(eventOf).filter((e) => tasksOf(e).has(two));
    expect(byTask.events.map((m) => Number(m.id))).toEqual(last.map((e) => e.seq));
  });

  it('refuses an unknown filter, a malformed task id or Last-Event-ID with a 400, and opens no stream', async () => {
    await start();
    for (const [query, headers, message] of [
      ['?types=task.dun', {}, /unknown event type "task.dun"/],
      ['?types=task.done,bogus', {}, /unknown event type "bogus"/],
      ['?task=nope', {}, /not a task id/],
      ['', { 'Last-Event-ID': 'abc' }, /Last-Event-ID is a sequence number/],
      ['?since=-1', {}, /since is a sequence number/],
    ] as const) {
      const { status, text } = await fetchText(`${server.url}${query}`, headers);
      expect(status, query).toBe(400);
      expect(JSON.parse(text).detail, query).toMatch(message);
    }
    expect(hub.clients).toBe(0);
  });

  it('writes a heartbeat comment while nothing happens', async () => {
    await start({ heartbeatMs: 50 });
    const reader = await open();
    await reader.until(
      (r) => r.comments.filter((c) => c.trim() === 'heartbeat').length >= 2,
      'two heartbeats',
    );
    expect(reader.events).toEqual([]);
  });

  it('cuts off a reader that stops reading while a writer goes on, and the reader resumes from its last id', async () => {
    await start({ maxQueue: 2 });
    const from = hub.lastSeq;
    // Each import is one entry whose event carries every task: a few fill any socket's buffers.
    const file = path.join(tmp.dir, 'tasks.json');
    const tasks = Array.from({ length: 1500 }, (_, i) => ({
      title: `imported ${i} ${'x'.repeat(280)}`,
      run: 'true',
    }));
    fs.writeFileSync(file, JSON.stringify(tasks));

    const fast = await open(`?since=${from}`);
    const slow = await open(`?since=${from}`);
    slow.pause();
    expect(hub.clients).toBe(2);

    let imports = 0;
    let after = -1;
    // Bounded: the slow reader is cut well before the last import, then a few more are made.
    while (imports < 60 && (after === -1 || imports < after + 3)) {
      const result = await cliAsync(['task', 'import', file], { cwd: tmp.dir });
      expect(result.code, result.stderr).toBe(0);
      imports += 1;
      if (after === -1 && hub.clients === 1) after = imports;
    }
    expect(after, 'the slow reader was cut off').toBeGreaterThan(0);

    await fast.until((r) => entryEvents(r).length === imports, 'every import at the fast reader');
    const all = (await entriesAfter(from)).map((e) => e.seq);
    expect(entryEvents(fast).map((m) => Number(m.id))).toEqual(all);

    slow.resume();
    expect(['end', 'cut']).toContain(await slow.ended);
    const got = entryEvents(slow).map((m) => Number(m.id));
    expect(got).toEqual(all.slice(0, got.length));
    expect(got.length).toBeLessThan(all.length);

    const back = await open('', { 'Last-Event-ID': String(got.at(-1) ?? from) });
    await back.until((r) => entryEvents(r).length >= all.length - got.length, 'the rest');
    expect([...got, ...entryEvents(back).map((m) => Number(m.id))]).toEqual(all);
  }, 120_000);

  it('says attention.changed when a task fails for good or an alert is raised, not for a heartbeat', async () => {
    await start();
    const writer = await openWorkspace({ home, share: false });
    extra.push(() => writer.close());
    const reader = await open();
    const attentionEvents = () => reader.events.filter((m) => m.event === 'attention.changed').map(dataOf);

    const doomed = addTask('doomed', '--max-attempts', '1');
    run('task', 'claim', '--agent', 'agent-2', '--task', doomed);
    run('task', 'fail', doomed, '--agent', 'agent-2', '--reason', 'it broke');
    await reader.until(
      () =>
        attentionEvents().some((e) =>
          e.attention?.some((i) => i.key === `task:${doomed}` && i.reason === 'failed'),
        ),
      'the failed task on the attention list',
    );
    const failed = reader.events.find((m) => m.event === 'task.failed')!;
    const onList = attentionEvents().find((e) => e.attention?.some((i) => i.key === `task:${doomed}`))!;
    expect(onList).toMatchObject({ type: 'attention.changed', id: failed.id, seq: Number(failed.id) });
    expect(onList.attention?.find((i) => i.key === `task:${doomed}`)).toMatchObject({
      reason: 'failed',
      task: doomed,
      subject: expect.any(String),
      text: expect.any(String),
      severity: expect.any(String),
    });

    // A heartbeat changes nothing the operator must see: no attention.changed follows it.
    const before = attentionEvents().length;
    await writer.db.transact((view, now) =>
      planHeartbeat(
        { view, now, by: 'orchestrator', policies: writer.config.policies },
        new Map([['agent-3', null]]),
      ),
    );
    await reader.until((r) => r.events.some((m) => m.event === 'agent.heartbeat'), 'the heartbeat event');

    // An alert does: the next attention.changed is the alert's, with the alert entry's id.
    await writer.db.transact(() => ({
      change: {
        op: 'drift-stall',
        by: 'orchestrator',
        alerts: [alert('A-00001', { subject: 'agent-3', key: 'stall:agent-3' })],
        counters: { alert: 1 },
      },
      result: null,
    }));
    await reader.until(() => attentionEvents().length > before, 'the alert on the attention list');
    const raised = reader.events.find((m) => m.event === 'alert.raised')!;
    const heartbeat = reader.events.findIndex((m) => m.event === 'agent.heartbeat');
    expect(reader.events.slice(heartbeat + 1).map((m) => m.event)).toEqual([
      'alert.raised',
      'attention.changed',
    ]);
    expect(attentionEvents()).toHaveLength(before + 1);
    const withAlert = attentionEvents().at(-1)!;
    expect(withAlert.id).toBe(raised.id);
    expect(withAlert.attention).toContainEqual(
      expect.objectContaining({ key: 'agent:agent-3', reason: 'stalled' }),
    );
  });
});
