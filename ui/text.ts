/** Small formatting helpers shared by the views. Everything shown passes through oneLine (control sequences stripped). */

import { oneLine } from '../src/sanitize.js';
import type { Priority } from '../state/schemas.js';

export const clean = (text: string | null | undefined, width?: number) => oneLine(text ?? '', width);

/** `HH:MM:SS` of an ISO time, in local time; `-` when there is none. */
export function clock(iso: string | null | undefined): string {
  if (!iso) return '-';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '-';
  return d.toTimeString().slice(0, 8);
}

export const percent = (p: number | null | undefined) =>
  p === null || p === undefined ? '' : `${Math.round(p * 100)}%`;

/** Priority as a symbol before a title (normal shows nothing). */
export const PRIORITY_MARK: Record<Priority, string> = { critical: '‼ ', high: '! ', normal: '', low: '↓ ' };

/** A progress bar of `width` cells, e.g. ▕███░░░▏. */
export function progressBar(p: number | null | undefined, width = 10): string {
  if (p === null || p === undefined) return '';
  const cells = Math.round(Math.max(0, Math.min(1, p)) * width);
  return `▕${'█'.repeat(cells)}${'░'.repeat(width - cells)}▏`;
}

/** Does `hay` hold every word of `filter`, in any case? An empty filter matches everything. */
export function hasWords(hay: string, filter: string): boolean {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return true;
  const text = hay.toLowerCase();
  return words.every((w) => text.includes(w));
}

/** One edit of a line being typed: clear it, delete its last character, or append (kept to `max`). */
export function editText(
  text: string,
  op: 'insert' | 'delete' | 'clear',
  insert: string,
  max: number,
): string {
  if (op === 'clear') return '';
  if (op === 'delete') return [...text].slice(0, -1).join('');
  return (text + insert).slice(0, max);
}

/**
 * The display width of a character, erring wide: everything from U+1100 up (CJK, emoji, most
 * symbols) counts two cells, so a line cut with `fitCells` never spills past its box.
 */
const cellsOf = (code: number) => (code >= 0x1100 ? 2 : 1);

/** Cut text (which may hold SGR colour codes) to at most `width` cells, with … where it was cut. */
export function fitCells(text: string, width: number): string {
  let used = 0;
  let out = '';
  let styled = false;
  let cut = false;
  // Where the text stands once one cell is kept free for the ellipsis.
  let beforeLast = { out: '', used: 0 };
  for (let i = 0; i < text.length; ) {
    if (text.charCodeAt(i) === 0x1b) {
      const end = text.indexOf('m', i);
      if (end < 0) break;
      out += text.slice(i, end + 1);
      styled = true;
      i = end + 1;
      continue;
    }
    const code = text.codePointAt(i)!;
    const size = code > 0xffff ? 2 : 1;
    const cells = cellsOf(code);
    if (used + cells > width) {
      cut = true;
      break;
    }
    if (used + cells <= width - 1) beforeLast = { out: out + text.slice(i, i + size), used: used + cells };
    out += text.slice(i, i + size);
    used += cells;
    i += size;
  }
  if (cut && width > 0) out = `${beforeLast.out}…`;
  return styled ? `${out}\u001b[0m` : out;
}
