/**
 * Attach inside the console, with the real binary in a real terminal (tmux): the console runs a
 * `pty` agent (the question stand-in), `enter` on its pane takes the terminal over, typed keys reach
 * the program, Ctrl-] gives the dashboard back as it was, and the detach key never reaches the
 * program. Needs a build and tmux; without tmux it is skipped, saying so.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { usePtyAgent } from '../../helpers/sessions.js';
import { alive, hasTmux, tmuxServer } from '../../helpers/terminal.js';
import { sleep } from '../../helpers/ui.js';
import { BIN, ROLE_NAMES, ROOT, tempDir } from '../../helpers/workspace.js';

const bin = process.env.DREAMOS_TEST_BIN ?? BIN;
const tmp = tempDir('dreamos-console-attach-');
const term = tmuxServer('dreamos-console-attach');
const { tmux, screen } = term;
const dreamos = (...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], { cwd: tmp.dir, encoding: 'utf8', timeout: 30_000 });

afterAll(() => {
  term.kill();
  tmp.cleanup();
});

/** The screen once `probe` holds (it looks at the screen itself). */
async function until(what: string, probe: () => boolean, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = screen();
    if (probe()) return seen;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the screen:\n${seen}`);
    await sleep(100);
  }
}

const pane = (format: string) => tmux('display', '-p', '-t', 'main', format).trim();
/** The console's frame: its header, the eight agents, the board summary and the help bar. */
const dashboardShown = (s: string) =>
  s.startsWith(' Dream.OS') &&
  ROLE_NAMES.every((n) => s.includes(n)) &&
  s.includes('Board backlog 0') &&
  /enter attach|t attach/.test(s);

describe('attach inside the console', () => {
  test.skipIf(!hasTmux)(
    `enter attaches, keys reach the program, ctrl-] brings the dashboard back${hasTmux ? '' : ' (SKIPPED: tmux is not installed)'}`,
    async () => {
      expect(fs.existsSync(path.join(ROOT, 'dist', 'console.js')), 'build first').toBe(true);
      expect(dreamos('init').status).toBe(0);
      usePtyAgent(tmp.dir, ['--loop']);
      expect(dreamos('task', 'add', 'talk', '--prompt', 'attach from the console').status).toBe(0);
      const pid = term.open('main', tmp.dir, `exec ${process.execPath} ${bin} console`);

      await until('the live screen in the pane', () => {
        const s = screen();
        return s.includes('Proceed with the change?') && s.includes('Board backlog 0');
      });
      const before = screen();
      expect(dashboardShown(before)).toBe(true);

      tmux('send-keys', '-t', 'main', 'Enter');
      // Full screen: the program's terminal took the console's size and the console is not drawn.
      const attached = await until('the attached terminal', () => screen().includes('size 160x48'));
      expect(attached).not.toContain('Dream.OS');
      expect(attached).toContain('prompt: attach from the console');

      for (const ch of 'yes') tmux('send-keys', '-t', 'main', '-l', ch);
      await until('the answer typed', () => screen().trimEnd().endsWith('yes'));
      tmux('send-keys', '-t', 'main', 'Enter');
      await until('the answer taken', () =>
        screen()
          .split('\n')
          .some((line) => line.trim() === 'answer: yes'),
      );
      tmux('send-keys', '-t', 'main', 'C-]');

      const back = await until('the dashboard back', () => dashboardShown(screen()));
      await until('the detach told', () => screen().includes('detached from agent-1 (ctrl-])'));
      // Nothing of the attach is left on the console's screen outside the agent's pane.
      expect(back).not.toContain('size 160x48');
      expect(back.split('\n').length).toBe(before.split('\n').length);
      expect(pane('#{alternate_on}')).toBe('1');
      // The keys reached the program; the detach key did not; the agent goes on.
      const peek = dreamos('agent', 'peek', 'agent-1').stdout;
      expect(peek).toContain('answer: yes');
      expect(peek).not.toContain('[key 1d]');
      await until('the answer in the pane', () => screen().includes('answer: yes'));

      tmux('send-keys', '-t', 'main', 'q');
      const deadline = Date.now() + 30_000;
      while (alive(pid) && Date.now() < deadline) await sleep(100);
      expect(alive(pid)).toBe(false);
    },
  );
});
