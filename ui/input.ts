/**
 * Ink's (input, key) pairs become key names that the keymap understands: `j`, `G`, `enter`,
 * `shift-tab`, `ctrl-c`, `backspace`… Ink hands over escape sequences one by one, but the plain
 * characters of one write (a paste, a macro, fast typing over SSH) arrive together: they become one
 * key each, and App decides whether the rest of such a write is keys or text typed into a field.
 */
import type { Key } from 'ink';
import { stripControl } from '../src/sanitize.js';
import type { NamedKey } from './key-names.js';

export type KeyEvent = { name: string; text: string };

const SPECIAL: Array<[keyof Key, NamedKey]> = [
  ['upArrow', 'up'],
  ['downArrow', 'down'],
  ['leftArrow', 'left'],
  ['rightArrow', 'right'],
  ['pageUp', 'pageup'],
  ['pageDown', 'pagedown'],
  ['home', 'home'],
  ['end', 'end'],
  ['return', 'enter'],
  ['escape', 'esc'],
];

/** What typed or pasted characters insert into a field: line breaks and tabs become spaces. */
export const textOf = (input: string) => stripControl(input.replace(/[\r\n\t]+/g, ' '));

export function keyEvent(input: string, key: Key): KeyEvent {
  if (key.tab) return { name: key.shift ? 'shift-tab' : 'tab', text: '' };
  // Terminals send DEL (reported as `delete`) for the backspace key.
  if (key.backspace || key.delete) return { name: 'backspace', text: '' };
  for (const [flag, name] of SPECIAL) if (key[flag]) return { name, text: '' };
  if (key.ctrl && input.length === 1) return { name: `ctrl-${input.toLowerCase()}`, text: '' };
  if (key.meta) return { name: `meta-${input}`, text: '' };
  const text = textOf(input);
  if (input === ' ') return { name: 'space', text: ' ' };
  return { name: [...text].length === 1 ? text : '', text };
}

/** One character of a write, as the key a terminal sends it for. */
function charEvent(ch: string): KeyEvent {
  if (ch === '\r' || ch === '\n') return { name: 'enter', text: '' };
  if (ch === '\t') return { name: 'tab', text: '' };
  if (ch === '\u007f' || ch === '\b') return { name: 'backspace', text: '' };
  if (ch === ' ') return { name: 'space', text: ' ' };
  const code = ch.codePointAt(0) ?? 0;
  if (code >= 1 && code <= 26) return { name: `ctrl-${String.fromCharCode(code + 96)}`, text: '' };
  const text = stripControl(ch);
  return { name: text, text };
}

/** A write of several plain characters: ink sets no flag on it. */
const plainWrite = (input: string, key: Key) =>
  !(key.ctrl || key.meta || key.tab || key.backspace || key.delete) &&
  SPECIAL.every(([flag]) => !key[flag]) &&
  [...input].length > 1;

/** The keys of one write, in order, each with the characters it came from. */
export function keyEvents(input: string, key: Key): Array<KeyEvent & { raw: string }> {
  if (!plainWrite(input, key)) return [{ ...keyEvent(input, key), raw: input }];
  return [...input].map((ch) => ({ ...charEvent(ch), raw: ch }));
}
