/**
 * One chat-completions turn against an OpenAI-compatible endpoint: POST with `stream: true`, retries
 * with exponential backoff on 429, 5xx and network errors (Retry-After respected), an idle timeout per
 * request, and an abort signal for stop(). The reply is read by llm-reply.ts. The API key goes into
 * the Authorization header and nowhere else: chatTurn() redacts it from everything built from the
 * server's data (llm-redact.ts).
 */
import { LlmError, StoppedError } from './llm-errors.js';
import { excerpt, redact, redactResult, StreamRedactor } from './llm-redact.js';
import {
  parseCompletion,
  READ_LIMITS,
  type ReadLimits,
  readBody,
  readStream,
  type ToolCall,
  type TurnResult,
} from './llm-reply.js';

export type ChatMessage =
  | { role: 'system' | 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: ToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

export interface TurnOptions {
  url: string;
  apiKey: string | undefined;
  body: Record<string, unknown>;
  /** Longest silence allowed: before the response starts, and between two pieces of the stream. */
  idleTimeoutMs: number;
  signal: AbortSignal;
  onText(text: string): void;
  /** Told before each retry (for the log). */
  onRetry(message: string): void;
  maxAttempts: number;
  backoffMs: number;
  random: () => number;
  fetch: typeof fetch;
  /** Bounds on what is read from the server (defaults: READ_LIMITS). */
  limits?: Partial<ReadLimits>;
}

const MAX_RETRY_AFTER_MS = 60_000;
const MAX_BACKOFF_MS = 30_000;

class RetryableError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
  }
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new StoppedError('stopped'));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new StoppedError('stopped'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Retry-After (seconds or an HTTP date) or retry-after-ms, in milliseconds; null when absent. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | null {
  const ms = headers.get('retry-after-ms');
  if (ms !== null && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const value = headers.get('retry-after');
  if (value === null || value.trim() === '') return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** The one way out of a turn: whatever it returns, streams or throws has the API key redacted. */
export async function chatTurn(options: TurnOptions): Promise<TurnResult> {
  const key = options.apiKey;
  const text = new StreamRedactor(key, options.onText);
  const safe: TurnOptions = {
    ...options,
    onText: (piece) => text.push(piece),
    onRetry: (message) => {
      text.end(); // what a failed attempt streamed belongs before the retry's note
      options.onRetry(redact(message, key));
    },
  };
  try {
    return redactResult(await retryingTurn(safe), key);
  } catch (error) {
    if (error instanceof LlmError) throw new LlmError(error.code, redact(error.message, key));
    if (error instanceof Error && key && error.message.includes(key)) {
      throw new LlmError('E_LLM', redact(error.message, key));
    }
    throw error;
  } finally {
    text.end();
  }
}

async function retryingTurn(options: TurnOptions): Promise<TurnResult> {
  let body = options.body;
  let lastError = '';
  for (let attempt = 1; attempt <= options.maxAttempts; attempt++) {
    try {
      return await attemptTurn(options, body);
    } catch (error) {
      if (error instanceof StoppedError || options.signal.aborted) throw new StoppedError('stopped');
      if (error instanceof LlmError && /stream_options/.test(error.message) && 'stream_options' in body) {
        // Some compatible servers refuse stream_options: ask again without it (usage may then be missing).
        const { stream_options: _dropped, ...rest } = body;
        body = rest;
        attempt--;
        options.onRetry('the server refused stream_options: retrying without it');
        continue;
      }
      if (!(error instanceof RetryableError)) throw error;
      lastError = error.message;
      if (attempt === options.maxAttempts) break;
      const backoff = Math.min(MAX_BACKOFF_MS, options.backoffMs * 2 ** (attempt - 1));
      const delay =
        error.retryAfterMs !== null
          ? Math.min(MAX_RETRY_AFTER_MS, error.retryAfterMs)
          : backoff * (0.5 + options.random() / 2);
      options.onRetry(`${lastError}: retry ${attempt}/${options.maxAttempts - 1} in ${Math.round(delay)} ms`);
      await abortableSleep(delay, options.signal);
    }
  }
  throw new LlmError('E_HTTP', `${lastError} (gave up after ${options.maxAttempts} attempts)`);
}

async function attemptTurn(options: TurnOptions, body: Record<string, unknown>): Promise<TurnResult> {
  if (options.signal.aborted) throw new StoppedError('stopped');
  const controller = new AbortController();
  const onStop = () => controller.abort();
  options.signal.addEventListener('abort', onStop, { once: true });
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const touch = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, options.idleTimeoutMs);
  };
  touch();
  try {
    const response = await options.fetch(options.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream, application/json',
        ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
      },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    const limits = { ...READ_LIMITS, ...options.limits };
    if (!response.ok) {
      const { text: body } = await readBody(response, limits.errorBodyBytes, touch);
      const text = excerpt(body, 500, options.apiKey);
      const message = `HTTP ${response.status} from ${options.url}${text ? `: ${text}` : ''}`;
      if (response.status === 429 || response.status >= 500) {
        throw new RetryableError(message, retryAfterMs(response.headers));
      }
      throw new LlmError('E_HTTP', message);
    }
    const type = response.headers.get('content-type') ?? '';
    if (type.includes('application/json')) {
      // A server that ignores `stream: true` answers with one whole completion.
      const { text: body, complete } = await readBody(response, limits.bodyBytes, touch);
      if (!complete) throw new LlmError('E_LLM', `the reply is larger than ${limits.bodyBytes} bytes`);
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        throw new LlmError('E_LLM', `the reply is not valid JSON: ${excerpt(body, 200, options.apiKey)}`);
      }
      const result = parseCompletion(json);
      if (result.text) options.onText(result.text);
      return result;
    }
    return await readStream(response, options, limits, touch);
  } catch (error) {
    if (options.signal.aborted) throw new StoppedError('stopped');
    if (timedOut) {
      throw new RetryableError(`no response from ${options.url} within ${options.idleTimeoutMs / 1000} s`);
    }
    if (error instanceof TypeError) {
      // fetch reports refused connections, resets and DNS failures as TypeError with a cause.
      const cause = (error as Error & { cause?: Error }).cause;
      throw new RetryableError(`cannot reach ${options.url}: ${cause?.message ?? error.message}`);
    }
    throw error;
  } finally {
    clearTimeout(timer);
    options.signal.removeEventListener('abort', onStop);
  }
}
