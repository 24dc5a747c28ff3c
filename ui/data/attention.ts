/**
 * The attention inbox comes from the engine (src/attention.ts: the same list `dreamos attention`
 * prints); this adds what the console needs on top: words for the reasons, and the filter.
 */
import type { AttentionItem, AttentionReason } from '../../src/attention.js';

export type { AttentionItem, AttentionReason };

/** `over-budget` → `over budget`. */
export const reasonWords = (reason: AttentionReason) => reason.replace(/-/g, ' ');

export function attentionMatches(item: AttentionItem, filter: string): boolean {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  const hay =
    `${reasonWords(item.reason)} ${item.also.join(' ')} ${item.severity} ${item.subject} ${item.text}`.toLowerCase();
  return words.every((w) => hay.includes(w));
}
