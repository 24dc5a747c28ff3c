/**
 * The attention inbox comes from the engine (src/attention.ts: the same list `dreamos attention`
 * prints); this adds what the console needs on top: words for the reasons, and the filter.
 */
import type { AttentionItem, AttentionReason } from '../../src/attention.js';
import { hasWords } from '../text.js';

export type { AttentionItem, AttentionReason };

/** `over-budget` → `over budget`. */
export const reasonWords = (reason: AttentionReason) => reason.replace(/-/g, ' ');

export function attentionMatches(item: AttentionItem, filter: string): boolean {
  return hasWords(
    `${reasonWords(item.reason)} ${item.also.join(' ')} ${item.severity} ${item.subject} ${item.text}`,
    filter,
  );
}
