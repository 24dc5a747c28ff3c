/**
 * An llm agent in a real workspace, driven through the CLI against a fake endpoint on 127.0.0.1:
 * its API key never reaches other agents' programs, and an outcome the board cannot record as the
 * server sent it still ends the task.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Task } from '../../../state/schemas.js';
import { type FakeServer, fakeLlm, type Handler, textReply } from '../../helpers/fake-llm.js';
import { cli, cliAsync, tempDir } from '../../helpers/workspace.js';

let tmp: { dir: string; cleanup: () => void };
let server: FakeServer | null = null;

beforeEach(() => {
  tmp = tempDir('dreamos-llm-e2e-');
  expect(cli(['init'], { cwd: tmp.dir }).code).toBe(0);
});
afterEach(async () => {
  await server?.close();
  server = null;
  tmp.cleanup();
});

const KEY = 'sk-e2e-configured-secret';
const OPENAI = 'sk-e2e-well-known-secret';
const ENV = { DREAMOS_E2E_KEY: KEY, OPENAI_API_KEY: OPENAI };

/** agent-1 becomes an llm agent (role `llm`) on the fake server; the others stay shell agents. */
async function useLlm(
  script: Handler[],
  fallback?: Handler,
  prices?: Record<string, { inputPerMTok: number; outputPerMTok: number }>,
): Promise<FakeServer> {
  server = await fakeLlm(script, fallback);
  const file = path.join(tmp.dir, '.dreamos', 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8'));
  config.agents[0] = {
    ...config.agents[0],
    role: 'llm',
    driver: { kind: 'llm', baseUrl: server.baseUrl, model: 'fake', apiKeyEnv: 'DREAMOS_E2E_KEY' },
  };
  if (prices) config.prices = prices;
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  return server;
}

const run = (...args: string[]) => cli(args, { cwd: tmp.dir, env: ENV });
const task = (id: string) => run('task', 'show', id, '--json').json<Task>();

/** Every file under .dreamos that contains the text. */
function filesContaining(text: string): string[] {
  const home = path.join(tmp.dir, '.dreamos');
  return (fs.readdirSync(home, { recursive: true }) as string[]).filter((name) => {
    const file = path.join(home, name);
    return fs.statSync(file).isFile() && fs.readFileSync(file, 'utf8').includes(text);
  });
}

describe('an llm agent in a workspace', () => {
  it("its API key and the well-known key variables never reach another agent's program", async () => {
    await useLlm([]);
    const added = run(
      'task',
      'add',
      'env dump',
      '--run',
      'env | grep -i key; echo end',
      '--role',
      'infrastructure',
      '--json',
    );
    expect(added.code, added.stderr).toBe(0);
    const id = added.json<Task>().id;
    const r = await cliAsync(['run', '--until-idle'], { cwd: tmp.dir, env: ENV });
    expect(r.code, r.stderr).toBe(0);
    const done = task(id);
    expect(done.status).toBe('done');
    expect(done.result?.summary).toBe('end');
    expect(filesContaining(KEY)).toEqual([]);
    expect(filesContaining(OPENAI)).toEqual([]);
    expect(`${r.stdout}${r.stderr}`).not.toContain('secret');
  });
});

describe('an llm outcome the board would refuse as sent', () => {
  const addPrompt = () => {
    const r = run(
      'task',
      'add',
      'llm task',
      '--role',
      'llm',
      '--prompt',
      'do it',
      '--max-attempts',
      '1',
      '--json',
    );
    expect(r.code, r.stderr).toBe(0);
    return r.json<Task>().id;
  };

  it('fractional and negative token counts: the task is done, with the usage rounded and clamped', async () => {
    await useLlm([textReply(['all done'], { prompt_tokens: 12.7, completion_tokens: -3 })]);
    const id = addPrompt();
    const r = await cliAsync(['run', '--until-idle', '--agents', 'agent-1'], { cwd: tmp.dir, env: ENV });
    expect(r.code, r.stderr).toBe(0);
    expect(task(id)).toMatchObject({
      status: 'done',
      result: { ok: true, summary: 'all done', usage: { inputTokens: 13, outputTokens: 0 } },
    });
  }, 60_000);

  it('an error message over 20,000 characters: the task fails with it cut', async () => {
    const longError: Handler = (res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(`data: ${JSON.stringify({ error: { message: 'overloaded '.repeat(3000) } })}\n\n`);
    };
    await useLlm([longError]);
    const id = addPrompt();
    const r = await cliAsync(['run', '--until-idle', '--agents', 'agent-1'], { cwd: tmp.dir, env: ENV });
    // 7: a task of the run ended failed.
    expect(r.code, r.stderr).toBe(7);
    const failed = task(id);
    expect(failed).toMatchObject({ status: 'failed', result: { ok: false, errorCode: 'E_LLM' } });
    expect(failed.result!.error).toMatch(/^the server reported: overloaded/);
  }, 60_000);
});

describe('the cost of an llm agent', () => {
  const addPrompt = () =>
    run('task', 'add', 'llm task', '--role', 'llm', '--prompt', 'do it', '--json').json<Task>().id;
  const usage = { prompt_tokens: 1_000_000, completion_tokens: 500_000 };

  it('comes from the price table in config.json, in the task and in stats', async () => {
    await useLlm([textReply(['done'], usage)], undefined, { fake: { inputPerMTok: 2, outputPerMTok: 8 } });
    const id = addPrompt();
    const r = await cliAsync(['run', '--until-idle', '--agents', 'agent-1'], { cwd: tmp.dir, env: ENV });
    expect(r.code, r.stderr).toBe(0);
    expect(task(id).result?.usage).toEqual({ inputTokens: 1_000_000, outputTokens: 500_000, usd: 6 });
    const stats = run('stats');
    expect(stats.stdout).toMatch(/usage\s+1000000 tokens in, 500000 out, \$6\.00\n/);
  }, 60_000);

  it('is unknown, never $0.00, for a model without a price', async () => {
    await useLlm([textReply(['done'], usage)]);
    const id = addPrompt();
    const r = await cliAsync(['run', '--until-idle', '--agents', 'agent-1'], { cwd: tmp.dir, env: ENV });
    expect(r.code, r.stderr).toBe(0);
    expect(task(id).result?.usage).toEqual({ inputTokens: 1_000_000, outputTokens: 500_000 });
    const stats = run('stats');
    expect(stats.stdout).toContain(
      '1000000 tokens in, 500000 out, unknown (1 attempt of a model without a price',
    );
    expect(stats.stdout).not.toContain('$0.00');
    const row = stats.stdout.split('\n').find((line) => line.startsWith('agent-1'));
    expect(row).toContain('unknown');
  }, 60_000);
});
