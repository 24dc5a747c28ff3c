/**
 * `doctor` on a healthy, busy workspace (issue 12, item 5): with a real `dreamos run` working through
 * thousands of tasks, doctor says ok every time, and `doctor --repair` moves nothing to quarantine.
 * The boards and the journal are compared at one journal position, the boards read as one set.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BusyRun, startBusyRun } from '../../helpers/busy-run.js';
import { type Board, board, show } from '../../helpers/cli.js';

let b: Board;
let run: BusyRun | null = null;

beforeEach(() => {
  b = board();
});
afterEach(async () => {
  await run?.stop();
  run = null;
  b.cleanup();
});

interface Report {
  ok: boolean;
  seq: number;
  problems: Array<{ code: string; message: string }>;
}

describe('doctor during a busy run', () => {
  it('finds nothing wrong, and repairs nothing', async () => {
    run = await startBusyRun(b.dir);
    const seqs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = b.run('doctor', '--json');
      expect(r.code, show(r)).toBe(0);
      const report = r.json<Report>();
      expect(report.problems).toEqual([]);
      seqs.push(report.seq);
    }
    // The run kept changing the journal meanwhile: the checks ran against a moving workspace.
    expect(new Set(seqs).size).toBeGreaterThan(1);

    const repaired = b.run('doctor', '--repair', '--json');
    expect(repaired.code, show(repaired)).toBe(0);
    expect(repaired.json<Report & { repaired: string[] }>().repaired).toEqual([]);
    expect(fs.readdirSync(path.join(b.dir, '.dreamos', 'quarantine'))).toEqual([]);
  }, 180_000);
});
