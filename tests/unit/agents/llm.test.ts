/**
 * The llm driver against a fake OpenAI-compatible server on 127.0.0.1: streaming, the tool-call
 * loop, usage, retries on 429/5xx, timeouts, stop(), and the API key kept out of logs.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLlmDriver, type LlmOptions } from '../../../agents/drivers/llm.js';
import { costUsd, DEFAULT_PRICES, priceOf } from '../../../agents/drivers/prices.js';
import type { Driver } from '../../../src/config.js';
import { makeAgent, makeCheckpoint, makeContext, makeMail, makeTask, waitFor } from '../../helpers/agents.js';
import {
  type FakeServer,
  fakeLlm,
  type Handler,
  hang,
  status,
  textReply,
  toolReply,
} from '../../helpers/fake-llm.js';
import { tempDir } from '../../helpers/workspace.js';

let dir: string;
let cleanup: () => void;
let server: FakeServer | null = null;

beforeEach(() => {
  ({ dir, cleanup } = tempDir('dreamos-llm-'));
});
afterEach(async () => {
  await server?.close();
  server = null;
  cleanup();
});

const KEY = 'sk-test-secret-123';

async function setup(
  script: Handler[],
  config: Partial<Extract<Driver, { kind: 'llm' }>> = {},
  options: LlmOptions = {},
  fallback?: Handler,
) {
  server = await fakeLlm(script, fallback);
  const driverConfig: Extract<Driver, { kind: 'llm' }> = {
    kind: 'llm',
    baseUrl: server.baseUrl,
    model: 'fake-model',
    apiKeyEnv: 'FAKE_API_KEY',
    requestTimeoutSeconds: 30,
    contextBudgetTokens: 100_000,
    ...config,
  };
  const driver = createLlmDriver(driverConfig, { env: { FAKE_API_KEY: KEY }, backoffMs: 10, ...options });
  const { ctx, rec } = makeContext(dir, {
    driver: driverConfig,
    agent: makeAgent(driverConfig, { systemPrompt: 'You are the Task Engineer.' }),
    task: makeTask({ title: 'Write the parser', prompt: 'Parse the config file.' }),
  });
  return { driver, ctx, rec, server };
}

describe('llm driver', () => {
  it('streams text line by line, sends the context, and records usage', async () => {
    const { driver, ctx, rec, server } = await setup([textReply(['Hello, wor', 'ld!\nSecond ', 'line'])]);
    ctx.checkpoint = makeCheckpoint({ summary: 'half-way: tokenizer done' });
    ctx.mailbox = [
      makeMail(),
      makeMail({ id: 'M-0000B', type: 'directive', directive: 'pause', body: 'pause' }),
    ];
    const outcome = await driver.start(ctx).done;
    expect(outcome).toEqual({
      ok: true,
      summary: 'Hello, world!\nSecond line',
      usage: { inputTokens: 10, outputTokens: 5 },
    });
    expect(rec.lines.map((l) => l.line)).toEqual(['Hello, world!', 'Second line']);

    const [request] = server.requests;
    expect(request!.url).toBe('/v1/chat/completions');
    expect(request!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(request!.body).toMatchObject({
      model: 'fake-model',
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(request!.body.tools!.map((t) => t.function.name)).toEqual([
      'create_subtask',
      'send_message',
      'report_progress',
      'finish_task',
      'fail_task',
    ]);
    const [system, user] = request!.body.messages;
    expect(system).toMatchObject({ role: 'system' });
    expect(system!.content).toContain('You are the Task Engineer.');
    expect(user!.content).toContain('Write the parser');
    expect(user!.content).toContain('Parse the config file.');
    expect(user!.content).toContain('half-way: tokenizer done');
    expect(user!.content).toContain('please keep the public API unchanged');
    expect(user!.content).not.toContain('pause');
    expect(fs.readFileSync(ctx.logPath, 'utf8')).not.toContain(KEY);
  });

  it('runs a tool-call round trip until finish_task, summing usage over the turns', async () => {
    const { driver, ctx, rec, server } = await setup([
      toolReply([
        { name: 'create_subtask', args: { title: 'Write tests', role: 'testing', priority: 'high' } },
        { name: 'report_progress', args: { progress: 0.5, step: 'parser written' } },
        { name: 'send_message', args: { to: 'nobody', body: 'hi' } },
        { name: 'send_message', args: { to: 'agent-8', body: 'tests please' } },
      ]),
      toolReply([{ name: 'finish_task', args: { summary: 'parser done, tests requested' } }]),
    ]);
    const outcome = await driver.start(ctx).done;
    expect(outcome).toEqual({
      ok: true,
      summary: 'parser done, tests requested',
      usage: { inputTokens: 40, outputTokens: 16 },
    });
    expect(rec.subtasks).toEqual([{ title: 'Write tests', role: 'testing', priority: 'high' }]);
    expect(rec.progress).toEqual([0.5]);
    expect(rec.checkpoints).toEqual([{ progress: 0.5, step: 'parser written' }]);
    expect(rec.messages).toEqual([{ to: 'agent-8', body: 'tests please' }]);

    // The second request carries the assistant's tool calls and one result per call.
    const messages = server.requests[1]!.body.messages;
    expect(messages[2]).toMatchObject({ role: 'assistant' });
    expect(messages[2]!.tool_calls).toHaveLength(4);
    const results = messages.filter((m) => m.role === 'tool');
    expect(results.map((m) => m.tool_call_id)).toEqual(['call_0', 'call_1', 'call_2', 'call_3']);
    expect(JSON.parse(results[0]!.content!)).toEqual({ ok: true, id: 'T-00001' });
    expect(JSON.parse(results[2]!.content!)).toEqual({ error: 'unknown recipient nobody' });
  });

  it('ends with E_FAILED when the model calls fail_task', async () => {
    const { driver, ctx } = await setup([
      toolReply([{ name: 'fail_task', args: { reason: 'the spec contradicts itself' } }]),
    ]);
    expect(await driver.start(ctx).done).toMatchObject({
      ok: false,
      errorCode: 'E_FAILED',
      error: 'the spec contradicts itself',
    });
  });

  it('retries after a 429 (Retry-After) and 5xx, then succeeds', async () => {
    const { driver, ctx, server } = await setup([
      status(429, { 'retry-after': '0' }),
      status(503),
      textReply(['done']),
    ]);
    const outcome = await driver.start(ctx).done;
    expect(outcome).toMatchObject({ ok: true, summary: 'done' });
    expect(server.requests).toHaveLength(3);
    const log = fs.readFileSync(ctx.logPath, 'utf8');
    expect(log).toContain('HTTP 429');
    expect(log).toContain('HTTP 503');
  });

  it('gives up after the attempts and reports E_HTTP', async () => {
    const { driver, ctx, server } = await setup([], {}, { maxAttempts: 3 }, status(500));
    const outcome = await driver.start(ctx).done;
    expect(outcome).toMatchObject({ ok: false, errorCode: 'E_HTTP' });
    expect(outcome.error).toContain('gave up after 3 attempts');
    expect(server.requests).toHaveLength(3);
  });

  it('does not retry a 401, and redacts the key from the error', async () => {
    const { driver, ctx, server } = await setup([status(401, {}, `{"error":"bad key ${KEY}"}`)]);
    const outcome = await driver.start(ctx).done;
    expect(outcome).toMatchObject({ ok: false, errorCode: 'E_HTTP' });
    expect(outcome.error).toContain('HTTP 401');
    expect(outcome.error).not.toContain(KEY);
    expect(server.requests).toHaveLength(1);
    expect(fs.readFileSync(ctx.logPath, 'utf8')).not.toContain(KEY);
  });

  it('times out a request that never answers, retries, then fails', async () => {
    const { driver, ctx, server } = await setup([], { requestTimeoutSeconds: 0.3 }, { maxAttempts: 2 }, hang);
    const outcome = await driver.start(ctx).done;
    expect(outcome).toMatchObject({ ok: false, errorCode: 'E_HTTP' });
    expect(outcome.error).toContain('no response');
    expect(server.requests).toHaveLength(2);
  });

  it('stop() aborts a request in flight', async () => {
    const { driver, ctx, server } = await setup([hang]);
    const run = driver.start(ctx);
    await waitFor(() => server.requests.length === 1);
    await run.stop('cancel');
    expect(await run.done).toMatchObject({ ok: false, errorCode: 'E_CANCELLED' });
    expect(server.requests).toHaveLength(1);
  });

  it('ends with E_TIMEOUT past the task timeout', async () => {
    const { driver, ctx } = await setup([hang]);
    ctx.timeoutSeconds = 0.5;
    expect(await driver.start(ctx).done).toMatchObject({ ok: false, errorCode: 'E_TIMEOUT' });
  });

  it('stops after the turn limit when the model never finishes', async () => {
    const busy = toolReply([{ name: 'report_progress', args: { progress: 0.1 } }]);
    const { driver, ctx, server } = await setup([], {}, { maxTurns: 3 }, busy);
    const outcome = await driver.start(ctx).done;
    expect(outcome).toMatchObject({ ok: false, errorCode: 'E_LLM', error: 'no finish_task after 3 turns' });
    expect(outcome.usage).toEqual({ inputTokens: 60, outputTokens: 24 });
    expect(server.requests).toHaveLength(3);
  });

  it('refuses to start without the API key in the environment', async () => {
    server = await fakeLlm([]);
    const config: Extract<Driver, { kind: 'llm' }> = {
      kind: 'llm',
      baseUrl: server.baseUrl,
      model: 'm',
      apiKeyEnv: 'FAKE_API_KEY',
      requestTimeoutSeconds: 5,
      contextBudgetTokens: 1000,
    };
    const { ctx } = makeContext(dir, { driver: config });
    const outcome = await createLlmDriver(config, { env: {} }).start(ctx).done;
    expect(outcome).toMatchObject({ ok: false, errorCode: 'E_LLM' });
    expect(outcome.error).toContain('FAKE_API_KEY');
    expect(server.requests).toHaveLength(0);
  });

  it('times out a stream that stops half-way (idle timeout)', async () => {
    const stallMidway: Handler = (res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'thinking…' } }] })}\n\n`);
    };
    const { driver, ctx } = await setup([], { requestTimeoutSeconds: 0.3 }, { maxAttempts: 1 }, stallMidway);
    const outcome = await driver.start(ctx).done;
    expect(outcome).toMatchObject({ ok: false, errorCode: 'E_HTTP' });
    expect(outcome.error).toContain('no response');
  });

  it('accepts a server that answers with one whole JSON completion', async () => {
    const whole: Handler = (res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          choices: [
            { index: 0, message: { role: 'assistant', content: 'all at once' }, finish_reason: 'stop' },
          ],
          usage: { prompt_tokens: 3, completion_tokens: 2 },
        }),
      );
    };
    const { driver, ctx, rec } = await setup([whole]);
    expect(await driver.start(ctx).done).toEqual({
      ok: true,
      summary: 'all at once',
      usage: { inputTokens: 3, outputTokens: 2 },
    });
    expect(rec.lines.map((l) => l.line)).toEqual(['all at once']);
  });

  it('asks again without stream_options when the server refuses them', async () => {
    const { driver, ctx, server } = await setup([
      status(400, {}, '{"error":{"message":"unknown field stream_options"}}'),
      textReply(['fine']),
    ]);
    expect(await driver.start(ctx).done).toMatchObject({ ok: true, summary: 'fine' });
    expect(server.requests[0]!.body.stream_options).toBeDefined();
    expect(server.requests[1]!.body.stream_options).toBeUndefined();
  });

  it('retries when the endpoint cannot be reached, then reports E_HTTP', async () => {
    const { driver, ctx, server } = await setup([], {}, { maxAttempts: 2 });
    await server.close();
    const outcome = await driver.start(ctx).done;
    expect(outcome).toMatchObject({ ok: false, errorCode: 'E_HTTP' });
    expect(outcome.error).toContain('cannot reach');
    expect(fs.readFileSync(ctx.logPath, 'utf8')).toContain('retry 1/1');
  });
});

describe('llm driver: the API key never leaves the request', () => {
  const raw =
    (...lines: string[]): Handler =>
    (res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(lines.map((l) => `${l}\n\n`).join(''));
    };
  const seen = (ctx: { logPath: string }, rec: { lines: { line: string }[] }, outcome: unknown) =>
    [fs.readFileSync(ctx.logPath, 'utf8'), ...rec.lines.map((l) => l.line), JSON.stringify(outcome)].join(
      '\n',
    );

  it('redacts it from an error event of the stream', async () => {
    const { driver, ctx, rec } = await setup([
      raw(`data: {"error":{"message":"invalid key ${KEY} for model"}}`),
    ]);
    const outcome = await driver.start(ctx).done;
    expect(outcome).toMatchObject({
      ok: false,
      errorCode: 'E_LLM',
      error: 'the server reported: invalid key *** for model',
    });
    expect(seen(ctx, rec, outcome)).not.toContain('secret-123');
  });

  it('redacts it from a malformed stream event, even where the excerpt is cut', async () => {
    const { driver, ctx, rec } = await setup([raw(`data: {${'x'.repeat(190)}${KEY}`)]);
    const outcome = await driver.start(ctx).done;
    expect(outcome).toMatchObject({ ok: false, errorCode: 'E_LLM' });
    expect(outcome.error).toContain('malformed stream event');
    expect(seen(ctx, rec, outcome)).not.toContain('sk-test');
  });

  it('redacts it from an error body cut to an excerpt, on every retry message', async () => {
    const body = `${'y'.repeat(495)}${KEY}`;
    const { driver, ctx, rec } = await setup([], {}, { maxAttempts: 2 }, status(500, {}, body));
    const outcome = await driver.start(ctx).done;
    expect(outcome).toMatchObject({ ok: false, errorCode: 'E_HTTP' });
    expect(seen(ctx, rec, outcome)).not.toContain('sk-t');
  });

  it('redacts it from streamed text split across pieces, and from tool-call arguments', async () => {
    const { driver, ctx, rec } = await setup([
      textReply([`the key is sk-te`, `st-secret-`, `123, and again ${KEY}\nnext line`], null),
    ]);
    const outcome = await driver.start(ctx).done;
    expect(outcome).toMatchObject({ ok: true, summary: 'the key is ***, and again ***\nnext line' });
    expect(rec.lines.map((l) => l.line)).toEqual(['the key is ***, and again ***', 'next line']);
    expect(seen(ctx, rec, outcome)).not.toContain('secret-123');

    await server?.close();
    const second = await setup([
      toolReply([
        { name: 'create_subtask', args: { title: `leak ${KEY}` } },
        { name: 'finish_task', args: { summary: `done with ${KEY}` } },
      ]),
    ]);
    const finished = await second.driver.start(second.ctx).done;
    expect(finished).toMatchObject({ ok: true, summary: 'done with ***' });
    expect(second.rec.subtasks).toEqual([{ title: 'leak ***' }]);
    expect(seen(second.ctx, second.rec, finished)).not.toContain('secret-123');
  });
});

describe('llm driver: server values within the board limits', () => {
  it('rounds fractional token counts and clamps negative or absurd ones', async () => {
    const { driver, ctx } = await setup([
      toolReply([{ name: 'report_progress', args: { progress: 0.5 } }], {
        prompt_tokens: 10.6,
        completion_tokens: -4,
      }),
      textReply(['done'], { prompt_tokens: 1e300, completion_tokens: Number.NaN } as never),
    ]);
    const outcome = await driver.start(ctx).done;
    expect(outcome).toMatchObject({ ok: true, summary: 'done' });
    expect(outcome.usage).toEqual({ inputTokens: 1_000_000_011, outputTokens: 0 });
  });

  it('cuts a server error message far below the board limit', async () => {
    const long: Handler = (res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(`data: ${JSON.stringify({ error: { message: 'e'.repeat(30_000) } })}\n\n`);
    };
    const { driver, ctx } = await setup([long]);
    const outcome = await driver.start(ctx).done;
    expect(outcome).toMatchObject({ ok: false, errorCode: 'E_LLM' });
    expect(outcome.error!.length).toBeLessThanOrEqual(2100);
  });
});

describe('llm driver: every read from the server is bounded', () => {
  const MB = 1024 * 1024;
  const limits = { bodyBytes: MB, errorBodyBytes: 4096, lineChars: MB, textChars: MB, toolCallChars: MB };
  const event = (delta: Record<string, unknown>) =>
    `data: ${JSON.stringify({ choices: [{ index: 0, delta }] })}\n\n`;
  /** Writes `piece` again and again until the client goes away (or `total` bytes are out), then ends. */
  const endless =
    (head: Record<string, string>, piece: string, total = 64 * MB, status = 200): Handler =>
    (res) => {
      res.writeHead(status, head);
      let sent = 0;
      const more = () => {
        while (sent < total && !res.destroyed) {
          sent += piece.length;
          if (!res.write(piece)) return void res.once('drain', more);
        }
        res.end();
      };
      res.on('close', () => res.destroy());
      more();
    };
  const SSE = { 'content-type': 'text/event-stream' };
  const JSON_TYPE = { 'content-type': 'application/json' };

  it('stops a reply whose text never ends', async () => {
    const { driver, ctx } = await setup(
      [endless(SSE, event({ content: 'x'.repeat(4000) }))],
      {},
      { readLimits: limits },
    );
    const outcome = await driver.start(ctx).done;
    expect(outcome).toMatchObject({
      ok: false,
      errorCode: 'E_LLM',
      error: `the reply is longer than ${MB} characters`,
    });
  });

  it('stops a stream without newlines', async () => {
    const { driver, ctx } = await setup([endless(SSE, 'y'.repeat(64 * 1024))], {}, { readLimits: limits });
    const outcome = await driver.start(ctx).done;
    expect(outcome).toMatchObject({ ok: false, errorCode: 'E_LLM' });
    expect(outcome.error).toContain('a line of the stream is longer than');
  });

  it('stops tool-call arguments that never end, and too many tool calls', async () => {
    const args = event({
      tool_calls: [{ index: 0, id: 'c', function: { name: 'finish_task', arguments: 'z'.repeat(4000) } }],
    });
    const { driver, ctx } = await setup([endless(SSE, args)], {}, { readLimits: limits });
    const outcome = await driver.start(ctx).done;
    expect(outcome).toMatchObject({ ok: false, errorCode: 'E_LLM' });
    expect(outcome.error).toContain("the reply's tool calls are longer than");

    await server?.close();
    let index = 0;
    const many: Handler = (res) => {
      res.writeHead(200, SSE);
      const burst = () => {
        if (res.destroyed) return;
        let chunk = '';
        for (let i = 0; i < 1000; i++)
          chunk += event({ tool_calls: [{ index: index++, function: { name: 'f' } }] });
        res.write(chunk, () => setImmediate(burst));
      };
      res.on('close', () => res.destroy());
      burst();
    };
    const second = await setup([many], {}, { readLimits: { ...limits, toolCalls: 50 } });
    const again = await second.driver.start(second.ctx).done;
    expect(again).toMatchObject({
      ok: false,
      errorCode: 'E_LLM',
      error: 'the reply has more than 50 tool calls',
    });
  });

  it('refuses a whole reply larger than the limit, also when it arrives gzipped', async () => {
    const completion = (padding: number) =>
      JSON.stringify({
        choices: [{ index: 0, message: { role: 'assistant', content: 'big' }, finish_reason: 'stop' }],
        padding: ' '.repeat(padding),
      });
    const whole: Handler = (res) => res.writeHead(200, JSON_TYPE).end(completion(3 * MB));
    const { driver, ctx } = await setup([whole], {}, { readLimits: limits });
    expect(await driver.start(ctx).done).toMatchObject({
      ok: false,
      errorCode: 'E_LLM',
      error: `the reply is larger than ${MB} bytes`,
    });

    await server?.close();
    const bomb = zlib.gzipSync(completion(40 * MB));
    expect(bomb.length).toBeLessThan(MB / 4);
    const gzipped: Handler = (res) =>
      res.writeHead(200, { ...JSON_TYPE, 'content-encoding': 'gzip' }).end(bomb);
    const second = await setup([gzipped], {}, { readLimits: limits });
    expect(await second.driver.start(second.ctx).done).toMatchObject({
      ok: false,
      errorCode: 'E_LLM',
      error: `the reply is larger than ${MB} bytes`,
    });
  });

  it('reads only the start of an error body that never ends', async () => {
    const { driver, ctx } = await setup(
      [endless(JSON_TYPE, `{"error":"${'w'.repeat(4000)}`, 1024 * MB, 400)],
      { requestTimeoutSeconds: 5 },
      { readLimits: limits },
    );
    const outcome = await driver.start(ctx).done;
    expect(outcome).toMatchObject({ ok: false, errorCode: 'E_HTTP' });
    expect(outcome.error).toMatch(/^HTTP 400 from .*: \{"error":"w+…$/);
  });

  it('keeps a whole reply that arrives slowly alive: the idle timeout counts from its last piece', async () => {
    const body = JSON.stringify({
      choices: [
        { index: 0, message: { role: 'assistant', content: 'slow but steady' }, finish_reason: 'stop' },
      ],
    });
    const slow: Handler = (res) => {
      res.writeHead(200, JSON_TYPE);
      let at = 0;
      const timer = setInterval(() => {
        if (res.destroyed) return clearInterval(timer);
        res.write(body.slice(at, at + 10));
        at += 10;
        if (at >= body.length) {
          clearInterval(timer);
          res.end();
        }
      }, 100);
    };
    // The whole body takes over 1 s; the idle timeout is 0.5 s.
    const { driver, ctx } = await setup([slow], { requestTimeoutSeconds: 0.5 }, { maxAttempts: 1 });
    expect(await driver.start(ctx).done).toMatchObject({ ok: true, summary: 'slow but steady' });
  });
});

describe('llm driver: what the tokens cost', () => {
  const M = 1_000_000;

  it('prices the tokens by model: the built-in table, or the workspace prices over it', () => {
    expect(priceOf('gpt-4o-mini', DEFAULT_PRICES)).toEqual({ inputPerMTok: 0.15, outputPerMTok: 0.6 });
    expect(priceOf('gpt-4o-2024-08-06', DEFAULT_PRICES)).toEqual(DEFAULT_PRICES['gpt-4o']);
    expect(priceOf('anthropic/claude-sonnet-4-5-20250929', DEFAULT_PRICES)).toEqual(
      DEFAULT_PRICES['claude-sonnet-4-5'],
    );
    expect(priceOf('llama3.1', DEFAULT_PRICES)).toBeNull();
    expect(costUsd({ inputPerMTok: 3, outputPerMTok: 15 }, 1234, 567)).toBe(0.012207);
  });

  it('reports the cost of a priced model, and none (unknown) for a model without a price', async () => {
    const priced = await setup([textReply(['done'], { prompt_tokens: M, completion_tokens: M / 2 })], {
      model: 'gpt-4o-mini',
    });
    expect((await priced.driver.start(priced.ctx).done).usage).toEqual({
      inputTokens: M,
      outputTokens: M / 2,
      usd: 0.45,
    });
    await server?.close();
    const own = await setup(
      [textReply(['done'])],
      {},
      { prices: { 'fake-model': { inputPerMTok: 2, outputPerMTok: 8 } } },
    );
    expect((await own.driver.start(own.ctx).done).usage).toEqual({
      inputTokens: 10,
      outputTokens: 5,
      usd: 0.00006,
    });
    await server?.close();
    const unknown = await setup([textReply(['done'])]);
    const outcome = await unknown.driver.start(unknown.ctx).done;
    expect(outcome.usage).toEqual({ inputTokens: 10, outputTokens: 5 });
  });

  it('stops, for good, before a turn that would start past the budget in USD', async () => {
    const turn = toolReply([{ name: 'report_progress', args: { progress: 0.1 } }], {
      prompt_tokens: M,
      completion_tokens: M / 2,
    });
    const { driver, ctx, server } = await setup(
      [],
      { model: 'gpt-4o-mini', contextBudgetTokens: 100 * M },
      {},
      turn,
    );
    ctx.task = { ...ctx.task, budget: { usd: 0.5 } };
    const outcome = await driver.start(ctx).done;
    expect(outcome).toMatchObject({
      ok: false,
      errorCode: 'E_BUDGET',
      error: 'over its budget: $0.9 of $0.5',
      final: true,
      usage: { inputTokens: 2 * M, outputTokens: M, usd: 0.9 },
    });
    expect(server.requests).toHaveLength(2);
  });

  it('says in the log that a USD budget cannot be checked without a price', async () => {
    const { driver, ctx } = await setup([textReply(['done'])]);
    ctx.task = { ...ctx.task, budget: { usd: 1 } };
    expect(await driver.start(ctx).done).toMatchObject({ ok: true });
    expect(fs.readFileSync(ctx.logPath, 'utf8')).toContain(
      "no price is known for model fake-model: the task's budget of $1 cannot be checked",
    );
  });
});
