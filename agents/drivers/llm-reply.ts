/**
 * Reading an endpoint's reply: the server-sent events of a streamed completion (text passed on as it
 * arrives, tool calls assembled from their pieces) or one whole JSON completion, every read bounded so
 * that a hostile or broken endpoint cannot exhaust memory.
 */
import { LlmError } from './llm-errors.js';
import { excerpt } from './llm-redact.js';

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface TurnResult {
  text: string;
  toolCalls: ToolCall[];
  finishReason: string | null;
  usage: { promptTokens: number; completionTokens: number } | null;
}

/** What the reader needs of a turn: the key to redact from its messages, and where text goes. */
export interface ReplySink {
  apiKey: string | undefined;
  onText(text: string): void;
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

/**
 * At most maxBytes of the body, read as it arrives (each piece counts as activity for the idle
 * timeout); `complete` is false when the body was longer and the rest was left unread.
 */
export async function readBody(
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
function applyEvent(data: string, acc: Accumulator, options: ReplySink): boolean {
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

/** A streamed completion, read to `[DONE]` or the end of the body. */
export async function readStream(
  response: Response,
  options: ReplySink,
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

/** One whole (non-streamed) completion. */
export function parseCompletion(value: unknown): TurnResult {
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
