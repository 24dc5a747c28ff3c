/** The sim driver: labelled, seeded, and honest about failures and stalls. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDriver } from '../../../agents/drivers/index.js';
import { seededRandom } from '../../../agents/drivers/sim.js';
import type { Driver } from '../../../src/config.js';
import { makeCheckpoint, makeContext, makeTask, waitFor } from '../../helpers/agents.js';
import { tempDir } from '../../helpers/workspace.js';

let dir: string;
let cleanup: () => void;

beforeEach(() => {
  ({ dir, cleanup } = tempDir('dreamos-sim-'));
});
afterEach(() => cleanup());

const sim = (rates: Partial<Extract<Driver, { kind: 'sim' }>> = {}, seed = 1) =>
  createDriver(
    { kind: 'sim', minSeconds: 0.02, maxSeconds: 0.05, failRate: 0, stallRate: 0, ...rates },
    { sim: { random: seededRandom(seed) } },
  );

describe('sim driver', () => {
  it('accepts tasks without a run command, never real shell work', () => {
    expect(sim().accepts(makeTask())).toBe(true);
    expect(sim().accepts(makeTask({ prompt: 'write the docs' }))).toBe(true);
    expect(sim().accepts(makeTask({ run: 'make' }))).toBe(false);
  });

  it('completes with progress, a checkpoint, and every line labelled as simulated', async () => {
    const { ctx, rec } = makeContext(dir);
    const outcome = await sim().start(ctx).done;
    expect(outcome).toMatchObject({ ok: true });
    expect(outcome.summary).toMatch(/^\[simulated\] /);
    expect(rec.progress).toEqual([0.2, 0.4, 0.6, 0.8, 1]);
    expect(rec.checkpoints).toEqual([{ step: '[simulated] step 3/5', progress: 0.6 }]);
    expect(rec.lines.length).toBeGreaterThan(0);
    for (const { line } of rec.lines) expect(line).toMatch(/^\[simulated\] /);
    expect(rec.spawns).toEqual([]);
  });

  it('fails with failRate 1', async () => {
    const { ctx } = makeContext(dir);
    expect(await sim({ failRate: 1 }).start(ctx).done).toMatchObject({
      ok: false,
      errorCode: 'E_FAILED',
      error: '[simulated] simulated failure',
    });
  });

  it('stalls with stallRate 1 until stopped', async () => {
    const { ctx, rec } = makeContext(dir);
    const run = sim({ stallRate: 1 }).start(ctx);
    await waitFor(() => rec.lines.some((l) => l.line.includes('stalled')));
    const progressBefore = rec.progress.length;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(rec.progress.length).toBe(progressBefore);
    await run.stop('cancel');
    expect(await run.done).toMatchObject({ ok: false, errorCode: 'E_CANCELLED' });
  });

  it('a stall ends with E_TIMEOUT past the task timeout', async () => {
    const { ctx } = makeContext(dir, { timeoutSeconds: 0.3 });
    expect(await sim({ stallRate: 1 }).start(ctx).done).toMatchObject({ ok: false, errorCode: 'E_TIMEOUT' });
  });

  it('resumes from a checkpoint of the same task', async () => {
    const { ctx, rec } = makeContext(dir, { checkpoint: makeCheckpoint({ progress: 0.6 }) });
    expect((await sim().start(ctx).done).ok).toBe(true);
    expect(rec.progress).toEqual([0.8, 1]);
    expect(rec.lines[0]!.line).toContain('resuming at step 4/5');
  });

  it('gives the same runs for the same seed', async () => {
    const outcomes = async (seed: number) => {
      const driver = sim({ failRate: 0.5 }, seed);
      const results: boolean[] = [];
      for (let i = 0; i < 12; i++) {
        const { ctx } = makeContext(dir);
        results.push((await driver.start(ctx).done).ok);
      }
      return results;
    };
    const a = await outcomes(7);
    expect(await outcomes(7)).toEqual(a);
    expect(a).toContain(true);
    expect(a).toContain(false);
  });
});
