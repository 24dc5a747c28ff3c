/**
 * Text that changes all the time (log lines, the status line), drawn through a Transform over a
 * blank placeholder of its width, so that Ink measures only the placeholder. Ink 6 keeps every
 * distinct string it measures or wraps in module caches that are never emptied
 * (vadimdemedes/ink#986): eight agents streaming 200 lines/s would grow the heap without bound.
 */
import { Transform } from 'ink';
import { memo } from 'react';
import { fitCells } from '../text.js';

const blanks = new Map<number, string>();
const blank = (width: number) => {
  let text = blanks.get(width);
  if (text === undefined) {
    text = ' '.repeat(width);
    blanks.set(width, text);
  }
  return text;
};

/** `text` may carry colour codes (see `paint`); it is cut to `width` cells. */
export const Volatile = memo(function Volatile({ text, width }: { text: string; width: number }) {
  const cells = Math.max(1, width);
  const shown = fitCells(text, cells);
  return <Transform transform={() => shown}>{blank(cells)}</Transform>;
});
