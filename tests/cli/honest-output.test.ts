/**
 * Small things the CLI said that were not quite true or not quite what was meant (issue 12, item 11):
 * each checked through the real binary.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { tempDir } from '../helpers/workspace.js';
import { type Board, board, dreamos, show } from './helpers.js';

vi.setConfig({ testTimeout: 180_000 });

let b: Board;
beforeEach(() => {
  b = board();
});
afterEach(() => b.cleanup());

const ok = (r: ReturnType<Board['run']>) => {
  expect(r.code, show(r)).toBe(0);
  return r;
};

describe('the CLI says what it means', () => {
  it('`dreamos --home DIR` alone does what a bare `dreamos` does (not a terminal: status and hint)', () => {
    b.add('visible from elsewhere', '--run', 'true');
    const elsewhere = tempDir('dreamos-elsewhere-');
    try {
      for (const args of [['--home', b.dir], [`--home=${b.dir}`]]) {
        const r = ok(dreamos(args, { cwd: elsewhere.dir }));
        expect(r.stdout).toMatch(/^workspace .*\.dreamos/);
        expect(r.stdout).toContain('ready 1');
        expect(r.stderr).toMatch(/not a terminal, so this is the status/);
      }
      const json = ok(dreamos(['--home', b.dir, '--json'], { cwd: elsewhere.dir }));
      expect(json.json<{ counts: { ready: number } }>().counts.ready).toBe(1);
    } finally {
      elsewhere.cleanup();
    }
  });
});
