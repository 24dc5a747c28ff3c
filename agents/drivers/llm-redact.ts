/**
 * Keeping the API key out of everything built from the server's data: a hostile or buggy server may
 * echo it, in streamed text, tool calls or an error body.
 */
import type { TurnResult } from './llm-reply.js';

export const redact = (text: string, secret: string | undefined) =>
  secret ? text.split(secret).join('***') : text;

/** A short excerpt of server data for a message: redacted before it is cut, so no piece of the key is left. */
export const excerpt = (text: string, max: number, secret: string | undefined) => {
  const clean = redact(text, secret).replace(/\s+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
};

/**
 * Redacts a secret from text that arrives in pieces: the last (length - 1) characters are held
 * back until the next piece (or the end) shows whether they begin the secret.
 */
export class StreamRedactor {
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

/** The result with the secret redacted from its text and tool calls. */
export function redactResult(result: TurnResult, secret: string | undefined): TurnResult {
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
