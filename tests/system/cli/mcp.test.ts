/**
 * `dreamos mcp` driven by the MCP SDK's own client over stdio, as Claude Code, Codex CLI or Gemini
 * CLI start it: the tools it lists, what each one does on the board (checked through the CLI), the
 * refusals, and the process ending when its client goes away.
 */
import { spawn } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Checkpoint, Mail, Task } from '../../../state/schemas.js';
import { type Board, board, setPolicies } from '../../helpers/cli.js';
import { BIN, cli, collectOutput } from '../../helpers/workspace.js';

vi.setConfig({ testTimeout: 120_000 });

const TOOLS = [
  'ack_mail',
  'create_subtask',
  'list_tasks',
  'read_mailbox',
  'report_progress',
  'save_checkpoint',
  'send_mail',
  'show_task',
  'whoami',
];

let b: Board;
const open: Client[] = [];

beforeEach(() => {
  b = board();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
  b.cleanup();
});

/** The environment a driver gives the program it runs, and nothing of the test runner's own. */
function env(vars: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...vars };
}

async function connect(vars: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: 'dreamos-test', version: '1.0.0' });
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, 'mcp'],
    cwd: b.dir,
    env: env(vars),
    stderr: 'pipe',
  });
  await client.connect(transport);
  open.push(client);
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}) {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

/** A successful call's result. */
async function data<T>(client: Client, name: string, args: Record<string, unknown> = {}): Promise<T> {
  const result = await call(client, name, args);
  expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
  const text = (result.content[0] as { text: string }).text;
  expect(JSON.parse(text)).toEqual(result.structuredContent);
  return result.structuredContent as T;
}

/** A refused call: a tool error with one clean line, and the board as it was. */
async function refused(client: Client, name: string, args: Record<string, unknown>, message: RegExp) {
  const before = b.state();
  const result = await call(client, name, args);
  expect(result.isError, JSON.stringify(result)).toBe(true);
  const text = (result.content[0] as { text: string }).text;
  expect(text).toMatch(message);
  expect(text).not.toMatch(/\n|\s+at .+:\d+:\d+/);
  expect(b.state()).toEqual(before);
  return text;
}

/** A working task held by `agent`, as the orchestrator leaves it when it runs a program for it. */
function working(agent: string, title = 'the work'): Task {
  const task = b.add(title);
  return b.json<Task>('task', 'claim', '--agent', agent, '--task', task.id);
}

/** `dreamos mcp` as a bare child process, once it has answered the protocol's initialize request. */
async function initialized() {
  const child = spawn(process.execPath, [BIN, 'mcp'], { cwd: b.dir, env: env({}) });
  const output = collectOutput(child);
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('exit', (code, signal) => resolve([code, signal])),
  );
  const initialize = {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
  };
  child.stdin.write(`${JSON.stringify(initialize)}\n`);
  const deadline = Date.now() + 30_000;
  while (!output.stdout().includes('\n') && child.exitCode === null && Date.now() < deadline)
    await Promise.race([new Promise((resolve) => child.stdout.once('data', resolve)), exited]);
  expect(output.stdout(), output.stderr()).toContain('\n');
  return { child, exited, ...output };
}

describe('dreamos mcp', () => {
  it('lists its tools with their input schemas', async () => {
    const client = await connect();
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(TOOLS);
    const schema = (name: string) => tools.find((t) => t.name === name)!.inputSchema;
    const subtask = schema('create_subtask');
    expect(subtask.required).toEqual(['title']);
    expect(Object.keys(subtask.properties ?? {})).toEqual(
      expect.arrayContaining(['title', 'prompt', 'role', 'priority', 'dependsOn', 'afterCurrentTask']),
    );
    expect(subtask.properties).not.toHaveProperty('run');
    expect(subtask.additionalProperties).toBe(false);
    expect(schema('send_mail').required).toEqual(['to', 'body']);
    expect(schema('report_progress').required).toEqual(['progress']);
    expect(schema('report_progress').properties?.progress).toMatchObject({ minimum: 0, maximum: 1 });
    expect(schema('list_tasks').properties?.stage).toMatchObject({
      items: { enum: ['backlog', 'ready', 'working', 'review', 'done', 'failed', 'cancelled'] },
    });
  });

  it('lists and shows the tasks the CLI added, with filters', async () => {
    const a = b.add('alpha', '--tag', 'api');
    const c = b.add('gamma', '--role', 'testing');
    const held = b.add('held', '--hold');
    const client = await connect();
    const all = await data<{ tasks: Task[]; total: number }>(client, 'list_tasks');
    expect(all.tasks.map((t) => t.id)).toEqual([a.id, c.id, held.id]);
    expect(all.total).toBe(3);
    const byTag = await data<{ tasks: Task[] }>(client, 'list_tasks', { tag: 'api' });
    expect(byTag.tasks.map((t) => t.id)).toEqual([a.id]);
    const byRole = await data<{ tasks: Task[] }>(client, 'list_tasks', { role: 'testing' });
    expect(byRole.tasks.map((t) => t.id)).toEqual([c.id]);
    const backlog = await data<{ tasks: Task[] }>(client, 'list_tasks', { stage: ['backlog'] });
    expect(backlog.tasks.map((t) => t.id)).toEqual([held.id]);
    const one = await data<{ tasks: Task[]; total: number }>(client, 'list_tasks', { limit: 1 });
    expect(one).toMatchObject({ total: 3, tasks: [{ id: a.id, title: 'alpha', status: 'ready' }] });
    const shown = await data<{ task: Task }>(client, 'show_task', { id: c.id });
    expect(shown.task).toEqual(b.get(c.id));
    await refused(client, 'show_task', { id: 'T-99999' }, /^E_NOT_FOUND: no task T-99999/);
    await refused(client, 'show_task', { id: 'nonsense' }, /^E_INVALID_INPUT: not a task id/);

    // The same board as resources.
    const text = async (uri: string) => {
      const [content] = (await client.readResource({ uri })).contents;
      return JSON.parse((content as { text: string }).text);
    };
    expect((await text('dreamos://board')).counts).toMatchObject({ ready: 2, backlog: 1 });
    expect(await text(`dreamos://tasks/${c.id}`)).toEqual(b.get(c.id));
    await expect(client.readResource({ uri: 'dreamos://tasks/T-99999' })).rejects.toThrow(
      /E_NOT_FOUND: no task T-99999/,
    );
  });

  it("creates a sub-task as the agent's proposal, held for the operator, that the CLI sees", async () => {
    const parent = working('agent-1');
    const client = await connect({ DREAMOS_AGENT_ID: 'agent-1', DREAMOS_TASK_ID: parent.id });
    expect(await data(client, 'whoami')).toEqual({ agent: 'agent-1', role: 'captain', task: parent.id });
    const made = await data<{ task: Task; note?: string }>(client, 'create_subtask', {
      title: 'write the tests',
      prompt: 'cover the parser',
      role: 'testing',
      priority: 'high',
    });
    expect(made.note).toMatch(/approve/);
    const sub = b.list().find((t) => t.id === made.task.id)!;
    expect(sub).toMatchObject({
      title: 'write the tests',
      prompt: 'cover the parser',
      role: 'testing',
      priority: 'high',
      status: 'backlog',
      source: 'agent',
      dependsOn: [],
    });
    expect(sub.run).toBeUndefined();
    expect(sub.history.map((h) => [h.to, h.by])).toEqual([['backlog', 'agent-1']]);
    // A follow-up also waits for the task it came from.
    const next = await data<{ task: Task }>(client, 'create_subtask', {
      title: 'release it',
      dependsOn: [sub.id],
      afterCurrentTask: true,
    });
    expect(b.get(next.task.id).dependsOn).toEqual([sub.id, parent.id]);
    // The server keeps the workspace open and writes as it is asked: it never keeps others out.
    expect(b.add('added by the operator meanwhile').status).toBe('ready');

    // The workspace may approve sub-tasks itself: then one with nothing to wait for is ready at once.
    setPolicies(b, { autoApproveSubtasks: true });
    const approved = await connect({ DREAMOS_AGENT_ID: 'agent-1', DREAMOS_TASK_ID: parent.id });
    const free = await data<{ task: Task; note?: string }>(approved, 'create_subtask', { title: 'lint' });
    expect(free.note).toBeUndefined();
    expect(b.get(free.task.id).status).toBe('ready');
  });

  it('refuses a bad sub-task with the reason, and adds nothing', async () => {
    const client = await connect({ DREAMOS_AGENT_ID: 'agent-2' });
    await refused(client, 'create_subtask', { title: '' }, /^E_INVALID_INPUT: .*a task needs a title/);
    await refused(
      client,
      'create_subtask',
      { title: 'x', role: 'nobody' },
      /^E_NOT_FOUND: no agent has the role/,
    );
    await refused(
      client,
      'create_subtask',
      { title: 'x', dependsOn: ['T-99999'] },
      /^E_NOT_FOUND: dependency T-99999 .* does not exist/,
    );
    // A field the tool does not take (a shell command) is refused by its schema.
    await refused(client, 'create_subtask', { title: 'x', run: 'rm -rf /' }, /run/);
    await refused(client, 'create_subtask', { title: 'x', priority: 'urgent' }, /priority/);
    expect(b.list()).toEqual([]);
  });

  it('sends mail to the operator as the agent, about its task, visible to the CLI', async () => {
    const task = working('agent-3');
    const client = await connect({ DREAMOS_AGENT_ID: 'agent-3', DREAMOS_TASK_ID: task.id });
    const sent = await data<{ sent: Array<{ id: string; to: string }> }>(client, 'send_mail', {
      to: 'operator',
      body: 'I need the staging password',
    });
    expect(sent.sent).toHaveLength(1);
    const inbox = b.json<Mail[]>('mail', 'list');
    expect(inbox).toEqual([
      expect.objectContaining({
        id: sent.sent[0]!.id,
        to: 'operator',
        from: 'agent-3',
        task: task.id,
        body: 'I need the staging password',
        type: 'message',
      }),
    ]);
    await refused(client, 'send_mail', { to: 'agent-99', body: 'hi' }, /^E_NOT_FOUND: no agent "agent-99"/);
    await refused(
      client,
      'send_mail',
      { to: 'operator', body: '   ' },
      /^E_INVALID_INPUT: a message needs a body/,
    );
  });

  it('reads its own mailbox, without directives, and acknowledges what it read', async () => {
    b.run('mail', 'send', '--to', 'agent-4', 'use the new API');
    b.run('mail', 'send', '--to', 'agent-4', 'and keep it short');
    b.run('mail', 'send', '--to', 'agent-5', 'not for agent-4');
    b.run('agent', 'pause', 'agent-4');
    const client = await connect({ DREAMOS_AGENT_ID: 'agent-4' });
    const read = await data<{ mailbox: string; messages: Mail[] }>(client, 'read_mailbox');
    expect(read.mailbox).toBe('agent-4');
    expect(read.messages.map((m) => m.body)).toEqual(['use the new API', 'and keep it short']);
    // Reading alone acknowledges nothing.
    expect(
      b.json<Mail[]>('mail', 'list', '--agent', 'agent-4').filter((m) => m.type !== 'directive'),
    ).toHaveLength(2);

    const [first] = read.messages;
    expect(await data(client, 'ack_mail', { ids: [first!.id] })).toEqual({ acknowledged: [first!.id] });
    const rest = await data<{ messages: Mail[] }>(client, 'read_mailbox', { ack: true });
    expect(rest.messages.map((m) => m.body)).toEqual(['and keep it short']);
    expect(rest.messages[0]!.ackedAt).not.toBeNull();
    const left = b.json<Mail[]>('mail', 'list', '--agent', 'agent-4');
    expect(left.map((m) => m.type)).toEqual(['directive']);
    const all = await data<{ messages: Mail[] }>(client, 'read_mailbox', { all: true });
    expect(all.messages).toHaveLength(2);
    await refused(
      client,
      'ack_mail',
      { ids: ['M-99999'] },
      /^E_NOT_FOUND: no message M-99999 in the mailbox of agent-4/,
    );
  });

  it('records progress and checkpoints of the current task, as the CLI lists them', async () => {
    const task = working('agent-6');
    const client = await connect({ DREAMOS_AGENT_ID: 'agent-6', DREAMOS_TASK_ID: task.id });
    await data(client, 'report_progress', { progress: 0.4, step: 'parsing' });
    await data(client, 'save_checkpoint', {
      step: 'tests written',
      progress: 0.7,
      summary: 'parser done; the printer remains',
      sessionId: 'session-42',
      data: { usage: { tokens: 1200 } },
    });
    const saved = b.json<Checkpoint[]>('checkpoint', 'list', '--agent', 'agent-6');
    expect(saved.map((c) => [c.task, c.step, c.progress])).toEqual([
      [task.id, 'parsing', 0.4],
      [task.id, 'tests written', 0.7],
    ]);
    expect(saved[1]).toMatchObject({ summary: 'parser done; the printer remains', sessionId: 'session-42' });
    expect(saved[1]!.data).toEqual({ usage: { tokens: 1200 } });

    await refused(client, 'report_progress', { progress: 1.5 }, /progress/);
    await refused(client, 'report_progress', { progress: 0.5, step: 'two\nlines' }, /step is one line/);
    await refused(client, 'save_checkpoint', { data: 'not an object' }, /data/);
  });

  it('says clearly that a task-bound tool needs a task, outside one', async () => {
    b.add('something');
    const client = await connect({ DREAMOS_AGENT_ID: 'agent-7' });
    expect(await data(client, 'whoami')).toEqual({ agent: 'agent-7', role: 'ux', task: null });
    for (const [name, args] of [
      ['report_progress', { progress: 0.5 }],
      ['save_checkpoint', { step: 'x' }],
      ['show_task', {}],
      ['create_subtask', { title: 'follow-up', afterCurrentTask: true }],
    ] as const)
      await refused(client, name, args, /^E_USAGE: .*DREAMOS_TASK_ID is not set/);
    // An empty variable, as a client passes an unset one it expands, is no task either.
    const blank = await connect({ DREAMOS_AGENT_ID: 'agent-7', DREAMOS_TASK_ID: '' });
    await refused(blank, 'report_progress', { progress: 0.5 }, /DREAMOS_TASK_ID is not set/);
    // As the operator, nothing is an agent's to record.
    const operator = await connect();
    expect(await data(operator, 'whoami')).toEqual({ agent: null, role: null, task: null });
    await refused(operator, 'save_checkpoint', { step: 'x' }, /^E_USAGE: .*DREAMOS_AGENT_ID is not set/);
  });

  it('refuses to start for an agent the workspace does not have', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'mcp'],
      cwd: b.dir,
      env: env({ DREAMOS_AGENT_ID: 'agent-99' }),
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (d) => {
      stderr += d;
    });
    const client = new Client({ name: 'dreamos-test', version: '1.0.0' });
    await expect(client.connect(transport)).rejects.toThrow();
    await client.close();
    expect(stderr).toMatch(/^dreamos: DREAMOS_AGENT_ID names no agent: "agent-99" \(known: agent-1/);
    const r = cli(['mcp'], { cwd: b.dir, env: { DREAMOS_AGENT_ID: 'agent-99' }, input: '' });
    expect([r.code, r.stdout]).toEqual([3, '']);
  });

  it('writes only the protocol on stdout, and exits by itself when stdin closes', async () => {
    const server = await initialized();
    server.child.stdin.end();
    expect(await server.exited).toEqual([0, null]);
    const lines = server.stdout().split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ id: 1, result: { serverInfo: { name: 'dreamos' } } });
    expect(server.stderr()).toBe('');
  });

  it('stops cleanly on SIGTERM, as a client that does not close stdin asks it to', async () => {
    const server = await initialized();
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual([0, null]);
    expect(server.stderr()).toBe('');
    // It let go of the workspace: the CLI writes at once.
    expect(b.add('after the server').status).toBe('ready');
  });
});
