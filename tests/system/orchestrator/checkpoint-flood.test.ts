/**
 * A run that reports checkpoints as fast as it can print them (issue 20, M6): they are coalesced
 * and paced before they are journaled, held to a byte budget per run, and the last one reported is
 * saved when the run ends.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CheckpointPacer } from '../../../src/orchestrator/checkpoint-pacer.js';
import type { JournalEntry } from '../../../state/schemas.js';
import { cli, tempDir } from '../../helpers/workspace.js';

describe('CheckpointPacer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const setup = (options: { everyMs?: number; maxBytes?: number } = {}) => {
    const written: number[] = [];
    const errors: unknown[] = [];
    const pacer = new CheckpointPacer<{ n: number }>(
      async (cp) => {
        written.push(cp.n);
      },
      (e) => errors.push(e),
      options,
    );
    return { pacer, written, errors };
  };

  it('writes the first at once, then at most one per period (the newest), and the last at the end', async () => {
    vi.useFakeTimers();
    const { pacer, written } = setup({ everyMs: 1000 });
    for (let n = 1; n <= 5000; n++) pacer.offer({ n });
    await vi.advanceTimersByTimeAsync(0);
    expect(written).toEqual([1]);
    await vi.advanceTimersByTimeAsync(999);
    expect(written).toEqual([1]);
    await vi.advanceTimersByTimeAsync(1);
    expect(written).toEqual([1, 5000]);
    for (let n = 5001; n <= 6000; n++) pacer.offer({ n });
    await vi.advanceTimersByTimeAsync(300);
    await pacer.flush();
    expect(written).toEqual([1, 5000, 6000]);
    // Nothing more after the end, however long one waits.
    pacer.offer({ n: 7000 });
    await vi.advanceTimersByTimeAsync(5000);
    expect(written).toEqual([1, 5000, 6000]);
  });

  it('past its byte budget, keeps only the newest for the end of the run', async () => {
    vi.useFakeTimers();
    const { pacer, written } = setup({ everyMs: 10, maxBytes: 20 });
    for (let n = 1; n <= 100; n++) {
      pacer.offer({ n });
      await vi.advanceTimersByTimeAsync(10);
    }
    // {"n":1} and {"n":2} are 7 bytes each, {"n":3} brings the run to 21: nothing after it until the end.
    expect(written).toEqual([1, 2, 3]);
    await pacer.flush();
    expect(written).toEqual([1, 2, 3, 100]);
  });

  it('a write that fails is reported, and the next one still goes', async () => {
    const errors: unknown[] = [];
    const written: number[] = [];
    const pacer = new CheckpointPacer<{ n: number }>(
      async (cp) => {
        if (cp.n === 1) throw new Error('disk full');
        written.push(cp.n);
      },
      (e) => errors.push(e),
      { everyMs: 0 },
    );
    pacer.offer({ n: 1 });
    pacer.offer({ n: 2 });
    await pacer.flush();
    expect(errors).toHaveLength(1);
    expect(written).toEqual([2]);
  });
});

describe('a task flooding ::dreamos checkpoint lines', () => {
  let tmp: ReturnType<typeof tempDir>;
  afterEach(() => tmp.cleanup());

  it('ends with a bounded number of checkpoint entries, its last checkpoint saved', () => {
    tmp = tempDir();
    const run = (args: string[]) => cli(args, { cwd: tmp.dir });
    expect(run(['init']).code).toBe(0);
    const lines = 5000;
    const program = path.join(tmp.dir, 'flood.mjs');
    fs.writeFileSync(
      program,
      `const pad = 'x'.repeat(2000);
for (let i = 1; i <= ${lines}; i++)
  console.log('::dreamos ' + JSON.stringify({ checkpoint: { step: 'step ' + i, progress: i / ${lines}, summary: pad } }));
`,
    );
    const task = run(['task', 'add', 'flood', '--run', `node ${program}`, '--json']).json<{ id: string }>();
    const result = run(['run', '--until-idle']);
    expect(result.code, result.stderr).toBe(0);

    const entries = run(['log', '--task', task.id, '--json']).json<JournalEntry[]>();
    expect(entries.at(-1)!.tasks![0]!.task.status).toBe('done');
    const agent = entries.at(-1)!.tasks![0]!.task.agent!;
    const journal = run(['log', '--json']).json<JournalEntry[]>();
    const reported = journal
      .filter((e) => e.op === 'checkpoint' && e.by === agent)
      .flatMap((e) => e.checkpoints ?? [])
      .filter((c) => c.task === task.id && c.step?.startsWith('step '));
    // One per second of the run at most, plus the first and the last: never one per line.
    expect(reported.length).toBeGreaterThanOrEqual(1);
    expect(reported.length).toBeLessThan(lines / 10);
    expect(reported.at(-1)!.step).toBe(`step ${lines}`);
    // The last one reported is the one a resumed run would start from: saved before the outcome.
    const list = run(['checkpoint', 'list', '--agent', agent, '--json']).json<Array<{ step?: string }>>();
    expect(list.map((c) => c.step).slice(-2)).toEqual([`step ${lines}`, 'done']);
  });
});
