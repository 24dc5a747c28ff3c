/**
 * The shared writer (state/writer/): long-lived processes on one workspace send their claims,
 * renewals, completions and failures to one of them, which makes them in group-committed batches.
 * Real processes on a real workspace, on each backend (on PostgreSQL, the processes of one host:
 * one workspace folder); the crash cases kill the writer at the two instants that matter (a request
 * read but not written, and written but not answered) with a test failpoint.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initWorkspace, type Workspace } from '../../../src/workspace.js';
import { workspacePaths } from '../../../state/paths.js';
import type { JournalEntry, Task } from '../../../state/schemas.js';
import { waitFor } from '../../helpers/agents.js';
import { scanJournal } from '../../helpers/fault-state.js';
import { describePg, TEST_PG_URL, testSchema } from '../../helpers/pg.js';
import { cli, ROOT, tempDir, writePolicies } from '../../helpers/workspace.js';

const HELPER = path.join(ROOT, 'tests/helpers/shared-writer.mjs');

interface Answer {
  ok: boolean;
  value?: unknown;
  code?: string;
  message?: string;
}

/** What `ws.writer` says in a helper process. */
type Stats = NonNullable<Workspace['writer']>;

/** A library process driven over stdin/stdout (tests/helpers/shared-writer.mjs). */
class Proc {
  readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting: Array<{ resolve: (a: Answer) => void; reject: (e: Error) => void }> = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr = '';

  constructor(home: string, agent: string, env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [HELPER, home, agent], { env: { ...process.env, ...env } });
    this.child.stderr.on('data', (d) => {
      this.stderr += d;
    });
    readline.createInterface({ input: this.child.stdout }).on('line', (line) => {
      this.waiting.shift()?.resolve(JSON.parse(line) as Answer);
    });
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code, signal) => {
        for (const w of this.waiting.splice(0)) w.reject(new Error(`the process exited: ${this.stderr}`));
        resolve({ code, signal });
      }),
    );
  }

  next(): Promise<Answer> {
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  async send(command: Record<string, unknown>): Promise<Answer> {
    const answer = this.next();
    this.child.stdin.write(`${JSON.stringify(command)}\n`);
    return answer;
  }

  /** The command's value; fails the test on an error answer. */
  async value<T>(command: Record<string, unknown>): Promise<T> {
    const answer = await this.send(command);
    expect(answer, JSON.stringify(answer)).toMatchObject({ ok: true });
    return answer.value as T;
  }

  stats(): Promise<Stats> {
    return this.value<Stats>({ do: 'writer' });
  }
}

/** A backend the cases run on: how a workspace is made, and how its journal is read. */
interface Backend {
  /** A new workspace in `dir` (made already); its home. */
  init(dir: string): Promise<string>;
  /** Every entry of the journal of the workspace at `home`, in order. */
  entries(home: string): Promise<JournalEntry[]>;
  /** Whether the writer sends the entries an asker has not read with its answer (EntryRelay). */
  relays: boolean;
}

const jsonStore: Backend = {
  async init(dir) {
    expect(cli(['init'], { cwd: dir }).code).toBe(0);
    return path.join(dir, '.dreamos');
  },
  entries: async (home) => scanJournal(workspacePaths(home)).entries,
  relays: false,
};

/** Each workspace in a schema of its own, dropped when its test ends. */
function postgres(): Backend {
  const schemas = new Map<string, string>();
  return {
    relays: true,
    async init(dir) {
      const { schema } = await testSchema('dreamos_shared');
      const ws = await initWorkspace({
        dir,
        backend: 'postgres',
        config: { state: { url: TEST_PG_URL, schema } },
      });
      await ws.close();
      schemas.set(ws.home, schema);
      return ws.home;
    },
    async entries(home) {
      const client = new pg.Client({ connectionString: TEST_PG_URL });
      await client.connect();
      try {
        const { rows } = await client.query<{ line: string }>(
          `SELECT entry::text AS line FROM "${schemas.get(home)}".journal ORDER BY seq`,
        );
        return rows.map((row) => JSON.parse(row.line) as JournalEntry);
      } finally {
        await client.end();
      }
    },
  };
}

describe('the shared writer', () => sharedWriter(jsonStore));
describePg('the shared writer on PostgreSQL', () => sharedWriter(postgres()));

function sharedWriter(backend: Backend): void {
  let tmp: ReturnType<typeof tempDir>;
  let home: string;
  const procs: Proc[] = [];

  async function open(agent: string, env: Record<string, string> = {}): Promise<Proc> {
    const proc = new Proc(home, agent, env);
    procs.push(proc);
    const opened = await proc.next();
    expect(opened.ok, proc.stderr).toBe(true);
    return proc;
  }

  function addTasks(n: number): void {
    const file = path.join(tmp.dir, 'tasks.json');
    fs.writeFileSync(file, JSON.stringify(Array.from({ length: n }, (_, i) => ({ title: `task ${i + 1}` }))));
    expect(cli(['task', 'import', file, '--home', home], { cwd: tmp.dir }).code).toBe(0);
  }

  const entries = () => backend.entries(home);

  function doctorIsClean(): void {
    const doctor = cli(['doctor', '--json', '--home', home], { cwd: tmp.dir });
    expect(doctor.json<{ ok: boolean }>().ok, doctor.stdout).toBe(true);
  }

  beforeEach(async () => {
    tmp = tempDir('dreamos-writer-');
    home = await backend.init(tmp.dir);
  });
  afterEach(async () => {
    for (const proc of procs.splice(0)) if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    tmp.cleanup();
  });

  it('makes the hot changes of the other processes, recorded as theirs, and each sees its own', async () => {
    addTasks(6);
    const writer = await open('agent-1');
    const first = await writer.value<Task>({ do: 'claim', agent: 'agent-1' });
    expect((await writer.stats()).role).toBe('writer');

    const clients = [await open('agent-2'), await open('agent-3')];
    const claimed = await Promise.all(
      clients.map((c, i) => c.value<Task>({ do: 'claim', agent: `agent-${i + 2}` })),
    );
    for (const [i, client] of clients.entries()) {
      const task = claimed[i]!;
      expect(task).toMatchObject({ status: 'working', agent: `agent-${i + 2}` });
      const done = await client.value<Task>({ do: 'complete', id: task.id, agent: `agent-${i + 2}` });
      expect(done).toMatchObject({ id: task.id, status: 'done' });
      // Read-your-writes: the process's own view has the change the writer made for it.
      expect(await client.value<Task>({ do: 'view', id: task.id })).toEqual(done);
      expect(await client.stats()).toMatchObject({ role: 'client', stats: { asked: 2, recovered: 0 } });
      // Where the state is read from a server, the entries came with the answers: the asker did not
      // read the journal for them.
      if (backend.relays) {
        const reads = await client.value<{ pulls: number; relayed: number }>({ do: 'reads' });
        expect(reads.pulls).toBe(0);
        expect(reads.relayed).toBeGreaterThanOrEqual(2);
      }
    }
    expect((await writer.stats()).stats.served).toBe(4);
    await writer.value({ do: 'complete', id: first.id, agent: 'agent-1' });

    // Every change made for another process carries its request id, and is recorded as that agent's.
    const served = (await entries()).filter((e) => e.req);
    expect(served).toHaveLength(4);
    for (const e of served) {
      expect(e.req!.id).toMatch(/^\d+-[0-9a-f]{8}-\d+$/);
      expect(['agent-2', 'agent-3']).toContain(e.by);
      expect(e.tasks?.map((t) => t.task.id)).toContain(e.req!.task);
    }
    const list = cli(['task', 'list', '--status', 'done', '--json', '--home', home], { cwd: tmp.dir }).json<
      Task[]
    >();
    expect(list.map((t) => t.id).sort()).toEqual([first.id, ...claimed.map((t) => t.id)].sort());
    doctorIsClean();
  });

  it('serves the others while it makes change after change of its own', async () => {
    addTasks(3000);
    const writer = await open('agent-1');
    await writer.value({ do: 'claim', agent: 'agent-1' }); // the writer from here on
    const started = path.join(tmp.dir, 'burst-started');
    const burst = writer.value<number>({ do: 'burst', agent: 'agent-1', cycles: 1000, started });
    await waitFor(() => fs.existsSync(started));
    const client = await open('agent-2');
    const task = await client.value<Task>({ do: 'claim', agent: 'agent-2' });
    expect(await burst).toBe(1000);
    // Served in the middle of the burst, not after it: its entry comes before the burst's last one.
    const all = await entries();
    const served = all.find((e) => e.req?.task === task.id);
    expect(served?.by).toBe('agent-2');
    const lastOfBurst = all.filter((e) => e.by === 'agent-1').at(-1)!;
    expect(served!.seq).toBeLessThan(lastOfBurst.seq);
  });

  it('answers a refused change with the same error the process would get on its own', async () => {
    addTasks(1);
    const writer = await open('agent-1');
    const task = await writer.value<Task>({ do: 'claim', agent: 'agent-1' });
    const client = await open('agent-2');
    expect(await client.value({ do: 'claim', agent: 'agent-2' })).toBeNull(); // nothing left
    const refused = await client.send({ do: 'complete', id: task.id, agent: 'agent-2' });
    expect(refused).toMatchObject({ ok: false, code: 'E_CONFLICT' });
    expect(refused.message).toMatch(/agent-1/);
    expect(await client.stats()).toMatchObject({ role: 'client', stats: { asked: 2 } });
    expect((await entries()).filter((e) => e.req)).toHaveLength(0);
  });

  /** agent-2 claims through a writer that kills itself at `failpoint`; the claim's journal entries. */
  async function claimAsWriterDies(failpoint: 'before-commit' | 'after-commit') {
    addTasks(3);
    const writer = await open('agent-1', { DREAMOS_TEST_WRITER_FAILPOINT: failpoint });
    await writer.value({ do: 'claim', agent: 'agent-1' });
    const client = await open('agent-2');
    const task = await client.value<Task>({ do: 'claim', agent: 'agent-2' });
    expect(await writer.exited).toMatchObject({ signal: 'SIGKILL' });
    expect(task).toMatchObject({ status: 'working', agent: 'agent-2' });
    const claims = (await entries()).filter(
      (e) => e.op === 'claim' && e.tasks?.some((t) => t.task.id === task.id),
    );
    return { client, task, claims };
  }

  it('when killed after making a change and before answering: the asker finds the change in the journal', async () => {
    const { client, task, claims } = await claimAsWriterDies('after-commit');
    expect(claims).toHaveLength(1); // made once, by the writer, not again by the asker
    expect(claims[0]!.req?.task).toBe(task.id);
    expect(claims[0]!.tasks?.[0]?.task).toEqual(task);
    expect((await client.stats()).stats).toMatchObject({ recovered: 1 });

    // The asker carries on: it becomes the writer.
    expect(await client.value({ do: 'complete', id: task.id, agent: 'agent-2' })).toMatchObject({
      status: 'done',
    });
    expect((await client.stats()).role).toBe('writer');
    doctorIsClean();
  });

  it('when killed with a request read but not written: the asker makes the change itself, once', async () => {
    const { client, task, claims } = await claimAsWriterDies('before-commit');
    expect(claims).toHaveLength(1);
    // Made by the asker, in its own transaction, under its request's id (a fence: see state/writer/).
    expect(claims[0]!.req?.task).toBe(task.id);
    expect((await client.stats()).stats).toMatchObject({ recovered: 1 });
    // The writer died holding the journal lock: the asker took it over.
    doctorIsClean();
  });

  it('closing, answers what it has read and hands over: the next process becomes the writer', async () => {
    addTasks(5);
    const writer = await open('agent-1');
    await writer.value({ do: 'claim', agent: 'agent-1' });
    const client = await open('agent-2');
    const a = await client.value<Task>({ do: 'claim', agent: 'agent-2' });
    const [closed, b] = await Promise.all([
      writer.value({ do: 'close' }),
      client.value<Task>({ do: 'complete', id: a.id, agent: 'agent-2' }),
    ]);
    expect(closed).toBe('closed');
    expect(b).toMatchObject({ id: a.id, status: 'done' });
    expect(await writer.exited).toMatchObject({ code: 0 });
    // The next changes: the first may still find the goodbye on its way; by the second, it is the writer.
    for (let i = 0; i < 2; i++)
      expect(await client.value<Task>({ do: 'claim', agent: 'agent-2' })).toMatchObject({
        status: 'working',
      });
    expect((await client.stats()).role).toBe('writer');
    expect(
      (await entries()).filter((e) => e.op === 'complete' && e.tasks?.[0]?.task.id === a.id),
    ).toHaveLength(1);
    doctorIsClean();
  });

  it('a request its asker gave up on (no answer in time) is made once, by the asker, and refused by the writer', async () => {
    addTasks(3);
    const writer = await open('agent-1');
    await writer.value({ do: 'claim', agent: 'agent-1' });
    const client = await open('agent-2', { TEST_LOCK_TIMEOUT_MS: '1500' });
    await client.value({ do: 'claim', agent: 'agent-2' }); // connected, served
    // Give the writer's keeper thread time to let the journal lock go (the JSON store keeps it 10 ms
    // after its last batch), then stop the writer: it holds the request it reads on waking up.
    await new Promise((r) => setTimeout(r, 300));
    writer.child.kill('SIGSTOP');
    const task = await client.value<Task>({ do: 'claim', agent: 'agent-2' });
    writer.child.kill('SIGCONT');
    expect(task).toMatchObject({ status: 'working', agent: 'agent-2' });
    // The writer, woken, reads the request and refuses it: its id is in the journal, settled by the asker.
    let stats = await writer.stats();
    for (let i = 0; i < 100 && stats.stats.served < 2; i++) {
      await new Promise((r) => setTimeout(r, 50));
      stats = await writer.stats();
    }
    expect(stats.stats).toMatchObject({ served: 2, stale: 1 });
    const made = (await entries()).filter((e) => e.req && e.by === 'agent-2');
    expect(made).toHaveLength(2);
    expect(made[1]!.req!.task).toBe(task.id);
    expect((await entries()).filter((e) => e.op === 'claim' && e.by === 'agent-2')).toHaveLength(2);
    expect((await client.stats()).stats).toMatchObject({ asked: 2, recovered: 1 });
    doctorIsClean();
  });

  it('is not used where the socket path would be too long: every process writes for itself', async () => {
    const deep = path.join(tmp.dir, 'a'.repeat(60), 'b'.repeat(60));
    fs.mkdirSync(deep, { recursive: true });
    home = await backend.init(deep);
    addTasks(2);
    const one = await open('agent-1');
    const two = await open('agent-2');
    expect(await one.value<Task>({ do: 'claim', agent: 'agent-1' })).toMatchObject({ status: 'working' });
    expect(await two.value<Task>({ do: 'claim', agent: 'agent-2' })).toMatchObject({ status: 'working' });
    for (const p of [one, two])
      expect(await p.stats()).toMatchObject({ role: 'none', stats: { served: 0, asked: 0 } });
    expect(fs.readdirSync(path.join(home, 'locks')).filter((n) => n.startsWith('writ'))).toEqual([]);
  });

  it('makes changes only for processes with the same configuration', async () => {
    addTasks(2);
    const writer = await open('agent-1');
    await writer.value({ do: 'claim', agent: 'agent-1' });
    // The operator changes a policy; a process opened now plans with it, the writer does not.
    writePolicies(home, { leaseSeconds: 300 });
    const client = await open('agent-2');
    const task = await client.value<Task>({ do: 'claim', agent: 'agent-2' });
    // Its lease follows its own configuration: it made the change itself.
    const leaseMs = Date.parse(task.lease!.expiresAt) - Date.parse(task.updatedAt);
    expect(leaseMs).toBe(300_000);
    expect(await client.stats()).toMatchObject({ stats: { asked: 1, direct: 1 } });
    expect((await writer.stats()).stats.served).toBe(0);
  });

  it('refuses an answer with an error code it does not know, and settles the request through the journal', async () => {
    addTasks(1);
    // A writer of another version: it greets as this workspace's writer, and refuses every request
    // with a code this version has no exit code for.
    const paths = workspacePaths(home);
    const sockets: net.Socket[] = [];
    const server = net.createServer((socket) => {
      sockets.push(socket);
      socket.write(`${JSON.stringify({ t: 'hello', pid: process.pid, workspace: fs.realpathSync(home) })}\n`);
      readline.createInterface({ input: socket }).on('line', (line) => {
        const { id } = JSON.parse(line) as { id: string };
        const error = { code: 'E_FROM_A_LATER_VERSION', message: 'refused', details: null };
        socket.write(`${JSON.stringify({ t: 'err', id, error })}\n`);
      });
    });
    await new Promise<void>((resolve) => server.listen(paths.writerSocket, resolve));
    try {
      const client = await open('agent-2');
      // Never an error whose exit code is unknown (it would exit 0): the asker makes the change itself.
      expect(await client.value<Task>({ do: 'claim', agent: 'agent-2' })).toMatchObject({
        status: 'working',
        agent: 'agent-2',
      });
      expect(await client.stats()).toMatchObject({ role: 'none', stats: { asked: 1, recovered: 1 } });
    } finally {
      server.close();
      for (const socket of sockets) socket.destroy();
    }
  });

  it('drops a connection that does not speak its protocol, and goes on serving', async () => {
    addTasks(2);
    const writer = await open('agent-1');
    await writer.value({ do: 'claim', agent: 'agent-1' });
    const socket = net.connect(workspacePaths(home).writerSocket);
    const lines = readline.createInterface({ input: socket });
    const first = await new Promise<string>((resolve) => lines.once('line', resolve));
    expect(JSON.parse(first)).toMatchObject({ t: 'hello', pid: writer.child.pid });
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write('{"t":"req","id":"../../etc/passwd","op":"claim","args":{},"actor":"x","config":"y"}\n');
    await closed;
    const client = await open('agent-2');
    expect(await client.value<Task>({ do: 'claim', agent: 'agent-2' })).toMatchObject({ status: 'working' });
    expect((await writer.stats()).stats.served).toBe(1);
  });
}
