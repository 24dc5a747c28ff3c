/**
 * A run whose outcome the board refuses (fractional token counts, an over-long summary: a driver's
 * bug or a hostile server's data) still ends its task: it fails with E_DRIVER, saying why, and
 * `--until-idle` ends, instead of the task staying `working` for ever.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentDriver, DriverOutcome } from '../../../agents/drivers/types.js';
import { Orchestrator } from '../../../src/orchestrator/index.js';
import { openWorkspace, type Workspace } from '../../../src/workspace.js';
import { cli, tempDir } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
let ws: Workspace;

beforeEach(async () => {
  tmp = tempDir('dreamos-outcome-');
  expect(cli(['init'], { cwd: tmp.dir }).code).toBe(0);
  ws = await openWorkspace({ home: path.join(tmp.dir, '.dreamos'), share: false });
});
afterEach(async () => {
  await ws.close();
  tmp.cleanup();
});

const ending = (outcome: DriverOutcome): AgentDriver => ({
  kind: 'shell',
  accepts: () => true,
  start: () => ({ done: Promise.resolve(outcome), stop: async () => undefined }),
});

describe('an outcome the board cannot record', () => {
  it.each([
    [
      'fractional token counts',
      { ok: true, summary: 'fine', usage: { inputTokens: 1.5, outputTokens: -2, usd: 0 } },
    ],
    ['a summary over the limit', { ok: true, summary: 'x'.repeat(30_000) }],
    ['an error over the limit', { ok: false, errorCode: 'E_LLM', error: 'e'.repeat(30_000) }],
  ])(
    'fails the task with E_DRIVER (%s) and the run ends',
    async (_name, outcome) => {
      const task = await ws.addTask({ title: 'refused outcome', run: 'true', maxAttempts: 1 });
      const orchestrator = new Orchestrator(ws, {
        agents: ['agent-1'],
        untilIdle: true,
        createDriver: () => ending(outcome as DriverOutcome),
      });
      await orchestrator.start();
      expect(await orchestrator.done).toBe('idle');
      ws.refresh();
      const after = ws.getTask(task.id);
      expect(after.status).toBe('failed');
      expect(after.result).toMatchObject({ ok: false, errorCode: 'E_DRIVER' });
      expect(after.result?.error).toMatch(/^the outcome of the run could not be recorded: /);
    },
    30_000,
  );
});
