/**
 * The llm driver: an OpenAI-compatible chat-completions endpoint (`{baseUrl}/chat/completions`,
 * so baseUrl usually ends in `/v1`). A bounded multi-turn loop: the model streams text (sent to the
 * log line by line) and calls board tools; tool results go back to it until it calls finish_task
 * or fail_task, answers with text only (taken as its final answer), or runs out of turns. Token
 * usage is summed over the turns and reported, also when the run fails.
 *
 * Context preservation: when the conversation nears the driver's context budget (80 % of
 * `contextBudgetTokens` by default), the model is asked for a summary of the work so far (when it
 * cannot give one, a summary is built from the conversation), the summary is saved as a checkpoint
 * (step `context-reset`), and the run continues on a fresh context carrying the system prompt, the
 * task and the summary.
 */

import { PRIORITIES, type Priority, type Task } from '../../state/schemas.js';
import { driverAccepts } from './accepts.js';
import type { Driver } from './config.js';
import {
  CHARS_PER_TOKEN,
  ContextMeter,
  conversationSummary,
  initialMessages,
  resetMessages,
  SUMMARY_REQUEST,
  TOOLS,
} from './llm-context.js';
import { LlmError, StoppedError } from './llm-errors.js';
import { type ChatMessage, chatTurn } from './llm-http.js';
import type { ReadLimits, ToolCall } from './llm-reply.js';
import { RunOutput, TextLines } from './output.js';
import { costUsd, DEFAULT_PRICES, type Price, priceOf } from './prices.js';
import { type StopReason, settledRun, stoppedOutcome } from './supervise.js';
import type { AgentDriver, DriverContext, DriverOutcome, DriverRun, Usage } from './types.js';

type LlmConfig = Extract<Driver, { kind: 'llm' }>;

export interface LlmOptions {
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Model turns per run (default 20). */
  maxTurns?: number;
  /** Attempts per request on 429, 5xx, timeouts and network errors (default 4). */
  maxAttempts?: number;
  /** First backoff delay; doubled on every retry (default 1000 ms). */
  backoffMs?: number;
  random?: () => number;
  /** Where the API key is read from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Share of the context budget at which the context is summarised and reset (default 0.8). */
  contextResetRatio?: number;
  /** Bounds on what is read from the server (tests make them small). */
  readLimits?: Partial<ReadLimits>;
  /** The workspace's prices (config.json `prices`), over the built-in table. */
  prices?: Readonly<Record<string, Price>>;
}

export const CONTEXT_RESET_RATIO = 0.8;
/** A summary takes at most this share of the context budget (and at most MAX_RESET_SUMMARY characters). */
const SUMMARY_SHARE = 0.25;
const MAX_RESET_SUMMARY = 16_000;

const MAX_SUMMARY = 4000;
/** TaskResult's limit on `summary` and `error` (the cut adds one character). */
const MAX_RESULT_TEXT = 19_999;
const CONTINUE = 'Continue. When the task is done call finish_task; if it cannot be done call fail_task.';

const cut = (text: string, max: number) => (text.length > max ? `${text.slice(0, max)}…` : text);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function createLlmDriver(config: LlmConfig, options: LlmOptions = {}): AgentDriver {
  return {
    kind: 'llm',
    accepts: (task: Task) => driverAccepts(config, task),
    start: (ctx) => converse(config, options, ctx),
  };
}

interface ToolOutcome {
  result: Record<string, unknown>;
  end?: DriverOutcome;
  /** Progress the model reported. */
  progress?: number;
}

async function runTool(call: ToolCall, ctx: DriverContext): Promise<ToolOutcome> {
  let args: unknown;
  try {
    args = JSON.parse(call.function.arguments || '{}');
  } catch {
    return { result: { error: 'the arguments are not valid JSON' } };
  }
  if (!isRecord(args)) return { result: { error: 'the arguments must be a JSON object' } };
  const text = (key: string) => (typeof args[key] === 'string' ? (args[key] as string) : undefined);
  try {
    switch (call.function.name) {
      case 'create_subtask': {
        const title = text('title');
        if (!title) return { result: { error: 'a sub-task needs a title' } };
        const priority = PRIORITIES.includes(text('priority') as Priority) ? text('priority') : undefined;
        const { id, status } = await ctx.tools.addSubtask({
          title,
          ...(text('prompt') ? { prompt: text('prompt') } : {}),
          ...(text('role') ? { role: text('role') } : {}),
          ...(priority ? { priority } : {}),
        });
        // The model is told when its sub-task waits for the operator, so it does not wait for it.
        return {
          result: {
            ok: true,
            id,
            ...(status === 'backlog' ? { status, note: 'waits for the operator to approve it' } : {}),
          },
        };
      }
      case 'send_message': {
        const to = text('to');
        const body = text('body');
        if (!to || !body) return { result: { error: 'send_message needs "to" and "body"' } };
        await ctx.tools.sendMessage(to, body);
        return { result: { ok: true } };
      }
      case 'report_progress': {
        const progress = typeof args.progress === 'number' ? Math.min(1, Math.max(0, args.progress)) : null;
        if (progress === null || Number.isNaN(progress))
          return { result: { error: 'progress must be a number' } };
        ctx.onProgress(progress);
        const step = text('step');
        const summary = text('summary');
        if (step || summary) {
          ctx.onCheckpoint({ progress, ...(step ? { step } : {}), ...(summary ? { summary } : {}) });
        }
        return { result: { ok: true }, progress };
      }
      case 'finish_task':
        return {
          result: { ok: true },
          end: { ok: true, summary: cut(text('summary') ?? 'done', MAX_SUMMARY) },
        };
      case 'fail_task': {
        const reason = cut(text('reason') ?? 'the agent gave up', MAX_SUMMARY);
        return { result: { ok: true }, end: { ok: false, errorCode: 'E_FAILED', error: reason } };
      }
      default:
        return { result: { error: `unknown tool ${call.function.name}` } };
    }
  } catch (error) {
    // A refusal by the board (unknown recipient, invalid title) is the model's to correct.
    return { result: { error: (error as Error).message } };
  }
}

function converse(config: LlmConfig, options: LlmOptions, ctx: DriverContext): DriverRun {
  const env = options.env ?? process.env;
  const apiKey = config.apiKeyEnv ? env[config.apiKeyEnv] : undefined;
  if (config.apiKeyEnv && !apiKey) {
    return settledRun({
      ok: false,
      errorCode: 'E_LLM',
      error: `the environment variable ${config.apiKeyEnv} (the API key) is not set`,
    });
  }
  const output = new RunOutput(ctx);
  const controller = new AbortController();
  let stopReason: StopReason | null = null;
  const price = priceOf(config.model, { ...DEFAULT_PRICES, ...options.prices });
  // Without a price the cost is unknown: `usd` is left out rather than reported as 0.
  const usage: Usage = { inputTokens: 0, outputTokens: 0, ...(price ? { usd: 0 } : {}) };
  const withUsage = (outcome: DriverOutcome): DriverOutcome =>
    usage.inputTokens + usage.outputTokens > 0 ? { ...outcome, usage: { ...usage } } : outcome;
  const budget = ctx.task.budget;
  // The attempt before this one counts too, as in the drift rule's budget check.
  const before = ctx.task.result?.usage;
  /** The budget limits this attempt is past, or null (checked after every turn). */
  const overBudget = (): string | null => {
    const over: string[] = [];
    const tokens =
      usage.inputTokens + usage.outputTokens + (before ? before.inputTokens + before.outputTokens : 0);
    if (budget?.tokens !== undefined && tokens > budget.tokens)
      over.push(`${tokens} of ${budget.tokens} tokens`);
    if (budget?.usd !== undefined && usage.usd !== undefined) {
      const usd = Math.round((usage.usd + (before?.usd ?? 0)) * 1e6) / 1e6;
      if (usd > budget.usd) over.push(`$${usd} of $${budget.usd}`);
    }
    return over.length > 0 ? `over its budget: ${over.join(', ')}` : null;
  };
  const url = `${config.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  const maxTurns = options.maxTurns ?? 20;

  const resetAt = config.contextBudgetTokens * (options.contextResetRatio ?? CONTEXT_RESET_RATIO);
  const summaryChars = Math.min(
    MAX_RESET_SUMMARY,
    Math.floor(config.contextBudgetTokens * SUMMARY_SHARE * CHARS_PER_TOKEN),
  );

  const ask = async (
    messages: ChatMessage[],
    extra: Record<string, unknown>,
    onText: (t: string) => void,
  ) => {
    const result = await chatTurn({
      url,
      apiKey,
      body: {
        model: config.model,
        messages,
        stream: true,
        stream_options: { include_usage: true },
        tools: TOOLS,
        tool_choice: 'auto',
        ...(config.maxTokens !== undefined ? { max_tokens: config.maxTokens } : {}),
        ...(config.temperature !== undefined ? { temperature: config.temperature } : {}),
        ...extra,
      },
      idleTimeoutMs: config.requestTimeoutSeconds * 1000,
      signal: controller.signal,
      onText,
      onRetry: (message) => output.note(message),
      maxAttempts: options.maxAttempts ?? 4,
      backoffMs: options.backoffMs ?? 1000,
      random: options.random ?? Math.random,
      fetch: options.fetch ?? globalThis.fetch,
      ...(options.readLimits ? { limits: options.readLimits } : {}),
    });
    if (result.usage) {
      usage.inputTokens += result.usage.promptTokens;
      usage.outputTokens += result.usage.completionTokens;
      if (price && usage.usd !== undefined) {
        usage.usd =
          Math.round(
            (usage.usd + costUsd(price, result.usage.promptTokens, result.usage.completionTokens)) * 1e6,
          ) / 1e6;
      }
    }
    return result;
  };

  /** The model's summary of the conversation, or one built from it when the model cannot give one. */
  const summarise = async (
    messages: ChatMessage[],
  ): Promise<{ summary: string; by: 'model' | 'dreamos' }> => {
    try {
      const result = await ask(
        [...messages, { role: 'user', content: SUMMARY_REQUEST }],
        { tool_choice: 'none' },
        () => {},
      );
      const text = result.text.trim();
      if (text !== '') return { summary: cut(text, summaryChars), by: 'model' };
      output.note('the model gave no summary: building one from the conversation');
    } catch (error) {
      if (stopReason !== null || error instanceof StoppedError) throw error;
      output.note(
        `the model could not summarise (${(error as Error).message}): building a summary from the conversation`,
      );
    }
    return { summary: conversationSummary(messages, summaryChars), by: 'dreamos' };
  };

  const loop = async (): Promise<DriverOutcome> => {
    if (budget?.usd !== undefined && !price) {
      output.note(
        `no price is known for model ${config.model}: the task's budget of $${budget.usd} cannot be checked (set one in config.json \`prices\`)`,
      );
    }
    let messages: ChatMessage[] = initialMessages(ctx);
    const meter = new ContextMeter();
    let turnsOnContext = 0;
    let resets = 0;
    let progress: number | undefined;
    for (let turn = 1; turn <= maxTurns; turn++) {
      // Before asking again (a finished task keeps its result, whatever its last turn cost).
      let over = overBudget();
      if (over) return { ok: false, errorCode: 'E_BUDGET', error: over, final: true };
      const tokens = meter.tokens(messages);
      if (tokens >= resetAt && turnsOnContext > 0) {
        const { summary, by } = await summarise(messages);
        if (stopReason !== null) return stoppedOutcome(stopReason, ctx.timeoutSeconds);
        resets++;
        messages = resetMessages(ctx, summary, resets);
        meter.reset();
        turnsOnContext = 0;
        const fresh = meter.tokens(messages);
        // `contextTokens` is the size now (the drift engine reads it), after the reset.
        ctx.onCheckpoint({
          step: 'context-reset',
          summary,
          ...(progress !== undefined ? { progress } : {}),
          data: {
            contextResets: resets,
            contextTokens: fresh,
            contextTokensBefore: tokens,
            budgetTokens: config.contextBudgetTokens,
            summaryBy: by,
            usage: { ...usage },
          },
        });
        output.note(
          `context at about ${tokens} of ${config.contextBudgetTokens} tokens: summarised (${by}) and reset (reset ${resets})`,
        );
        if (fresh >= resetAt) {
          return {
            ok: false,
            errorCode: 'E_LLM',
            error: `context budget too small: the task and its summary alone take about ${fresh} of ${config.contextBudgetTokens} tokens`,
          };
        }
      }
      over = overBudget(); // the summary of a context reset costs too
      if (over) return { ok: false, errorCode: 'E_BUDGET', error: over, final: true };
      const lines = new TextLines(output);
      const result = await ask(messages, {}, (text) => lines.push(text)).finally(() => lines.end());
      turnsOnContext++;
      messages.push({
        role: 'assistant',
        content: result.text === '' ? null : result.text,
        ...(result.toolCalls.length > 0 ? { tool_calls: result.toolCalls } : {}),
      });
      if (result.usage) meter.measured(result.usage.promptTokens + result.usage.completionTokens, messages);
      if (result.toolCalls.length === 0) {
        if (result.finishReason === 'length') {
          messages.push({ role: 'user', content: CONTINUE });
          continue;
        }
        const answer = result.text.trim();
        if (answer === '') return { ok: false, errorCode: 'E_LLM', error: 'the model replied with nothing' };
        return { ok: true, summary: cut(answer, MAX_SUMMARY) };
      }
      let end: DriverOutcome | undefined;
      for (const call of result.toolCalls) {
        output.line(`[tool] ${call.function.name} ${cut(call.function.arguments, 300)}`, 'stdout');
        const { result: toolResult, end: ending, progress: reported } = await runTool(call, ctx);
        if (reported !== undefined) progress = reported;
        if (typeof toolResult.error === 'string') output.line(`[tool] error: ${toolResult.error}`, 'stdout');
        messages.push({ role: 'tool', tool_call_id: call.id, content: JSON.stringify(toolResult) });
        end ??= ending;
      }
      if (end) return end;
      if (stopReason !== null) return stoppedOutcome(stopReason, ctx.timeoutSeconds);
    }
    return { ok: false, errorCode: 'E_LLM', error: `no finish_task after ${maxTurns} turns` };
  };

  const stop = async (reason: StopReason) => {
    stopReason ??= reason;
    controller.abort();
    await done;
  };
  const timeout =
    ctx.timeoutSeconds === undefined
      ? undefined
      : setTimeout(() => void stop('timeout'), ctx.timeoutSeconds * 1000);
  const done = loop()
    .catch((error: Error): DriverOutcome => {
      if (stopReason !== null || error instanceof StoppedError) {
        return stoppedOutcome(stopReason ?? 'cancel', ctx.timeoutSeconds);
      }
      if (error instanceof LlmError) return { ok: false, errorCode: error.code, error: error.message };
      return { ok: false, errorCode: 'E_LLM', error: error.message };
    })
    .then((raw) => {
      // Within the board's limits, so that the outcome can always be recorded.
      const outcome = {
        ...raw,
        ...(raw.summary !== undefined ? { summary: cut(raw.summary, MAX_RESULT_TEXT) } : {}),
        ...(raw.error !== undefined ? { error: cut(raw.error, MAX_RESULT_TEXT) } : {}),
      };
      if (!outcome.ok && outcome.error) output.note(`failed: ${outcome.error}`);
      return withUsage(outcome);
    })
    .finally(() => {
      clearTimeout(timeout);
      output.close();
    });
  return { done, stop };
}
