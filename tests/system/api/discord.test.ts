/**
 * Discord's interactions endpoint and `dreamos discord register`, against a fake Discord API on
 * 127.0.0.1: interactions signed with a key made here (valid, forged, replayed, from the future),
 * the allow-list (unknown users, missing scopes), every /dreamos subcommand and an error of each,
 * the deferred answers reaching the fake API, registration with the bot token that never shows,
 * and the endpoint through `dreamos serve` on a real socket. The board is read with the CLI.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiscordAppConfig } from '../../../src/discord/config.js';
import { discordHook } from '../../../src/hooks/discord.js';
import { openWorkspace, type Workspace } from '../../../src/index.js';
import type { Task } from '../../../state/schemas.js';
import { waitFor } from '../../helpers/agents.js';
import { BIN, cli, cliAsync, collectOutput, tempDir } from '../../helpers/workspace.js';

const APP_ID = '111222333444555666';
const ADMIN = '100';
const READER = '200';
const WRITER = '300';
const BOT_TOKEN = 'bot-token-that-must-never-show.abc123';

interface Received {
  method: string;
  url: string;
  authorization: string | undefined;
  body: unknown;
}

/** A fake Discord API: records every request; answers as `reply` says (200 with the body by default). */
async function fakeDiscord() {
  const received: Received[] = [];
  let reply: (r: Received) => { status: number; body: unknown } = (r) => ({
    status: 200,
    body: Array.isArray(r.body) ? r.body.map((c, i) => ({ id: String(900 + i), ...c })) : { id: '1' },
  });
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => {
      raw += d;
    });
    req.on('end', () => {
      const r: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        body: raw ? JSON.parse(raw) : null,
      };
      received.push(r);
      const { status, body } = reply(r);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}/api/v10`,
    received,
    answer: (fn: typeof reply) => {
      reply = fn;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const keys = crypto.generateKeyPairSync('ed25519');
const other = crypto.generateKeyPairSync('ed25519');
/** The raw 32 bytes of the public key, as Discord's developer portal shows them (hex). */
const publicHex = Buffer.from(keys.publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('hex');

const sign = (body: string, timestamp: string, key = keys.privateKey) =>
  crypto.sign(null, Buffer.from(timestamp + body), key).toString('hex');
const nowSeconds = () => String(Math.floor(Date.now() / 1000));

function signedRequest(
  url: string,
  payload: unknown,
  { timestamp = nowSeconds(), key = keys.privateKey }: { timestamp?: string; key?: crypto.KeyObject } = {},
) {
  const body = JSON.stringify(payload);
  return new Request(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-signature-ed25519': sign(body, timestamp, key),
      'x-signature-timestamp': timestamp,
    },
    body,
  });
}

type Value = string | number;
let interactions = 0;

/** An APPLICATION_COMMAND interaction for `/dreamos <path> options…` from a user in a server. */
function command(user: string, commandPath: string, options: Record<string, Value> = {}) {
  const id = `${Date.now()}${++interactions}`;
  const leaf = Object.entries(options).map(([name, value]) => ({
    name,
    type: typeof value === 'number' ? 4 : 3,
    value,
  }));
  const [first, second] = commandPath.split(' ');
  const sub = second
    ? [{ name: first, type: 2, options: [{ name: second, type: 1, options: leaf }] }]
    : [{ name: first, type: 1, options: leaf }];
  return {
    id,
    type: 2,
    application_id: APP_ID,
    token: `interaction-token-${id}`,
    data: { id: '1', name: 'dreamos', type: 1, options: sub },
    member: { user: { id: user, username: `user${user}` } },
  };
}

interface Answer {
  type: number;
  data?: { content: string; flags?: number; allowed_mentions?: { parse: string[] } };
}

describe('the Discord interactions endpoint', () => {
  const tmp = tempDir('dreamos-discord-');
  let discord: Awaited<ReturnType<typeof fakeDiscord>>;
  let ws: Workspace;
  let hook: Hono;
  const run = (...args: string[]) => cli(args, { cwd: tmp.dir });
  const tasks = () => run('task', 'list', '--json').json<Task[]>();

  beforeAll(async () => {
    discord = await fakeDiscord();
    expect(run('init').code).toBe(0);
    const file = path.join(tmp.dir, '.dreamos', 'config.json');
    const config = JSON.parse(fs.readFileSync(file, 'utf8'));
    config.discord = {
      applicationId: APP_ID,
      publicKey: publicHex,
      apiBase: discord.base,
      users: { [ADMIN]: ['admin'], [READER]: ['read'], [WRITER]: ['read', 'tasks:write'] },
    };
    fs.writeFileSync(file, JSON.stringify(config, null, 2));
    ws = await openWorkspace({ home: tmp.dir, share: false });
    hook = discordHook({ workspace: ws, config: DiscordAppConfig.parse(config.discord), log: () => {} });
  });
  afterAll(async () => {
    await ws?.close();
    await discord?.close();
    tmp.cleanup();
  });

  const post = async (request: Request) => {
    const response = await hook.fetch(request);
    return { status: response.status, body: (await response.json()) as Answer };
  };
  const interact = (payload: unknown, options?: Parameters<typeof signedRequest>[2]) =>
    post(signedRequest('http://local/discord', payload, options));

  /** Run a command; a deferred one is answered with what reached the fake API. */
  async function ask(user: string, commandPath: string, options: Record<string, Value> = {}) {
    const payload = command(user, commandPath, options);
    const { status, body } = await interact(payload);
    expect(status).toBe(200);
    if (body.type === 4) return { deferred: false, ...body.data! };
    expect(body.type).toBe(5);
    const url = `/api/v10/webhooks/${APP_ID}/${payload.token}/messages/@original`;
    await waitFor(() => discord.received.some((r) => r.url === url));
    const sent = discord.received.find((r) => r.url === url)!;
    expect(sent.method).toBe('PATCH');
    return { deferred: true, ...(sent.body as NonNullable<Answer['data']>) };
  }

  it('answers PING with PONG', async () => {
    expect(await interact({ id: '1', type: 1 })).toEqual({ status: 200, body: { type: 1 } });
  });

  it('refuses with 401 a forged signature, a changed body, an old or future timestamp, or none', async () => {
    const ping = { id: '1', type: 1 };
    expect((await interact(ping, { key: other.privateKey })).status).toBe(401);
    const old = String(Math.floor(Date.now() / 1000) - 600);
    expect((await interact(ping, { timestamp: old })).status).toBe(401);
    const future = String(Math.floor(Date.now() / 1000) + 600);
    expect((await interact(ping, { timestamp: future })).status).toBe(401);
    const good = signedRequest('http://local/discord', ping);
    const changed = new Request(good.url, {
      method: 'POST',
      headers: good.headers,
      body: JSON.stringify({ ...ping, id: '2' }),
    });
    expect((await post(changed)).status).toBe(401);
    const unsigned = new Request('http://local/discord', { method: 'POST', body: JSON.stringify(ping) });
    expect((await post(unsigned)).status).toBe(401);
  });

  it('refuses a signed command played a second time, changing nothing', async () => {
    const before = tasks().length;
    const request = signedRequest('http://local/discord', command(ADMIN, 'status'));
    const again = request.clone();
    expect((await post(request)).status).toBe(200);
    expect((await post(again)).status).toBe(401);
    expect(tasks()).toHaveLength(before);
  });

  it('refuses a user the allow-list does not name, politely and only to them, changing nothing', async () => {
    const before = tasks().length;
    const answer = await ask('999', 'task add', { title: 'from a stranger' });
    expect(answer.deferred).toBe(false);
    expect(answer.flags).toBe(64);
    expect(answer.content).toMatch(/does not take commands from you/);
    expect(tasks()).toHaveLength(before);
  });

  it('refuses a user lacking the scope, naming it', async () => {
    const before = tasks().length;
    const answer = await ask(READER, 'task add', { title: 'not allowed' });
    expect(answer.flags).toBe(64);
    expect(answer.content).toContain('tasks:write');
    expect(tasks()).toHaveLength(before);
    const pause = await ask(WRITER, 'pause', { agent: 'agent-1' });
    expect(pause.content).toContain('agents:control');
  });

  it('refuses options of the wrong type: nothing is read from free text', async () => {
    const answer = await ask(ADMIN, 'task add', { title: 42 });
    expect(answer.flags).toBe(64);
    expect(answer.content).toMatch(/unexpected option title/);
  });

  it('adds a task that waits for approval, and lets a user with tasks:approve approve it', async () => {
    const added = await ask(WRITER, 'task add', {
      title: 'Fix the @everyone bug',
      prompt: 'reproduce first',
      priority: 'high',
    });
    expect(added.deferred).toBe(true);
    expect(added.allowed_mentions).toEqual({ parse: [] });
    expect(added.content).toMatch(/^Added T-\d+ .*waits for approval/);
    const id = /T-\d+/.exec(added.content)![0];
    const task = tasks().find((t) => t.id === id)!;
    expect(task).toMatchObject({ title: 'Fix the @everyone bug', source: 'discord', priority: 'high' });
    expect(task.status).toBe('backlog');

    const refused = await ask(WRITER, 'approve', { id });
    expect(refused.content).toContain('tasks:approve');
    const approved = await ask(ADMIN, 'approve', { id });
    expect(approved.content).toMatch(new RegExp(`^Approved ${id}`));
    expect(tasks().find((t) => t.id === id)!.status).toBe('ready');
  });

  it('adds a task ready to run for a user who may approve', async () => {
    const added = await ask(ADMIN, 'task add', { title: 'Ready at once' });
    const id = /T-\d+/.exec(added.content)![0];
    expect(tasks().find((t) => t.id === id)).toMatchObject({ source: 'discord', status: 'ready' });
  });

  it('cancels and retries a task', async () => {
    const added = await ask(ADMIN, 'task add', { title: 'To cancel' });
    const id = /T-\d+/.exec(added.content)![0];
    expect((await ask(ADMIN, 'cancel', { id })).content).toMatch(new RegExp(`^Cancelled ${id}`));
    expect(tasks().find((t) => t.id === id)!.status).toBe('cancelled');
    expect((await ask(WRITER, 'retry', { id })).content).toMatch(/is ready again/);
    expect(tasks().find((t) => t.id === id)!.status).toBe('ready');
    const again = await ask(ADMIN, 'cancel', { id });
    expect(again.content).toMatch(/^Cancelled/);
    // Cancelling what is already cancelled fails after the deferral, and says so.
    const twice = await ask(ADMIN, 'cancel', { id });
    expect(twice.deferred).toBe(true);
    expect(twice.content).toMatch(/^\/dreamos cancel failed: .*cancelled/);
  });

  it('answers an unknown task id at once, only to its author, for approve, retry and cancel', async () => {
    for (const sub of ['approve', 'retry', 'cancel']) {
      const answer = await ask(ADMIN, sub, { id: 'T-99999' });
      expect(answer.deferred).toBe(false);
      expect(answer.flags).toBe(64);
      expect(answer.content).toMatch(new RegExp(`^Cannot run /dreamos ${sub}: .*T-99999`));
    }
  });

  it('pauses and resumes an agent, and names an unknown one', async () => {
    const state = () =>
      run('agent', 'list', '--json')
        .json<Array<{ id: string; state: { paused: boolean } }>>()
        .find((a) => a.id === 'agent-2')!.state.paused;
    expect((await ask(ADMIN, 'pause', { agent: 'agent-2' })).content).toMatch(/^Paused agent-2/);
    expect(state()).toBe(true);
    expect((await ask(ADMIN, 'resume', { agent: 'agent-2' })).content).toMatch(/^Resumed agent-2/);
    expect(state()).toBe(false);
    const unknown = await ask(ADMIN, 'pause', { agent: 'agent-99' });
    expect(unknown).toMatchObject({ deferred: false, flags: 64 });
    expect(unknown.content).toMatch(/agent-99/);
  });

  it('sends mail, and names an unknown recipient', async () => {
    const sent = await ask(WRITER, 'mail', { to: 'agent-3', text: 'please look at the \u001b[31mlogs' });
    expect(sent.content).toMatch(/^Sent to agent-3/);
    const mail = cli(['mail', 'list', '--agent', 'agent-3', '--json'], { cwd: tmp.dir }).json<
      Array<{ body: string }>
    >();
    expect(mail.some((m) => m.body.includes('please look at the') && m.body.includes(WRITER))).toBe(true);
    const unknown = await ask(WRITER, 'mail', { to: 'nobody', text: 'hello' });
    expect(unknown).toMatchObject({ deferred: false, flags: 64 });
    expect(unknown.content).toMatch(/nobody/);
  });

  it('shows the status and the attention list at once, to the channel', async () => {
    // A task from a writer waits for approval: both lists say so.
    const added = await ask(WRITER, 'task add', { title: 'Waiting here' });
    const id = /T-\d+/.exec(added.content)![0];
    const backlog = tasks().filter((t) => t.status === 'backlog').length;
    const status = await ask(READER, 'status');
    expect(status.deferred).toBe(false);
    expect(status.flags).toBeUndefined();
    expect(status.content).toContain(`${backlog} backlog`);
    expect(status.content).toMatch(/8 agents/);
    const attention = await ask(READER, 'attention');
    expect(attention.deferred).toBe(false);
    expect(attention.content.length).toBeLessThanOrEqual(2000);
    expect(attention.content).toMatch(new RegExp(`: ${id} Waiting here`));
  });
});

describe('dreamos discord register', () => {
  const tmp = tempDir('dreamos-discord-register-');
  let discord: Awaited<ReturnType<typeof fakeDiscord>>;
  beforeAll(async () => {
    discord = await fakeDiscord();
    expect(cli(['init'], { cwd: tmp.dir }).code).toBe(0);
    const file = path.join(tmp.dir, '.dreamos', 'config.json');
    const config = JSON.parse(fs.readFileSync(file, 'utf8'));
    config.discord = { applicationId: APP_ID, publicKey: publicHex, apiBase: discord.base, users: {} };
    fs.writeFileSync(file, JSON.stringify(config));
  });
  afterAll(async () => {
    await discord?.close();
    tmp.cleanup();
  });
  const register = (args: string[], env: Record<string, string>) =>
    cliAsync(['discord', 'register', ...args], { cwd: tmp.dir, env });

  it('installs the command definitions with the bot token from the environment, never showing it', async () => {
    const r = await register(['--json'], { DREAMOS_DISCORD_BOT_TOKEN: BOT_TOKEN });
    expect(r.code, r.stderr).toBe(0);
    const put = discord.received.at(-1)!;
    expect(put).toMatchObject({ method: 'PUT', url: `/api/v10/applications/${APP_ID}/commands` });
    expect(put.authorization).toBe(`Bot ${BOT_TOKEN}`);
    const [definition] = put.body as Array<{ name: string; options: Array<{ name: string; type: number }> }>;
    expect(definition!.name).toBe('dreamos');
    expect(definition!.options.map((o) => o.name).sort()).toEqual(
      ['approve', 'attention', 'cancel', 'mail', 'pause', 'resume', 'retry', 'status', 'task'].sort(),
    );
    expect(r.json<{ commands: Array<{ name: string }> }>().commands[0]!.name).toBe('dreamos');
    expect(r.stdout + r.stderr).not.toContain(BOT_TOKEN);
  });

  it('installs in one server with --guild, the token read from a file only the user may read', async () => {
    const file = path.join(tmp.dir, '.dreamos', 'bot-token');
    fs.writeFileSync(file, `${BOT_TOKEN}\n`, { mode: 0o600 });
    const config = path.join(tmp.dir, '.dreamos', 'config.json');
    const parsed = JSON.parse(fs.readFileSync(config, 'utf8'));
    parsed.discord.botTokenFile = 'bot-token';
    fs.writeFileSync(config, JSON.stringify(parsed));
    const r = await register(['--guild', '424242'], {});
    expect(r.code, r.stderr).toBe(0);
    expect(discord.received.at(-1)!.url).toBe(`/api/v10/applications/${APP_ID}/guilds/424242/commands`);
    expect(r.stderr).toMatch(/in server 424242/);
    fs.chmodSync(file, 0o644);
    const loose = await register([], {});
    expect(loose.code).not.toBe(0);
    expect(loose.stderr).toMatch(/chmod 600/);
    expect(loose.stdout + loose.stderr).not.toContain(BOT_TOKEN);
  });

  it("names the token's source when Discord refuses it, never the token", async () => {
    discord.answer(() => ({ status: 401, body: { message: `401: Unauthorized ${BOT_TOKEN}`, code: 0 } }));
    const r = await register([], { DREAMOS_DISCORD_BOT_TOKEN: BOT_TOKEN });
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/refused the bot token from DREAMOS_DISCORD_BOT_TOKEN/);
    expect(r.stdout + r.stderr).not.toContain(BOT_TOKEN);
  });
});

describe('the Discord endpoint through dreamos serve', () => {
  const tmp = tempDir('dreamos-discord-serve-');
  let child: ChildProcess | undefined;
  let discord: Awaited<ReturnType<typeof fakeDiscord>>;
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await discord?.close();
    tmp.cleanup();
  });

  it('answers signed interactions on a real socket beside the GitHub hook, and refuses unsigned ones', async () => {
    discord = await fakeDiscord();
    expect(cli(['init'], { cwd: tmp.dir }).code).toBe(0);
    const file = path.join(tmp.dir, '.dreamos', 'config.json');
    const config = JSON.parse(fs.readFileSync(file, 'utf8'));
    config.discord = {
      applicationId: APP_ID,
      publicKey: publicHex,
      apiBase: discord.base,
      users: { [ADMIN]: ['admin'] },
    };
    // The GitHub hook is served beside it, each at its own path.
    config.github = { repos: ['owner/repo'], poll: false };
    fs.writeFileSync(file, JSON.stringify(config));
    child = spawn(process.execPath, [BIN, 'serve', '--listen', '127.0.0.1:0', '--json'], {
      cwd: tmp.dir,
      env: { ...process.env, DREAMOS_GITHUB_WEBHOOK_SECRET: 'a secret' },
    });
    const output = collectOutput(child);
    await waitFor(() => output.stdout().includes('\n') || child!.exitCode !== null, 30_000);
    const { origin } = JSON.parse(output.stdout().split('\n')[0]!) as { origin: string };
    const url = `${origin}/hooks/discord`;

    const pong = await fetch(signedRequest(url, { id: '1', type: 1 }));
    expect(pong.status).toBe(200);
    expect(await pong.json()).toEqual({ type: 1 });
    const unsigned = await fetch(url, { method: 'POST', body: '{"id":"1","type":1}' });
    expect(unsigned.status).toBe(401);
    const github = await fetch(`${origin}/hooks/github`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'ping' },
      body: '{}',
    });
    expect(github.status).toBe(401);
    expect(await github.text()).toMatch(/X-Hub-Signature-256/);

    const payload = command(ADMIN, 'task add', { title: 'Over the socket' });
    const deferred = await fetch(signedRequest(url, payload));
    expect(await deferred.json()).toEqual({ type: 5 });
    const followUp = `/api/v10/webhooks/${APP_ID}/${payload.token}/messages/@original`;
    await waitFor(() => discord.received.some((r) => r.url === followUp), 30_000);
    expect(cli(['task', 'list', '--json'], { cwd: tmp.dir }).json<Task[]>()).toEqual([
      expect.objectContaining({ title: 'Over the socket', source: 'discord', status: 'ready' }),
    ]);
    child.kill('SIGTERM');
    await new Promise((resolve) => child!.once('close', resolve));
  });
});
