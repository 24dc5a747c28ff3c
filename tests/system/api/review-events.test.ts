/**
 * The review lifecycle on the event stream, on a real socket, with the changes made by the CLI in a
 * real git repository: a code task entering review, approved, merged step by step (with the merge's
 * commit), rejected, and bounced by a failed gate; and a webhook subscribing to those types.
 */
import type { EventSourceMessage } from 'eventsource-parser';
import { afterEach, describe, expect, it } from 'vitest';
import { EventHub } from '../../../src/api/event-hub.js';
import type { DreamEvent } from '../../../src/events.js';
import { openWorkspace, type Workspace } from '../../../src/workspace.js';
import { type CodeRepo, codeRepo } from '../../helpers/code-repo.js';
import { type EventServer, readEvents, type SseReader, serveEvents } from '../../helpers/sse.js';

let repo: CodeRepo | undefined;
let ws: Workspace | undefined;
let hub: EventHub | undefined;
let server: EventServer | undefined;
let reader: SseReader | undefined;

afterEach(async () => {
  await reader?.close();
  hub?.close();
  await server?.close();
  await ws?.close();
  repo?.cleanup();
  reader = hub = server = ws = repo = undefined;
});

async function serve(r: CodeRepo, query: string): Promise<SseReader> {
  ws = await openWorkspace({ home: r.home, share: false });
  hub = await EventHub.start(ws);
  server = await serveEvents(hub);
  reader = await readEvents(`${server.url}${query}`);
  return reader;
}

const dataOf = (m: EventSourceMessage) => JSON.parse(m.data) as DreamEvent;
/** The events about task `id`: its type, and the task's status and code stage. */
const about = (r: SseReader, id: string) =>
  r.events
    .map(dataOf)
    .filter((e) => e.tasks?.some((t) => t.id === id))
    .map((e) => {
      const task = e.tasks!.find((t) => t.id === id)!;
      return { type: e.type, op: e.op, status: task.status, code: task.code };
    });

function runAgents(r: CodeRepo): void {
  const run = r.run('run', '--until-idle');
  expect(run.code, run.stderr).toBe(0);
}

describe('the review lifecycle as events', () => {
  it('sends review, approval, each merge step and the merge with its commit, never task.done early', async () => {
    repo = codeRepo();
    const r = await serve(repo, '?types=task');
    const task = repo.add('Add a', 'echo a > a.txt');
    runAgents(repo);
    expect(repo.run('review', 'approve', task.id).code).toBe(0);
    const merged = repo.run('merge', 'run', '--json');
    expect(merged.code, merged.stderr).toBe(0);
    const commit = repo.git('rev-parse', 'main');
    await r.until((s) => s.events.some((m) => m.event === 'task.merged'), 'task.merged');

    const events = about(r, task.id);
    const types = events.map((e) => e.type);
    expect(types).toEqual(
      expect.arrayContaining(['task.created', 'task.claimed', 'task.branched', 'task.review']),
    );
    // In order: it enters review, is approved, goes through the queue's steps, and is merged.
    const from = types.indexOf('task.review');
    expect(types.slice(from)).toEqual([
      'task.review',
      'task.review-approved',
      ...types.slice(from + 2, -1).map(() => 'task.merging'),
      'task.merged',
    ]);
    expect(types.filter((t) => t === 'task.merging').length).toBeGreaterThan(0);
    // The attempt's end put it in review: not a task.done.
    expect(types).not.toContain('task.done');
    expect(events[from]).toMatchObject({ op: 'review', status: 'review', code: { stage: 'waiting' } });
    expect(events.find((e) => e.type === 'task.branched')?.code).toMatchObject({
      branch: `dreamos/${task.id}`,
      base: 'main',
      stage: 'open',
    });
    const steps = events.filter((e) => e.type === 'task.merging').map((e) => e.code?.step);
    expect(steps[0]).toBe('rebase');
    expect(events.at(-1)).toMatchObject({
      op: 'merged',
      status: 'done',
      code: { stage: 'merged', merged: commit, branch: `dreamos/${task.id}` },
    });
  });

  it('sends a rejection and a failed gate as their own types, with the reason', async () => {
    repo = codeRepo({ review: { gate: 'echo GATE-SAYS-NO; test ! -f bad.txt' } });
    const r = await serve(repo, '?types=task.review-rejected,task.bounced');
    const rejected = repo.add('Reject me', 'echo r > r.txt');
    const bad = repo.add('Break it', 'echo oops > bad.txt');
    runAgents(repo);
    expect(repo.run('review', 'reject', rejected.id, '--note', 'not like this').code).toBe(0);
    expect(repo.run('review', 'approve', bad.id).code).toBe(0);
    expect(repo.run('merge', 'run', '--json').code).toBe(7);
    await r.until((s) => s.events.length >= 2, 'the rejection and the bounce');

    expect(r.events.map((m) => m.event)).toEqual(['task.review-rejected', 'task.bounced']);
    const [no, back] = r.events.map(dataOf);
    expect(no!.tasks![0]).toMatchObject({
      id: rejected.id,
      status: 'ready',
      code: { stage: 'open', last: { reason: 'rejected', text: 'not like this' } },
    });
    expect(back!.op).toBe('gate-failed');
    expect(back!.tasks![0]).toMatchObject({
      id: bad.id,
      status: 'ready',
      code: { last: { reason: 'gate-failed' } },
    });
    expect(back!.tasks![0]!.code!.last!.text).toContain('GATE-SAYS-NO');
  });

  it('lets a webhook subscribe to the review types, and refuses a misspelt one', () => {
    repo = codeRepo();
    const add = repo.run(
      'webhook',
      'add',
      'http://127.0.0.1:9/hook',
      '--events',
      'task.review,task.merged,task.bounced',
      '--json',
    );
    expect(add.code, add.stderr).toBe(0);
    expect(JSON.parse(add.stdout)).toMatchObject({
      webhook: { events: ['task.review', 'task.merged', 'task.bounced'] },
    });
    const typo = repo.run('webhook', 'add', 'http://127.0.0.1:9/hook', '--events', 'task.merge');
    expect(typo.code).not.toBe(0);
    expect(typo.stderr).toContain('unknown event type');
  });
});
