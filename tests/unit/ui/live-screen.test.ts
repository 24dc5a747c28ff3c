/** A live screen cropped to a pane: the bottom rows that hold text, each cut to the pane's cells, plain. */
import { describe, expect, test } from 'vitest';
import { cropScreen, hasSession } from '../../../ui/data/sessions.js';

const screen = (lines: string[], y: number) => ({ lines, cursor: { x: 0, y } });

describe('cropScreen', () => {
  test.each([
    ['all rows fit', screen(['one', 'two'], 1), 3, 10, ['one', 'two']],
    ['the bottom rows that fit', screen(['one', 'two', 'three', 'four'], 3), 2, 10, ['three', 'four']],
    [
      'blank rows below the text and the cursor left out',
      screen(['one', 'two', '', '', ''], 1),
      2,
      10,
      ['one', 'two'],
    ],
    ['the cursor row kept, blank or not', screen(['one', '', '', ''], 2), 2, 10, ['', '']],
    ['text below the cursor kept', screen(['one', 'two', '', 'status'], 0), 2, 10, ['', 'status']],
    ['each row cut to the width', screen(['abcdefghijkl'], 0), 1, 5, ['abcd…']],
    ['wide characters counted as two cells', screen(['日本語の画面'], 0), 1, 5, ['日本…']],
    ['control characters taken out', screen(['a\x1b]0;title\x07b\x07c'], 0), 1, 20, ['abc']],
    ['nothing for a box of no rows', screen(['one'], 0), 0, 10, []],
  ])('%s', (_what, given, rows, width, expected) => {
    expect(cropScreen(given, rows, width)).toEqual(expected);
  });
});

test('only a pty agent running a task has a live session', () => {
  const task = { id: 'T-1' } as never;
  expect(hasSession({ driver: 'pty', task })).toBe(true);
  expect(hasSession({ driver: 'pty', task: null })).toBe(false);
  expect(hasSession({ driver: 'command', task })).toBe(false);
  expect(hasSession(null)).toBe(false);
});
