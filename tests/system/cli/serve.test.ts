/**
 * `dreamos serve` as a user runs it: a child process on 127.0.0.1 port 0, real requests with a
 * token made by `dreamos token create`, changes seen both ways between the API and other `dreamos`
 * processes, a revoked token refused at once, SIGTERM ending it with exit 0; an address beyond
 * loopback refused while no token exists, an address in use named; and a change refused with 503
 * and Retry-After while another process holds the journal lock.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../../src/api/app.js';
import { openWorkspace, type Workspace } from '../../../src/index.js';
import { openTokenStore } from '../../../src/tokens.js';
import type { Task } from '../../../state/schemas.js';
import { waitFor } from '../../helpers/agents.js';
import { holdLock, type LockHolderProcess } from '../../helpers/busy-run.js';
import { BIN, type CliResult, cli, collectOutput, tempDir } from '../../helpers/workspace.js';

interface Serving {
  child: ChildProcess;
  url: string;
  origin: string;
  port: number;
  output: ReturnType<typeof collectOutput>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcess[] = [];

/** Start `dreamos serve --json` (or other arguments) and wait for its first line, which names the address. */
async function serve(
  cwd: string,
  listen: string,
  args = ['serve', '--listen', listen, '--json'],
): Promise<Serving> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd });
  children.push(child);
  const output = collectOutput(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  await waitFor(() => output.stdout().includes('\n') || child.exitCode !== null, 30_000);
  const line = output.stdout().split('\n')[0]!;
  if (!line) throw new Error(`serve did not start: ${output.stderr()}`);
  const first = JSON.parse(line) as { type: string; url: string; origin: string; port: number };
  expect(first.type).toBe('serving');
  return { child, url: first.url, origin: first.origin, port: first.port, output, exited };
}

/** Ask again until the answer is yes, up to a deadline (what is asked changes in another process). */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

afterEach(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

const show = (r: CliResult) => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;

describe('dreamos serve', () => {
  const tmp = tempDir('dreamos-serve-');
  afterAll(() => tmp.cleanup());
  const run = (...args: string[]) => cli(args, { cwd: tmp.dir });

  it('serves the API with a token, sees other processes, and stops on SIGTERM with exit 0', async () => {
    expect(run('init').code).toBe(0);
    const made = run(
      'token',
      'create',
      '--scope',
      'read,tasks:write,tasks:approve,events',
      '--name',
      'test',
      '--json',
    );
    expect(made.code, show(made)).toBe(0);
    const secret = made.json<{ token: string }>().token;
    const auth = { Authorization: `Bearer ${secret}` };

    const server = await serve(tmp.dir, '127.0.0.1:0');
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/api/v1`);
    expect(server.output.stderr()).toContain(`dreamos: serving ${server.url} (1 token)`);
    expect(server.output.stderr()).not.toContain(secret);

    const refused = await fetch(`${server.url}/status`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await refused.json()).toMatchObject({ code: 'E_UNAUTHORIZED' });

    const status = await fetch(`${server.url}/status`, { headers: auth });
    expect(status.status).toBe(200);
    expect(await status.json()).toMatchObject({ agents: 8 });

    // A task added over HTTP is on the board every other process reads…
    const added = await fetch(`${server.url}/tasks`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ title: 'from the API', tags: ['api'] }),
    });
    expect(added.status).toBe(201);
    const task = (await added.json()) as Task;
    const listed = run('task', 'list', '--tag', 'api', '--json');
    expect(listed.json<Task[]>().map((t) => t.id)).toEqual([task.id]);

    // …and a change made by another process is what the server answers next.
    expect(run('task', 'cancel', task.id).code).toBe(0);
    const shown = await fetch(`${server.url}/tasks/${task.id}`, { headers: auth });
    expect(((await shown.json()) as Task).status).toBe('cancelled');
    const page = async (query: string) =>
      (
        (await (await fetch(`${server.url}/tasks?${query}`, { headers: auth })).json()) as { items: Task[] }
      ).items.map((t) => t.id);
    expect(await page('tag=api')).toEqual([task.id]);
    expect(run('task', 'retry', task.id).code).toBe(0);
    expect(await page('tag=api&status=ready')).toEqual([task.id]);
    expect(run('task', 'cancel', task.id).code).toBe(0);
    expect(await page('tag=api&status=ready')).toEqual([]);

    // The event stream tells a change made by another process; the metrics count the board.
    const events = new AbortController();
    const stream = await fetch(`${server.url}/events?types=task.created`, {
      headers: auth,
      signal: events.signal,
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    const added2 = run('task', 'add', 'told by the stream', '--json').json<Task>();
    const reader = stream.body!.getReader();
    let text = '';
    while (!text.includes(added2.id)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(text).toMatch(/event: task\.created\n/);
    expect(text).toContain(added2.id);
    events.abort();
    const metrics = await fetch(`${server.origin}/metrics`, { headers: auth });
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/dreamos_tasks\{stage="ready"\} \d+/);

    // A stream still open when the server stops is ended, and does not hold it up.
    const open = await fetch(`${server.url}/events`, { headers: auth });
    expect(open.status).toBe(200);

    // A token revoked by another process is refused at its next request.
    expect(run('token', 'revoke', 'test').code).toBe(0);
    expect((await fetch(`${server.url}/status`, { headers: auth })).status).toBe(401);

    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    const openReader = open.body!.getReader();
    const ended = async (): Promise<boolean> => {
      for (;;) {
        const { done } = await openReader.read();
        if (done) return true;
      }
    };
    expect(await ended().catch(() => true)).toBe(true);
    expect(server.output.stdout()).toContain('{"type":"stopped","signal":"SIGTERM"}');
    await expect(fetch(`${server.url}/status`)).rejects.toThrow();
  });

  it('refuses to listen beyond loopback while no token is usable, and names an address in use', async () => {
    const fresh = tempDir('dreamos-serve-open-');
    try {
      expect(cli(['init'], { cwd: fresh.dir }).code).toBe(0);
      const open = cli(['serve', '--listen', '0.0.0.0:0'], { cwd: fresh.dir });
      expect(open.code, show(open)).toBe(2);
      expect(open.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(/^dreamos: refusing to listen on 0\.0\.0\.0: .*no usable token exists/),
      ]);
      const bad = cli(['serve', '--listen', 'nowhere'], { cwd: fresh.dir });
      expect(bad.code, show(bad)).toBe(2);
      expect(bad.stderr).toContain('--listen takes HOST:PORT');

      const first = await serve(fresh.dir, '127.0.0.1:0');
      expect(first.output.stderr()).toContain('no usable token');
      const second = cli(['serve', '--listen', `127.0.0.1:${first.port}`], { cwd: fresh.dir });
      expect(second.code, show(second)).toBe(4);
      expect(second.stderr).toContain(`127.0.0.1:${first.port} is already in use`);
      first.child.kill('SIGINT');
      expect((await first.exited).code).toBe(0);
    } finally {
      fresh.cleanup();
    }
  });
});

describe('dreamos run --serve', () => {
  const tmp = tempDir('dreamos-run-serve-');
  afterAll(() => tmp.cleanup());

  it('runs the agents and serves the API in one process: a task added over HTTP is run', async () => {
    expect(cli(['init'], { cwd: tmp.dir }).code).toBe(0);
    const secret = cli(['token', 'create', '--scope', 'read,tasks:write,tasks:approve', '--json'], {
      cwd: tmp.dir,
    }).json<{
      token: string;
    }>().token;
    const auth = { Authorization: `Bearer ${secret}` };
    const run = await serve(tmp.dir, '', ['run', '--serve', '127.0.0.1:0', '--json']);
    // The agents start once the server listens: their runner shows in the status soon after.
    const runners = async () =>
      (
        (await (await fetch(`${run.url}/status`, { headers: auth })).json()) as {
          runners: Array<{ pid: number }>;
        }
      ).runners;
    await eventually(async () => (await runners()).some((r) => r.pid === run.child.pid), 'the runner');

    const added = await fetch(`${run.url}/tasks`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ title: 'mark', run: 'echo done > ran' }),
    });
    expect(added.status).toBe(201);
    const { id } = (await added.json()) as Task;
    await waitFor(() => fs.existsSync(path.join(tmp.dir, 'ran')), 60_000);
    const task = async () =>
      (await (await fetch(`${run.url}/tasks/${id}`, { headers: auth })).json()) as Task;
    await eventually(async () => (await task()).status === 'done', 'the task to be done');

    run.child.kill('SIGTERM');
    expect(await run.exited).toEqual({ code: 0, signal: null });
    const lines = run.output
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string });
    expect(lines[0]!.type).toBe('serving');
    expect(lines.at(-1)!.type).toBe('summary');
    await expect(fetch(`${run.url}/status`)).rejects.toThrow();
  });
});

describe('a change while another process holds the journal lock', () => {
  const tmp = tempDir('dreamos-serve-lock-');
  let holder: LockHolderProcess | null = null;
  let ws: Workspace | null = null;
  beforeAll(() => {
    expect(cli(['init'], { cwd: tmp.dir }).code).toBe(0);
  });
  afterAll(async () => {
    await holder?.kill();
    await ws?.close();
    tmp.cleanup();
  });

  it('is refused with 503 and Retry-After, and nothing is changed', async () => {
    const home = path.join(tmp.dir, '.dreamos');
    const secret = cli(['token', 'create', '--scope', 'admin', '--json'], { cwd: tmp.dir }).json<{
      token: string;
    }>().token;
    ws = await openWorkspace({ home, lockTimeoutMs: 300, share: false });
    const app = createApp({ workspace: ws, tokens: openTokenStore(ws.paths) });
    holder = await holdLock(home, tmp.dir);
    const res = await app.fetch(
      new Request('http://localhost/api/v1/tasks', {
        method: 'POST',
        headers: { Authorization: `Bearer ${secret}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ title: 'blocked' }),
      }),
    );
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('2');
    expect(await res.json()).toMatchObject({ code: 'E_LOCK_TIMEOUT', exitCode: 5 });
    await holder.kill();
    holder = null;
    expect(ws.listTasks()).toEqual([]);
  });
});
