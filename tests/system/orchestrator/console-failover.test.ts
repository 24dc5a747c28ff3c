/**
 * Two consoles on one workspace, in real terminals (tmux): the second runs no agents and says which
 * pid does; quitting the first (`q`) moves its agents to the second, which runs the interrupted task
 * again and says the agents now run here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/agents.js';
import { alive, hasTmux, tmuxServer } from '../../helpers/terminal.js';
import { BIN, cli, tempDir } from '../../helpers/workspace.js';

const tmp = tempDir('dreamos-consoles-');
const term = tmuxServer('dreamos-consoles');
const { tmux, screen } = term;
const starts = () => {
  const file = path.join(tmp.dir, 'starts');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
};
/** Wait, naming what did not happen and showing both screens. */
async function until(what: string, check: () => boolean): Promise<void> {
  await waitFor(check, 60_000).catch(() => {
    const shown = (session: string) => {
      try {
        return screen(session);
      } catch {
        return `(${session}: closed)`;
      }
    };
    throw new Error(`timed out waiting for ${what}; the screens:\n${shown('first')}\n${shown('second')}`);
  });
}
function openConsole(session: string): number {
  const pid = term.open(session, tmp.dir, `exec ${process.execPath} ${BIN} console`);
  consoles.push(pid);
  return pid;
}

const consoles: number[] = [];
afterAll(async () => {
  term.kill();
  // A console stops cleanly on the hangup: let it finish writing before its folder goes.
  await waitFor(() => consoles.every((pid) => !alive(pid)), 30_000).catch(() => undefined);
  tmp.cleanup();
});

describe('two consoles', () => {
  it.skipIf(!hasTmux)(
    `the second takes over the agents when the first quits${hasTmux ? '' : ' (SKIPPED: tmux is not installed)'}`,
    async () => {
      expect(cli(['init'], { cwd: tmp.dir }).code).toBe(0);
      cli(['task', 'add', 'hang', '--run', 'echo $$ >> starts; sleep 60'], { cwd: tmp.dir });
      const first = openConsole('first');
      await until('the task to start', () => starts().length === 1);
      const second = openConsole('second');
      await until('the second to name the first', () => screen('second').includes(`agents: pid ${first}`));

      tmux('send-keys', '-t', 'first', 'q');
      await until('the first to quit', () => !alive(first));
      await until('the task to start again', () => starts().length === 2);
      expect(alive(Number(starts()[0]))).toBe(false);
      await until('the agents to run in the second', () =>
        screen('second').split('\n')[0]!.includes('agents run here'),
      );

      tmux('send-keys', '-t', 'second', 'q');
      await waitFor(() => !alive(second), 30_000);
      const task = cli(['task', 'list', '--json'], { cwd: tmp.dir }).json<Array<{ status: string }>>();
      expect(task.map((t) => t.status)).toEqual(['ready']);
    },
    300_000,
  );
});
