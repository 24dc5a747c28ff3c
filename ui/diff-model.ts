/**
 * A task's diff as the diff view pages through it, parsed once: the changed files with their
 * counts, then the unified diff, one entry per line with its kind (for its colour) and the line
 * where each file starts (for `[` and `]`). The view draws only the lines on screen. Pure: no ink.
 */
import type { TaskDiff } from '../src/review/index.js';
import { stripControl } from '../src/sanitize.js';

export type DiffLineKind = 'title' | 'stat' | 'file' | 'meta' | 'hunk' | 'add' | 'del' | 'context' | 'blank';

export interface DiffLine {
  kind: DiffLineKind;
  text: string;
}

export interface ParsedDiff {
  lines: DiffLine[];
  /** The line where each file's part of the unified diff starts, in order. */
  fileStarts: number[];
  /** Their paths, in the same order. */
  files: string[];
}

const TAB = '    ';

/** A diff line as it can be drawn on one row: tabs as spaces, no control characters. */
const shown = (line: string) => stripControl(line.replace(/\t/g, TAB));

function kindOf(line: string, inHeader: boolean): DiffLineKind {
  if (line.startsWith('diff --git ')) return 'file';
  if (line.startsWith('@@')) return 'hunk';
  if (inHeader) return 'meta';
  if (line.startsWith('+')) return 'add';
  if (line.startsWith('-')) return 'del';
  if (line.startsWith('\\')) return 'meta';
  return 'context';
}

/** `diff --git a/x b/x` → `x` (the new path; `a/x` when there is no `b/`). */
function pathOf(line: string): string {
  const rest = line.slice('diff --git '.length);
  const b = rest.lastIndexOf(' b/');
  return b >= 0 ? rest.slice(b + 3) : rest.replace(/^a\//, '');
}

export function parseDiff(diff: Pick<TaskDiff, 'files' | 'added' | 'removed' | 'text'>): ParsedDiff {
  const lines: DiffLine[] = [];
  const fileStarts: number[] = [];
  const files: string[] = [];
  const n = diff.files.length;
  lines.push({
    kind: 'title',
    text: `${n} file${n === 1 ? '' : 's'} changed, +${diff.added} −${diff.removed}`,
  });
  const width = Math.max(
    4,
    ...diff.files.flatMap((f) => [`+${f.added ?? ''}`.length, `−${f.removed ?? ''}`.length]),
  );
  for (const f of diff.files) {
    const counts =
      f.added === null || f.removed === null
        ? 'binary'.padEnd(width * 2 + 1)
        : `${`+${f.added}`.padStart(width)} ${`−${f.removed}`.padStart(width)}`;
    lines.push({ kind: 'stat', text: `  ${counts}  ${shown(f.path)}` });
  }
  lines.push({ kind: 'blank', text: '' });
  const text = diff.text ?? '';
  let inHeader = false;
  let from = 0;
  while (from < text.length) {
    let end = text.indexOf('\n', from);
    if (end < 0) end = text.length;
    const raw = text.slice(from, end);
    from = end + 1;
    if (raw.startsWith('diff --git ')) {
      inHeader = true;
      fileStarts.push(lines.length);
      files.push(shown(pathOf(raw)));
    } else if (raw.startsWith('@@')) inHeader = false;
    lines.push({ kind: kindOf(raw, inHeader), text: shown(raw) });
  }
  return { lines, fileStarts, files };
}

/** The index of the file shown at line `top` (-1 above the first file). */
export function fileAt(parsed: ParsedDiff, top: number): number {
  let at = -1;
  for (let i = 0; i < parsed.fileStarts.length && parsed.fileStarts[i]! <= top; i++) at = i;
  return at;
}

/** The line to go to for the next (1) or previous (-1) file from the first line shown; null: none. */
export function fileJump(parsed: ParsedDiff, top: number, dir: 1 | -1): number | null {
  const starts = parsed.fileStarts;
  if (dir > 0) return starts.find((s) => s > top) ?? null;
  for (let i = starts.length - 1; i >= 0; i--) if (starts[i]! < top) return starts[i]!;
  return null;
}
