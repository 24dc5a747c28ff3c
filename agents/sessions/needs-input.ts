/**
 * Whether a program waits for the operator, read from the bottom of its screen once it has been
 * quiet for a while (a program that redraws, a spinner, is never quiet long enough to be read).
 * The screen says it in words and shapes that change with each release of each CLI, so this is a
 * fallback and a correction, not the source of truth: hooks say it exactly where a CLI has them.
 */
import type { NeedsInput } from '../drivers/types.js';

/** How many of the bottom lines holding text are read. */
const BOTTOM_LINES = 4;
const MAX_TEXT = 300;

const PERMISSION = [
  /\b(allow|approve|permit|grant)\b.*\?/i,
  /\bdo you want to\b/i,
  /\((y\/n|yes\/no)\)|\[(y\/n)\]/i,
  /^\s*[❯›>]?\s*1\.\s*yes\b/i,
];
/** A question mark after a word (`? for shortcuts`, a hint line, is none). */
const QUESTION = /\w[)"'”]?\?(\s|$)/;
/** An empty input line: `>`, `❯`, `›`, a shell's `$`, Python's `>>>`, inside a box or not. */
const PROMPT = /^[\s│|╭╰─]*(>|❯|›|\$|>>>)[\s│|]*$/;

/** What the bottom of the screen asks, or null when it shows nothing the operator must answer. */
export function readNeedsInput(lines: readonly string[]): NeedsInput | null {
  const bottom = lines.filter((line) => line.trim() !== '').slice(-BOTTOM_LINES);
  if (bottom.length === 0) return null;
  const text = bottom
    .map((line) => line.trim())
    .join(' / ')
    .slice(0, MAX_TEXT);
  if (bottom.some((line) => PERMISSION.some((re) => re.test(line)))) return { kind: 'permission', text };
  if (bottom.some((line) => QUESTION.test(line))) return { kind: 'question', text };
  if (bottom.some((line) => PROMPT.test(line))) return { kind: 'prompt', text };
  return null;
}
