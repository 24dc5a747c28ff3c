import { describe, expect, test } from 'vitest';
import { fileAt, fileJump, parseDiff } from '../../../ui/diff-model.js';
import { initialState, reduce } from '../../../ui/model.js';

const TEXT = [
  'diff --git a/a.txt b/a.txt',
  'index 1..2 100644',
  '--- a/a.txt',
  '+++ b/a.txt',
  '@@ -1,2 +1,2 @@',
  ' same',
  '-old',
  '+new\twith a tab',
  'diff --git a/bin.png b/bin.png',
  'Binary files a/bin.png and b/bin.png differ',
  'diff --git a/b.txt b/b.txt',
  '--- a/b.txt',
  '+++ b/b.txt',
  '@@ -1 +1 @@',
  '-x \u001b[31mred\u001b[0m',
  '+y',
  '\\ No newline at end of file',
].join('\n');

describe('the diff model', () => {
  const parsed = parseDiff({
    files: [
      { path: 'a.txt', added: 1, removed: 1 },
      { path: 'bin.png', added: null, removed: null },
      { path: 'b.txt', added: 1, removed: 1 },
    ],
    added: 2,
    removed: 2,
    text: TEXT,
  });

  test('the files with their counts first, then each line of the diff with its kind', () => {
    expect(parsed.lines[0]).toEqual({ kind: 'title', text: '3 files changed, +2 −2' });
    expect(parsed.lines.slice(1, 4).map((l) => l.text.trim())).toEqual([
      '+1   −1  a.txt',
      'binary     bin.png',
      '+1   −1  b.txt',
    ]);
    expect(parsed.files).toEqual(['a.txt', 'bin.png', 'b.txt']);
    const kinds = parsed.lines.slice(parsed.fileStarts[0]).map((l) => l.kind);
    expect(kinds).toEqual([
      ...['file', 'meta', 'meta', 'meta', 'hunk', 'context', 'del', 'add'],
      ...['file', 'meta'],
      ...['file', 'meta', 'meta', 'hunk', 'del', 'add', 'meta'],
    ]);
    // `+++`/`---` in a file's header are not added or removed lines; tabs are spaces; escapes gone.
    expect(parsed.lines.find((l) => l.kind === 'add')?.text).toBe('+new    with a tab');
    expect(parsed.lines.some((l) => l.text.includes('\u001b'))).toBe(false);
    expect(parsed.lines.find((l) => l.text.startsWith('-x'))?.text).toBe('-x red');
  });

  test('[ and ] go from file start to file start; the file shown is the one at the top', () => {
    const [a, bin, b] = parsed.fileStarts as [number, number, number];
    expect(fileJump(parsed, 0, 1)).toBe(a);
    expect(fileJump(parsed, a, 1)).toBe(bin);
    expect(fileJump(parsed, bin + 1, 1)).toBe(b);
    expect(fileJump(parsed, b, 1)).toBeNull();
    expect(fileJump(parsed, b, -1)).toBe(bin);
    expect(fileJump(parsed, b + 2, -1)).toBe(b);
    expect(fileJump(parsed, a, -1)).toBeNull();
    expect(fileAt(parsed, 0)).toBe(-1);
    expect(fileAt(parsed, a + 3)).toBe(0);
    expect(fileAt(parsed, b)).toBe(2);
  });

  test('opening a diff starts at its first line; esc goes back to where it was opened', () => {
    let s = reduce(initialState(), { type: 'go', view: 'review' });
    s = reduce(s, { type: 'open-diff', id: 'T-00001' });
    s = reduce(s, { type: 'cursor', delta: 30, size: 100 });
    expect([s.view, s.diffTaskId, s.cursors.diff]).toEqual(['diff', 'T-00001', 30]);
    s = reduce(s, { type: 'back' });
    expect(s.view).toBe('review');
    s = reduce(s, { type: 'open-diff', id: 'T-00002' });
    expect([s.diffTaskId, s.cursors.diff]).toEqual(['T-00002', undefined]);
  });
});
