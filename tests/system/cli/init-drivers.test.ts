/**
 * Agents that can take prompts from the start: `init` finds agent CLIs on the PATH, an OpenAI key
 * or an Ollama server and gives them to the agents that take prompts, or says plainly how to set
 * one; `doctor` checks each agent's driver. The machine is faked: a PATH of fake `claude` and
 * `codex` scripts, and fake endpoints on 127.0.0.1.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Config } from '../../../src/config.js';
import type { Task } from '../../../state/schemas.js';
import { dreamos, show } from '../../helpers/cli.js';
import { type FakeServer, fakeLlm } from '../../helpers/fake-llm.js';
import { cliAsync, tempDir } from '../../helpers/workspace.js';

vi.setConfig({ testTimeout: 180_000 });

let tmp: { dir: string; cleanup: () => void };
let bin: string;
let closedPort: number;
const servers: FakeServer[] = [];

beforeEach(async () => {
  tmp = tempDir('dreamos-init-');
  bin = path.join(tmp.dir, 'bin');
  fs.mkdirSync(bin);
  // A port nothing listens on: bound, then closed.
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  tmp.cleanup();
});

/** A fake agent CLI: prints its arguments, and a line that shows it ran. */
function fakeCli(name: string): void {
  const file = path.join(bin, name);
  fs.writeFileSync(file, `#!/bin/sh\necho "${name} ran with: $*"\n`);
  fs.chmodSync(file, 0o755);
}

/** The machine as init sees it: only our bin on the PATH (and /bin for the scripts' shell). */
const machine = (extra: Record<string, string> = {}) => ({
  PATH: `${bin}:/usr/bin:/bin`,
  OPENAI_API_KEY: '',
  OLLAMA_HOST: `127.0.0.1:${closedPort}`,
  ...extra,
});

const config = (dir: string): Config =>
  JSON.parse(fs.readFileSync(path.join(dir, '.dreamos', 'config.json'), 'utf8'));
const drivers = (dir: string) => Object.fromEntries(config(dir).agents.map((a) => [a.id, a.driver]));

describe('init finds what can take prompt tasks', () => {
  it('gives a CLI found on the PATH to the agents that take prompts, and their prompt tasks run', async () => {
    fakeCli('claude');
    fakeCli('codex');
    const env = machine();
    const r = dreamos(['init', '--driver', 'auto'], { cwd: tmp.dir, env });
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toContain(
      `found Claude Code (${path.join(bin, 'claude')}): agent-1 Captain, agent-6 Feedback`,
    );
    expect(r.stdout).toMatch(
      /also found Codex CLI .*"argv":\["codex","exec","--","\{prompt\}"\],"passEnv":\["OPENAI_API_KEY"\]/,
    );
    const d = drivers(tmp.dir);
    expect(d['agent-1']).toMatchObject({
      kind: 'command',
      argv: ['claude', '-p', '--output-format', 'text', '--', '{prompt}'],
      // The one key this CLI may log in with: driven programs get no other.
      passEnv: ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN'],
    });
    expect([d['agent-6']?.kind, d['agent-7']?.kind]).toEqual(['command', 'command']);
    expect(d['agent-2']).toMatchObject({ kind: 'shell' });

    // A prompt task is taken at once: no warning, and a run does it through the fake claude.
    const added = dreamos(['task', 'add', 'Write the docs', '--prompt', 'write the docs', '--json'], {
      cwd: tmp.dir,
      env,
    });
    expect(added.stderr).toBe('');
    const task = added.json<Task>();
    const run = dreamos(['run', '--until-idle', '--quiet'], { cwd: tmp.dir, env });
    expect(run.code, show(run)).toBe(0);
    const done = dreamos(['task', 'show', task.id, '--json'], { cwd: tmp.dir, env }).json<Task>();
    expect(done.status).toBe('done');
    const log = fs.readFileSync(
      path.join(tmp.dir, '.dreamos', 'logs', done.agent!, `${task.id}.log`),
      'utf8',
    );
    expect(log).toContain('claude ran with: -p --output-format text -- write the docs');
  });

  it('says plainly that prompt tasks need a driver, and how to set one, when it finds none', () => {
    const r = dreamos(['init', '--driver', 'auto', '--json'], { cwd: tmp.dir, env: machine() });
    expect(r.code, show(r)).toBe(0);
    expect(r.json()).toMatchObject({ drivers: { found: [], chosen: null, agents: [] } });
    expect(Object.values(drivers(tmp.dir)).every((d) => d.kind === 'shell')).toBe(true);
    const other = path.join(tmp.dir, 'other');
    fs.mkdirSync(other);
    const text = dreamos(['init', '--driver', 'auto'], { cwd: other, env: machine() });
    expect(text.stdout).toMatch(
      /found no agent CLI \(claude, codex, gemini, aider\) on the PATH, no OPENAI_API_KEY/,
    );
    expect(text.stdout).toContain(
      `prompt tasks need a driver: set an agent's "driver" in .dreamos/config.json, e.g. {"kind":"command","argv":["claude","-p","--","{prompt}"],"passEnv":["ANTHROPIC_API_KEY"]}`,
    );
  });

  it('uses OPENAI_API_KEY when no CLI is on the PATH, naming the variable and never its value', () => {
    const r = dreamos(['init', '--driver', 'auto'], {
      cwd: tmp.dir,
      env: machine({ OPENAI_API_KEY: 'sk-secret' }),
    });
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toContain('found OpenAI API (OPENAI_API_KEY)');
    expect(r.stdout).not.toContain('sk-secret');
    expect(drivers(tmp.dir)['agent-1']).toMatchObject({
      kind: 'llm',
      baseUrl: 'https://api.openai.com/v1',
      apiKeyEnv: 'OPENAI_API_KEY',
    });
    expect(fs.readFileSync(path.join(tmp.dir, '.dreamos', 'config.json'), 'utf8')).not.toContain('sk-secret');
  });

  it('uses a reachable Ollama server with a model it has', async () => {
    const ollama = await fakeLlm([], (res, req) => {
      res.writeHead(req.url === '/api/tags' ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ models: [{ name: 'qwen2.5:0.5b' }] }));
    });
    servers.push(ollama);
    const host = ollama.baseUrl.replace(/\/v1$/, '');
    const r = await cliAsync(['init', '--driver', 'auto'], {
      cwd: tmp.dir,
      env: machine({ OLLAMA_HOST: host }),
    });
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toContain(`found Ollama (qwen2.5:0.5b) (${host})`);
    expect(drivers(tmp.dir)['agent-7']).toMatchObject({
      kind: 'llm',
      baseUrl: `${host}/v1`,
      model: 'qwen2.5:0.5b',
    });
    expect(ollama.requests.map((q) => q.url)).toEqual(['/api/tags']);
  });

  it('refuses a --driver it cannot find, and creates nothing; --driver shell finds nothing', () => {
    const r = dreamos(['init', '--driver', 'claude'], { cwd: tmp.dir, env: machine() });
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toMatch(/^dreamos: --driver claude: not found here \(claude is not on the PATH\)\n$/);
    expect(fs.existsSync(path.join(tmp.dir, '.dreamos'))).toBe(false);
    fakeCli('claude');
    const shell = dreamos(['init', '--driver', 'shell'], { cwd: tmp.dir, env: machine() });
    expect(shell.code, show(shell)).toBe(0);
    expect(Object.values(drivers(tmp.dir)).every((d) => d.kind === 'shell')).toBe(true);
  });
});

interface DoctorJson {
  ok: boolean;
  drivers: Array<{ agent: string; kind: string; ok: boolean; message: string }>;
}

describe("doctor checks each agent's driver", () => {
  it('finds a command driver’s program on the PATH, or says it is missing', () => {
    fakeCli('claude');
    expect(dreamos(['init', '--driver', 'claude'], { cwd: tmp.dir, env: machine() }).code).toBe(0);
    const fine = dreamos(['doctor', '--json'], { cwd: tmp.dir, env: machine() });
    expect(fine.code, show(fine)).toBe(0);
    expect(fine.json<DoctorJson>().drivers.every((c) => c.ok)).toBe(true);

    fs.rmSync(path.join(bin, 'claude'));
    const missing = dreamos(['doctor'], { cwd: tmp.dir, env: machine() });
    expect(missing.code, show(missing)).toBe(0); // not corruption: the board is fine
    expect(missing.stdout).toContain('drivers: 3 of 8 agents cannot run their tasks here:');
    expect(missing.stdout).toContain('WARNING  driver: agent-1 (command): claude is not on the PATH');
  });

  it('checks an llm driver’s API key variable and that its endpoint answers', async () => {
    expect(dreamos(['init', '--driver', 'shell'], { cwd: tmp.dir, env: machine() }).code).toBe(0);
    const server = await fakeLlm([], (res) => {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"no key"}');
    });
    servers.push(server);
    const file = path.join(tmp.dir, '.dreamos', 'config.json');
    const c = config(tmp.dir);
    c.agents[0]!.driver = {
      kind: 'llm',
      baseUrl: server.baseUrl,
      model: 'm',
      apiKeyEnv: 'FAKE_LLM_KEY',
    } as never;
    c.agents[1]!.driver = { kind: 'llm', baseUrl: `http://127.0.0.1:${closedPort}/v1`, model: 'm' } as never;
    fs.writeFileSync(file, JSON.stringify(c, null, 2));

    const doctor = async (env: Record<string, string>) =>
      (await cliAsync(['doctor', '--json'], { cwd: tmp.dir, env: machine(env) })).json<DoctorJson>().drivers;
    const unset = await doctor({});
    expect(unset.find((d) => d.agent === 'agent-1')).toMatchObject({
      ok: false,
      message: 'agent-1 (llm): FAKE_LLM_KEY is not set',
    });
    expect(unset.find((d) => d.agent === 'agent-2')?.message).toMatch(
      new RegExp(`^agent-2 \\(llm\\): http://127.0.0.1:${closedPort}/v1 does not answer \\(ECONNREFUSED\\)$`),
    );
    const set = await doctor({ FAKE_LLM_KEY: 'k' });
    expect(set.find((d) => d.agent === 'agent-1')).toMatchObject({ ok: true });
    expect(server.requests.map((q) => q.url)).toEqual(['/v1/models', '/v1/models']);
  });
});
