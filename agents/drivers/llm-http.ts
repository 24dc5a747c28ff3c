/**
 * One chat-completions turn against an OpenAI-compatible endpoint: POST with `stream: true`, the
 * server-sent events parsed as they arrive (text streamed out, tool calls assembled), retries with
 * exponential backoff on 429, 5xx and network errors (Retry-After respected), an idle timeout per
 * request, and an abort signal for stop(). The API key goes into the Authorization header and
 * nowhere else: chatTurn() redacts it from everything built from the server's data (streamed text,
 * tool calls, every error and retry message), since a hostile or buggy server may echo it.
 */

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export type ChatMessage =
  | { role: 'system' | 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: ToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

export interface TurnResult {
  text: string;
  toolCalls: ToolCall[];
  finishReason: string | null;
  usage: { promptTokens: number; completionTokens: number } | null;
}

/** A failure the run ends with: E_HTTP (the endpoint refused or was unreachable) or E_LLM (bad reply). */
export class LlmError extends Error {
  constructor(
    readonly code: 'E_HTTP' | 'E_LLM',
    message: string,
  ) {
    super(message);
  }
}

/** The run was stopped while a request was in flight. */
export class StoppedError extends Error {}

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

/**
 * Bounds on every read from the network, so that a hostile or broken endpoint (a stream without
 * end, a huge body, a gzip bomb: sizes count after decompression) cannot exhaust memory.
 */
export interface ReadLimits {
  /** A whole (non-streamed) reply. */
  bodyBytes: number;
  /** The part of an error body that is read (only an excerpt is shown). */
  errorBodyBytes: number;
  /** One line of the stream. */
  lineChars: number;
  /** The text of one reply. */
  textChars: number;
  /** The tool calls of one reply: names and arguments together. */
  toolCallChars: number;
  toolCalls: number;
}

export const READ_LIMITS: ReadLimits = {
  bodyBytes: 16 * 1024 * 1024,
  errorBodyBytes: 64 * 1024,
  lineChars: 8 * 1024 * 1024,
  textChars: 4 * 1024 * 1024,
  toolCallChars: 4 * 1024 * 1024,
  toolCalls: 128,
};

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

const redact = (text: string, secret: string | undefined) => (secret ? text.split(secret).join('***') : text);

/** A short excerpt of server data for a message: redacted before it is cut, so no piece of the key is left. */
const excerpt = (text: string, max: number, secret: string | undefined) => {
  const clean = redact(text, secret).replace(/\s+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
};

/**
 * Redacts a secret from text that arrives in pieces: the last (length - 1) characters are held
 * back until the next piece (or the end) shows whether they begin the secret.
 */
class StreamRedactor {
  private held = '';

  constructor(
    private readonly secret: string | undefined,
    private readonly out: (text: string) => void,
  ) {}

  push(text: string): void {
    if (!this.secret) {
      this.out(text);
      return;
    }
    const all = redact(this.held + text, this.secret);
    const keep = Math.min(all.length, this.secret.length - 1);
    this.held = all.slice(all.length - keep);
    if (all.length > keep) this.out(all.slice(0, all.length - keep));
  }

  end(): void {
    if (this.held !== '') this.out(this.held);
    this.held = '';
  }
}

function redactResult(result: TurnResult, secret: string | undefined): TurnResult {
  if (!secret) return result;
  return {
    ...result,
    text: redact(result.text, secret),
    toolCalls: result.toolCalls.map((call) => ({
      ...call,
      id: redact(call.id, secret),
      function: {
        name: redact(call.function.name, secret),
        arguments: redact(call.function.arguments, secret),
      },
    })),
  };
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

/**
 * At most maxBytes of the body, read as it arrives (each piece counts as activity for the idle
 * timeout); `complete` is false when the body was longer and the rest was left unread.
 */
async function readBody(
  response: Response,
  maxBytes: number,
  touch: () => void,
): Promise<{ text: string; complete: boolean }> {
  if (!response.body) return { text: '', complete: true };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { text: Buffer.concat(chunks).toString('utf8'), complete: true };
      touch();
      if (size + value.byteLength > maxBytes) {
        chunks.push(value.subarray(0, maxBytes - size));
        return { text: Buffer.concat(chunks).toString('utf8'), complete: false };
      }
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
}

interface Accumulator {
  text: string;
  calls: Map<number, ToolCall>;
  /** Characters of tool-call names and arguments so far. */
  callChars: number;
  finishReason: string | null;
  usage: TurnResult['usage'];
  limits: ReadLimits;
}

/** More tokens than any real request uses: a larger count is the server's error, not usage. */
const MAX_TOKENS_PER_TURN = 1e9;

/** A token count as the board records it: a whole number, never negative (servers send anything). */
function tokenCount(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) return 0;
  return Math.min(MAX_TOKENS_PER_TURN, Math.max(0, Math.round(value)));
}

function readUsage(value: unknown): TurnResult['usage'] {
  if (typeof value !== 'object' || value === null) return null;
  const u = value as { prompt_tokens?: unknown; completion_tokens?: unknown };
  return { promptTokens: tokenCount(u.prompt_tokens), completionTokens: tokenCount(u.completion_tokens) };
}

interface ToolCallDelta {
  index?: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

/** One `data:` event of the stream. Returns true on `[DONE]`. */
function applyEvent(data: string, acc: Accumulator, options: TurnOptions): boolean {
  if (data === '[DONE]') return true;
  let event: {
    error?: { message?: string };
    usage?: unknown;
    choices?: {
      delta?: { content?: string | null; tool_calls?: ToolCallDelta[] };
      finish_reason?: string | null;
    }[];
  };
  try {
    event = JSON.parse(data);
  } catch {
    throw new LlmError('E_LLM', `malformed stream event: ${excerpt(data, 200, options.apiKey)}`);
  }
  if (event.error) {
    const message = typeof event.error.message === 'string' ? event.error.message : 'an error';
    throw new LlmError('E_LLM', `the server reported: ${excerpt(message, 2000, options.apiKey)}`);
  }
  if (event.usage) acc.usage = readUsage(event.usage);
  const choice = event.choices?.[0];
  if (!choice) return false;
  const content = choice.delta?.content;
  if (typeof content === 'string' && content !== '') {
    if (acc.text.length + content.length > acc.limits.textChars) {
      throw new LlmError('E_LLM', `the reply is longer than ${acc.limits.textChars} characters`);
    }
    acc.text += content;
    options.onText(content);
  }
  for (const [position, delta] of (choice.delta?.tool_calls ?? []).entries()) {
    const index = delta.index ?? position;
    if (!acc.calls.has(index) && acc.calls.size >= acc.limits.toolCalls) {
      throw new LlmError('E_LLM', `the reply has more than ${acc.limits.toolCalls} tool calls`);
    }
    const call = acc.calls.get(index) ?? { id: '', type: 'function', function: { name: '', arguments: '' } };
    const name = typeof delta.function?.name === 'string' ? delta.function.name : '';
    const args = typeof delta.function?.arguments === 'string' ? delta.function.arguments : '';
    acc.callChars += name.length + args.length;
    if (acc.callChars > acc.limits.toolCallChars) {
      throw new LlmError(
        'E_LLM',
        `the reply's tool calls are longer than ${acc.limits.toolCallChars} characters`,
      );
    }
    if (typeof delta.id === 'string' && delta.id !== '') call.id = delta.id.slice(0, 200);
    call.function.name += name;
    call.function.arguments += args;
    acc.calls.set(index, call);
  }
  if (choice.finish_reason) acc.finishReason = choice.finish_reason;
  return false;
}

function finishTurn(acc: Accumulator): TurnResult {
  const toolCalls = [...acc.calls.entries()]
    .sort(([a], [b]) => a - b)
    .map(([index, call]) => ({ ...call, id: call.id || `call_${index}` }));
  return { text: acc.text, toolCalls, finishReason: acc.finishReason, usage: acc.usage };
}

async function readStream(
  response: Response,
  options: TurnOptions,
  limits: ReadLimits,
  touch: () => void,
): Promise<TurnResult> {
  if (!response.body) throw new LlmError('E_LLM', 'the response has no body');
  const acc: Accumulator = {
    text: '',
    calls: new Map(),
    callChars: 0,
    finishReason: null,
    usage: null,
    limits,
  };
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let pending = '';
  const line = (raw: string): boolean => {
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    // Only `data:` fields matter here; comments (keep-alives), `event:` and `id:` are skipped.
    if (!text.startsWith('data:')) return false;
    return applyEvent(text.slice(5).trim(), acc, options);
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      touch();
      pending += decoder.decode(value, { stream: true });
      let nl = pending.indexOf('\n');
      while (nl !== -1) {
        if (line(pending.slice(0, nl))) return finishTurn(acc);
        pending = pending.slice(nl + 1);
        nl = pending.indexOf('\n');
      }
      if (pending.length > limits.lineChars) {
        throw new LlmError('E_LLM', `a line of the stream is longer than ${limits.lineChars} characters`);
      }
    }
    pending += decoder.decode();
    if (pending !== '') line(pending);
    return finishTurn(acc);
  } finally {
    reader.cancel().catch(() => undefined);
  }
}

function parseCompletion(value: unknown): TurnResult {
  const completion = value as {
    choices?: { message?: { content?: string | null; tool_calls?: ToolCall[] }; finish_reason?: string }[];
    usage?: unknown;
  };
  const choice = completion.choices?.[0];
  if (!choice?.message) throw new LlmError('E_LLM', 'the reply has no choices');
  return {
    text: choice.message.content ?? '',
    toolCalls: (choice.message.tool_calls ?? []).map((call, i) => ({ ...call, id: call.id || `call_${i}` })),
    finishReason: choice.finish_reason ?? null,
    usage: readUsage(completion.usage),
  };
}
