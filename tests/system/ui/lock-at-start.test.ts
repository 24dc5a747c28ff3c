/**
 * A console opened while a stopped process holds the journal lock cannot start its agents: it
 * watches, says it will try again, and runs the agents once that process is gone (a real
 * terminal, tmux, and real processes).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/agents.js';
import { holdLock, type LockHolderProcess } from '../../helpers/busy-run.js';
import { alive, hasTmux, tmuxServer } from '../../helpers/terminal.js';
import { BIN, cli, tempDir } from '../../helpers/workspace.js';

const tmp = tempDir('dreamos-lock-at-start-');
const term = tmuxServer('dreamos-lock-at-start');
const consoles: number[] = [];
let holder: LockHolderProcess | null = null;

afterAll(async () => {
  await holder?.kill();
  term.kill();
  await waitFor(() => consoles.every((pid) => !alive(pid)), 30_000).catch(() => undefined);
  tmp.cleanup();
});

const header = () => term.screen().split('\n')[0]!;
async function until(what: string, check: () => boolean): Promise<void> {
  await waitFor(check, 90_000).catch(() => {
    throw new Error(`timed out waiting for ${what}; the screen:\n${term.screen()}`);
  });
}

describe('a console started while a stopped process holds the journal lock', () => {
  it.skipIf(!hasTmux)(
    `runs the agents once that process is gone${hasTmux ? '' : ' (SKIPPED: tmux is not installed)'}`,
    async () => {
      expect(cli(['init'], { cwd: tmp.dir }).code).toBe(0);
      expect(cli(['task', 'add', 'mark', '--run', 'echo done > ran'], { cwd: tmp.dir }).code).toBe(0);
      holder = await holdLock(path.join(tmp.dir, '.dreamos'), tmp.dir);
      holder.child.kill('SIGSTOP');
      consoles.push(term.open('main', tmp.dir, `exec ${process.execPath} ${BIN} console`));

      // Its start times out on the lock: it watches, and says so and that it tries again.
      await until('the notice', () => term.screen().includes('watching only, trying again every'));
      expect(header()).toContain('nobody runs agents');
      expect(fs.existsSync(path.join(tmp.dir, 'ran'))).toBe(false);

      await holder.kill();
      holder = null;
      await until('the agents to run here', () => header().includes('agents run here'));
      await until('the task to run', () => fs.existsSync(path.join(tmp.dir, 'ran')));
      // Its command has run; its completion is recorded a moment later (quitting before would send
      // the task back to ready, as a quit mid-run does).
      const statuses = () =>
        cli(['task', 'list', '--json'], { cwd: tmp.dir })
          .json<Array<{ status: string }>>()
          .map((t) => t.status);
      await until('the task to be done', () => statuses().join() === 'done');

      term.tmux('send-keys', '-t', 'main', 'q');
      await waitFor(() => consoles.every((pid) => !alive(pid)), 30_000);
      expect(statuses()).toEqual(['done']);
    },
    300_000,
  );
});
