/**
 * Live sessions as the console shows them, pure: which agents have one, and a screen cropped to the
 * rows and cells of a pane (docs/console.md#live-sessions).
 */

import { stripControl } from '../../src/sanitize.js';
import type { ScreenSnapshot } from '../../src/sessions.js';
import { fitCells } from '../text.js';
import type { AgentRow } from './console-view.js';

/** Does this agent have a live session now? Only a `pty` agent does, while it runs a task. */
export const hasSession = (agent: Pick<AgentRow, 'driver' | 'task'> | null): boolean =>
  agent !== null && agent.driver === 'pty' && agent.task !== null;

/**
 * The rows of `screen` that fit `rows` × `width`: the bottom ones that hold text (rows below the
 * last text and the cursor are left out, so a half-empty screen shows its text, not its blank
 * bottom), each cut to `width` cells. Plain text: control characters are taken out.
 */
export function cropScreen(
  screen: Pick<ScreenSnapshot, 'lines' | 'cursor'>,
  rows: number,
  width: number,
): string[] {
  if (rows <= 0 || width <= 0) return [];
  let last = Math.min(screen.cursor.y, screen.lines.length - 1);
  for (let i = screen.lines.length - 1; i > last; i--) {
    if (screen.lines[i]!.trim() !== '') {
      last = i;
      break;
    }
  }
  const used = screen.lines.slice(0, last + 1);
  return used.slice(-rows).map((line) => fitCells(stripControl(line), width));
}
