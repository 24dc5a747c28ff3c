/**
 * Ink's (input, key) pairs become one key name that the keymap understands: `j`, `G`, `enter`,
 * `shift-tab`, `ctrl-c`, `backspace`… A paste (several characters at once) stays text.
 */
import type { Key } from 'ink';
import { stripControl } from '../src/sanitize.js';

export type KeyEvent = { name: string; text: string };

const SPECIAL: Array<[keyof Key, string]> = [
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

export function keyEvent(input: string, key: Key): KeyEvent {
  if (key.tab) return { name: key.shift ? 'shift-tab' : 'tab', text: '' };
  // Terminals send DEL (reported as `delete`) for the backspace key.
  if (key.backspace || key.delete) return { name: 'backspace', text: '' };
  for (const [flag, name] of SPECIAL) if (key[flag]) return { name, text: '' };
  if (key.ctrl && input.length === 1) return { name: `ctrl-${input.toLowerCase()}`, text: '' };
  if (key.meta) return { name: `meta-${input}`, text: '' };
  const text = stripControl(input).replace(/[\r\n\t]+/g, ' ');
  if (input === ' ') return { name: 'space', text: ' ' };
  return { name: text.length === 1 ? text : '', text };
}
