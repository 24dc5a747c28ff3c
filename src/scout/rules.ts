/**
 * A source's rules as one test of an item. Patterns were checked when the config was read
 * (config.ts): valid, and without the nested repetition that makes matching take exponential time;
 * each runs against a bounded text (the title and the start of the text).
 */
import { MAX_MATCHED_TEXT, type Rules } from './config.js';

export interface Matchable {
  title: string;
  text: string;
  score?: number;
}

/**
 * Whether the item's score falls short of the rules' minimum (such an item may reach it later). Only
 * items that have a score (Hacker News stories) are held to it.
 */
export const belowScore = (rules: Rules, item: Matchable) =>
  rules.minScore !== undefined && item.score !== undefined && item.score < rules.minScore;

export function compileRules(rules: Rules): (item: Matchable) => boolean {
  const keywords = rules.keywords.map((k) => k.toLowerCase());
  const exclude = rules.exclude.map((k) => k.toLowerCase());
  const patterns = rules.patterns.map((p) => new RegExp(p, 'iu'));
  const everything = keywords.length === 0 && patterns.length === 0;
  return (item) => {
    const text = `${item.title}\n${item.text}`.slice(0, MAX_MATCHED_TEXT);
    const lower = text.toLowerCase();
    if (exclude.some((k) => lower.includes(k))) return false;
    return everything || keywords.some((k) => lower.includes(k)) || patterns.some((p) => p.test(text));
  };
}
