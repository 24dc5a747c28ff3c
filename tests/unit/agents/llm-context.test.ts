/**
 * Context preservation of the llm driver against the fake OpenAI-compatible server: near the context
 * budget the model is asked for a summary (or one is built from the conversation), the summary is
 * saved as a checkpoint, and the run continues on a fresh context with the system prompt, the task
 * and the summary, instead of ending.
 */
import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLlmDriver, type LlmOptions } from '../../../agents/drivers/llm.js';
import { ContextMeter, conversationSummary, SUMMARY_REQUEST } from '../../../agents/drivers/llm-context.js';
import type { Driver } from '../../../src/config.js';
import { makeAgent, makeContext, makeTask, waitFor } from '../../helpers/agents.js';
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
  ({ dir, cleanup } = tempDir('dreamos-llm-context-'));
});
afterEach(async () => {
  await server?.close();
  server = null;
  cleanup();
});

async function setup(script: Handler[], budget: number, options: LlmOptions = {}) {
  server = await fakeLlm(script);
  const config: Extract<Driver, { kind: 'llm' }> = {
    kind: 'llm',
    baseUrl: server.baseUrl,
    model: 'fake-model',
    requestTimeoutSeconds: 30,
    contextBudgetTokens: budget,
  };
  const driver = createLlmDriver(config, { backoffMs: 10, maxAttempts: 1, ...options });
  const { ctx, rec } = makeContext(dir, {
    driver: config,
    agent: makeAgent(config, { systemPrompt: 'You are the Task Engineer.' }),
    task: makeTask({ title: 'Write the parser', prompt: 'Parse the config file.' }),
  });
  return { driver, ctx, rec, server };
}

const usage = (prompt: number, completion: number) => ({
  prompt_tokens: prompt,
  completion_tokens: completion,
});
const contents = (messages: { content: string | null }[]) => messages.map((m) => m.content ?? '').join('\n');

describe('llm context preservation', () => {
  it('near the budget, saves the model summary as a checkpoint and continues on a fresh context', async () => {
    const { driver, ctx, rec, server } = await setup(
      [
        toolReply(
          [
            { name: 'create_subtask', args: { title: 'Write tests', role: 'testing' } },
            { name: 'report_progress', args: { progress: 0.4 } },
          ],
          usage(1500, 200), // 1,700 of 2,000 tokens: past 80 %
        ),
        textReply(['Parser written; ', 'tests requested as T-00001.'], usage(1750, 30)),
        toolReply([{ name: 'finish_task', args: { summary: 'parser done' } }], usage(400, 10)),
      ],
      2000,
    );
    const outcome = await driver.start(ctx).done;
    expect(outcome).toEqual({
      ok: true,
      summary: 'parser done',
      usage: { inputTokens: 1500 + 1750 + 400, outputTokens: 200 + 30 + 10 },
    });
    expect(server.requests).toHaveLength(3);

    // The summary request: the whole conversation, then the request, with tools switched off.
    const ask = server.requests[1]!.body;
    expect(ask.tool_choice).toBe('none');
    expect(ask.messages.at(-1)).toEqual({ role: 'user', content: SUMMARY_REQUEST });
    expect(ask.messages.filter((m) => m.role === 'tool')).toHaveLength(2);

    // The checkpoint carries the summary and the last progress reported.
    const reset = rec.checkpoints.find((c) => c.step === 'context-reset');
    expect(reset).toMatchObject({
      step: 'context-reset',
      summary: 'Parser written; tests requested as T-00001.',
      progress: 0.4,
      data: {
        contextResets: 1,
        contextTokensBefore: expect.any(Number),
        budgetTokens: 2000,
        summaryBy: 'model',
        usage: { inputTokens: 3250, outputTokens: 230 },
      },
    });

    // The fresh context: the system prompt and the task with the summary; nothing of the old turns.
    // Counted by the server (1,700) plus the two tool results added since, estimated.
    expect(reset!.data!.contextTokensBefore).toBeGreaterThan(1700);
    expect(reset!.data!.contextTokensBefore).toBeLessThan(1750);
    expect(reset!.data!.contextTokens).toBeLessThan(1600);
    const fresh = server.requests[2]!.body.messages;
    expect(fresh.map((m) => m.role)).toEqual(['system', 'user']);
    expect(fresh[0]!.content).toContain('You are the Task Engineer.');
    expect(fresh[1]!.content).toContain('Write the parser');
    expect(fresh[1]!.content).toContain('Parse the config file.');
    expect(fresh[1]!.content).toContain('Parser written; tests requested as T-00001.');
    expect(contents(fresh)).not.toContain('Write tests'); // the old turns' tool calls
    expect(rec.subtasks).toEqual([{ title: 'Write tests', role: 'testing' }]);
    expect(fs.readFileSync(ctx.logPath, 'utf8')).toContain('summarised (model) and reset (reset 1)');
  });

  it.each([
    ['refuses', status(400, {}, '{"error":{"message":"context length exceeded"}}')],
    ['answers with nothing', textReply([''], usage(1700, 0))],
  ])('builds the summary from the conversation when the model %s', async (_name, summaryReply) => {
    const { driver, ctx, rec, server } = await setup(
      [
        toolReply(
          [
            { name: 'create_subtask', args: { title: 'Write tests', role: 'testing' } },
            { name: 'report_progress', args: { progress: 0.5, step: 'tokenizer' } },
          ],
          usage(1700, 100),
        ),
        summaryReply,
        toolReply([{ name: 'finish_task', args: { summary: 'done' } }], usage(500, 5)),
      ],
      2000,
    );
    expect(await driver.start(ctx).done).toMatchObject({ ok: true, summary: 'done' });
    const reset = rec.checkpoints.find((c) => c.step === 'context-reset')!;
    expect(reset.data).toMatchObject({ summaryBy: 'dreamos' });
    expect(reset.summary).toContain('create_subtask');
    expect(reset.summary).toContain('Write tests');
    expect(reset.summary).toContain('T-00001'); // the tool's result: the id of the sub-task
    expect(reset.summary).toContain('report_progress');
    const fresh = server.requests[2]!.body.messages;
    expect(fresh).toHaveLength(2);
    expect(fresh[1]!.content).toContain(reset.summary!);
  });

  it('estimates the size of the conversation when the server reports no usage', async () => {
    const long = 'x'.repeat(6000); // about 1,500 tokens of tool arguments and results
    const { driver, ctx, rec, server } = await setup(
      [
        toolReply([{ name: 'send_message', args: { to: 'agent-8', body: long } }], null),
        textReply(['Sent the long report to agent-8.'], null),
        toolReply([{ name: 'finish_task', args: { summary: 'reported' } }], null),
      ],
      2000,
    );
    expect(await driver.start(ctx).done).toMatchObject({ ok: true, summary: 'reported' });
    expect(server.requests[1]!.body.tool_choice).toBe('none');
    expect(rec.checkpoints.find((c) => c.step === 'context-reset')?.summary).toBe(
      'Sent the long report to agent-8.',
    );
    expect(contents(server.requests[2]!.body.messages)).not.toContain(long);
  });

  it('resets as often as needed, each summary carrying the one before', async () => {
    const busy = (progress: number) =>
      toolReply([{ name: 'report_progress', args: { progress } }], usage(1700, 10));
    const { driver, ctx, rec, server } = await setup(
      [
        busy(0.2),
        textReply(['first summary'], usage(1700, 5)),
        busy(0.6),
        textReply(['second summary'], usage(1700, 5)),
        toolReply([{ name: 'finish_task', args: { summary: 'all done' } }], usage(300, 5)),
      ],
      2000,
    );
    expect(await driver.start(ctx).done).toMatchObject({ ok: true, summary: 'all done' });
    const resets = rec.checkpoints.filter((c) => c.step === 'context-reset');
    expect(resets.map((c) => [c.summary, c.progress, c.data?.contextResets])).toEqual([
      ['first summary', 0.2, 1],
      ['second summary', 0.6, 2],
    ]);
    // The second summary is asked of a context that starts with the first.
    expect(contents(server.requests[3]!.body.messages)).toContain('first summary');
    expect(contents(server.requests[4]!.body.messages)).toContain('second summary');
    expect(contents(server.requests[4]!.body.messages)).not.toContain('first summary');
  });

  it('fails clearly when the budget cannot hold even the task and its summary', async () => {
    const { driver, ctx, server } = await setup(
      [
        toolReply([{ name: 'report_progress', args: { progress: 0.1 } }], usage(290, 10)),
        textReply(['a summary'], usage(300, 3)),
      ],
      300, // the tool definitions alone take more than 80 % of it
    );
    const outcome = await driver.start(ctx).done;
    expect(outcome).toMatchObject({ ok: false, errorCode: 'E_LLM' });
    expect(outcome.error).toContain('context budget too small');
    expect(server.requests).toHaveLength(2);
  });

  it('stop() during the summary request cancels the run', async () => {
    const { driver, ctx, server } = await setup(
      [toolReply([{ name: 'report_progress', args: { progress: 0.3 } }], usage(1900, 10)), hang],
      2000,
    );
    const run = driver.start(ctx);
    await waitFor(() => server.requests.length === 2);
    await run.stop('cancel');
    expect(await run.done).toMatchObject({ ok: false, errorCode: 'E_CANCELLED' });
  });

  it('keeps the whole conversation while it fits the budget', async () => {
    const { driver, ctx, rec, server } = await setup(
      [
        toolReply([{ name: 'report_progress', args: { progress: 0.5 } }], usage(500, 10)),
        toolReply([{ name: 'finish_task', args: { summary: 'ok' } }], usage(600, 10)),
      ],
      2000,
    );
    expect(await driver.start(ctx).done).toMatchObject({ ok: true });
    expect(rec.checkpoints).toEqual([]);
    expect(server.requests[1]!.body.messages.map((m) => m.role)).toEqual([
      'system',
      'user',
      'assistant',
      'tool',
    ]);
  });
});

describe('context size and summaries', () => {
  it('counts what the server counted plus an estimate of what was added since', () => {
    const meter = new ContextMeter();
    const messages = [
      { role: 'system' as const, content: 'sys' },
      { role: 'user' as const, content: 'task' },
    ];
    const before = meter.tokens(messages);
    expect(before).toBeGreaterThan(0);
    meter.measured(100, messages);
    expect(meter.tokens(messages)).toBe(100);
    const grown = [...messages, { role: 'tool' as const, tool_call_id: 'c', content: 'y'.repeat(400) }];
    expect(meter.tokens(grown)).toBeGreaterThanOrEqual(200);
    expect(meter.tokens(grown)).toBeLessThan(220);
    meter.reset();
    expect(meter.tokens(messages)).toBe(before);
  });

  it('keeps the newest tool calls when they do not all fit', () => {
    const messages = [
      { role: 'system' as const, content: 'sys' },
      { role: 'user' as const, content: 'task' },
      ...Array.from({ length: 50 }, (_, i) => [
        {
          role: 'assistant' as const,
          content: null,
          tool_calls: [
            {
              id: `c${i}`,
              type: 'function' as const,
              function: { name: 'send_message', arguments: `{"n":${i}}` },
            },
          ],
        },
        { role: 'tool' as const, tool_call_id: `c${i}`, content: `{"ok":true,"n":${i}}` },
      ]).flat(),
    ];
    const summary = conversationSummary(messages, 600);
    expect(summary.length).toBeLessThanOrEqual(600);
    expect(summary).toContain('{"n":49}');
    expect(summary).not.toContain('{"n":0}');
    expect(summary).toMatch(/the last \d+ of 50/);
  });
});
