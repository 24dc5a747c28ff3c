/**
 * What an llm agent's tokens cost: list prices in USD per million input and output tokens, by
 * model. The defaults are the providers' published standard-tier list prices as of PRICES_AS_OF;
 * prices change, and discounts (cached input, batch) are not counted. A workspace sets its own in
 * config.json (`prices`), which win over these. A model with no price has an unknown cost: it is
 * shown as unknown, never as $0.00.
 */
export interface Price {
  inputPerMTok: number;
  outputPerMTok: number;
}

export const PRICES_AS_OF = '2025-10';

const p = (inputPerMTok: number, outputPerMTok: number): Price => ({ inputPerMTok, outputPerMTok });

export const DEFAULT_PRICES: Readonly<Record<string, Price>> = {
  // OpenAI
  'gpt-5': p(1.25, 10),
  'gpt-5-mini': p(0.25, 2),
  'gpt-5-nano': p(0.05, 0.4),
  'gpt-4.1': p(2, 8),
  'gpt-4.1-mini': p(0.4, 1.6),
  'gpt-4.1-nano': p(0.1, 0.4),
  'gpt-4o': p(2.5, 10),
  'gpt-4o-mini': p(0.15, 0.6),
  o3: p(2, 8),
  'o4-mini': p(1.1, 4.4),
  // Anthropic
  'claude-opus-4-1': p(15, 75),
  'claude-sonnet-4-5': p(3, 15),
  'claude-sonnet-4': p(3, 15),
  'claude-haiku-4-5': p(1, 5),
  'claude-3-5-haiku': p(0.8, 4),
  // Google (prompts up to 200k tokens)
  'gemini-2.5-pro': p(1.25, 10),
  'gemini-2.5-flash': p(0.3, 2.5),
};

/**
 * The price of a model: by its exact name, else without a router's `vendor/` prefix, else without a
 * date suffix (`gpt-4o-2024-08-06`, `claude-sonnet-4-5-20250929`); null when none is known.
 */
export function priceOf(model: string, table: Readonly<Record<string, Price>>): Price | null {
  const bare = model.includes('/') ? model.slice(model.lastIndexOf('/') + 1) : model;
  const undated = bare.replace(/-(\d{4}-\d{2}-\d{2}|\d{8})$/, '');
  for (const name of [model, bare, undated]) {
    if (Object.hasOwn(table, name)) return table[name]!;
  }
  return null;
}

/** Dollars for these tokens, to a millionth of a dollar. */
export function costUsd(price: Price, inputTokens: number, outputTokens: number): number {
  const usd = (inputTokens * price.inputPerMTok + outputTokens * price.outputPerMTok) / 1_000_000;
  return Math.round(usd * 1_000_000) / 1_000_000;
}
