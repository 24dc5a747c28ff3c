/**
 * The real binary in a real terminal (tmux) on a real git repository: `dreamos console --attach`
 * opens the review view, a task's diff, and approves the task with `A`.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/agents.js';
import { codeRepo } from '../../helpers/code-repo.js';
import { alive, hasTmux, tmuxServer } from '../../helpers/terminal.js';
import { BIN } from '../../helpers/workspace.js';

const term = tmuxServer('dreamos-review');
const { tmux, screen } = term;
const repo = codeRepo();
let pid = 0;

afterAll(async () => {
  if (pid) await waitFor(() => !alive(pid), 30_000).catch(() => undefined);
  term.kill();
  repo.cleanup();
});

async function until(what: string, check: (s: string) => boolean): Promise<void> {
  await waitFor(() => check(screen()), 60_000).catch(() => {
    throw new Error(`timed out waiting for ${what}; the screen:\n${screen()}`);
  });
}

describe('review in a real terminal', () => {
  it.skipIf(!hasTmux)(
    `opens a task's diff and approves it${hasTmux ? '' : ' (SKIPPED: tmux is not installed)'}`,
    async () => {
      const task = repo.add('Change a file', 'printf "changed\\n" > README && seq 1 100 > long.txt');
      const run = repo.run('run', '--until-idle');
      expect(run.code, run.stderr).toBe(0);
      expect(repo.task(task.id).status).toBe('review');

      pid = term.open('main', repo.dir, `exec ${process.execPath} ${BIN} console --attach`);
      await until('the console', (s) => s.includes('Dream.OS'));
      tmux('send-keys', '-t', 'main', '6');
      await until('the review view', (s) => s.includes('1 waiting') && s.includes(task.id));
      tmux('send-keys', '-t', 'main', 'Enter');
      await until(
        'the diff',
        (s) => s.includes(`Diff of ${task.id}`) && s.includes('2 files changed, +101 −1'),
      );
      tmux('send-keys', '-t', 'main', ']');
      await until('the first file', (s) => s.includes('file 1/2 README'));
      expect(screen()).toContain('+changed');
      tmux('send-keys', '-t', 'main', 'A');
      await until('the approval', (s) => s.includes(`${task.id} approved`));
      expect(repo.task(task.id).code?.stage).toBe('approved');
      tmux('send-keys', '-t', 'main', 'q');
      await waitFor(() => !alive(pid), 30_000);
    },
    120_000,
  );
});
