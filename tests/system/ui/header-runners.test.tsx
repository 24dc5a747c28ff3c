/**
 * The console's header says who runs the agents: this process, another live orchestrator (its pid),
 * or nobody; it follows orchestrators that start and stop elsewhere.
 */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, test } from 'vitest';
import { startOrchestrator } from '../../../src/orchestrator/index.js';
import { cleanupAll, open } from '../../helpers/ui.js';
import { BIN } from '../../helpers/workspace.js';

afterEach(cleanupAll);

const header = (frame: string) => frame.split('\n')[0]!;

describe('the header', () => {
  test('names who runs the agents: nobody, another process, this one', async () => {
    const h = await open({ mode: 'attached' });
    await h.waitFor((f) => header(f).includes('nobody runs agents'), 'nobody');

    const other = spawn(process.execPath, [BIN, 'run', '--agents', 'agent-8'], {
      cwd: h.dir,
      stdio: 'ignore',
    });
    const exited = new Promise((r) => other.once('exit', r));
    try {
      await h.waitFor((f) => header(f).includes(`agents: pid ${other.pid}`), 'the other process', 30_000);
      const here = await startOrchestrator(h.ws, { agents: ['agent-1'] });
      try {
        await h.waitFor(
          (f) => header(f).includes(`agents run here + pid ${other.pid}`),
          'this process and the other',
          30_000,
        );
        other.kill('SIGINT');
        await exited;
        await h.waitFor(
          (f) => header(f).includes('agents run here') && !header(f).includes('+ pid'),
          'this process alone',
          30_000,
        );
      } finally {
        await here.stop();
      }
      await h.waitFor((f) => header(f).includes('nobody runs agents'), 'nobody again', 30_000);
    } finally {
      if (other.exitCode === null && other.signalCode === null) other.kill('SIGKILL');
    }
    expect(header(h.frame())).not.toContain('agents run here');
  }, 90_000);
});
