/**
 * The real binary in a real terminal (tmux) hands the terminal to $EDITOR and takes it back: the
 * editor (a script that asks for a line on the terminal) shows on the main screen and gets the keys
 * typed, the console comes back drawn in full with the prompt written, and the task it adds carries
 * that prompt. Needs a build and tmux; without tmux it is skipped, saying so.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import type { Task } from '../../../state/schemas.js';
import { alive, hasTmux, tmuxServer } from '../../helpers/terminal.js';
import { sleep } from '../../helpers/ui.js';
import { BIN, ROOT, tempDir } from '../../helpers/workspace.js';

const bin = process.env.DREAMOS_TEST_BIN ?? BIN;
const tmp = tempDir('dreamos-editor-e2e-');
const term = tmuxServer('dreamos-editor');
const { tmux, screen } = term;
const dreamos = (...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], { cwd: tmp.dir, encoding: 'utf8', timeout: 30_000 });

async function until(what: string, probe: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the screen:\n${screen()}`);
    await sleep(100);
  }
}

afterAll(() => {
  term.kill();
  tmp.cleanup();
});

describe('$EDITOR from the real console', () => {
  test.skipIf(!hasTmux)(
    `a prompt written in the editor, round trip${hasTmux ? '' : ' (SKIPPED: tmux is not installed)'}`,
    async () => {
      expect(fs.existsSync(path.join(ROOT, 'dist', 'console.js')), 'build first').toBe(true);
      const init = dreamos('init');
      expect(init.status, init.stderr).toBe(0);
      const editor = path.join(tmp.dir, 'ask-editor.sh');
      fs.writeFileSync(
        editor,
        [
          '#!/bin/sh',
          'printf "ASK-EDITOR editing %s\\n" "$(basename "$1")"',
          'printf "type a line: "',
          'read -r line',
          'printf "%s\\n(typed in the editor)\\n" "$line" > "$1"',
        ].join('\n'),
      );
      const pid = term.open(
        'main',
        tmp.dir,
        `exec env -u VISUAL EDITOR='sh ${editor}' ${process.execPath} ${bin} console`,
      );
      await until('the console', () => screen().includes('Board backlog 0'));

      tmux('send-keys', '-t', 'main', 'a');
      await until('the form', () => screen().includes('Add a task'));
      for (const ch of 'Edited') tmux('send-keys', '-t', 'main', '-l', ch);
      await until('the title', () => screen().includes('Edited'));
      tmux('send-keys', '-t', 'main', 'C-e');
      await until('the editor, alone on the screen', () => {
        const s = screen();
        return (
          s.includes('ASK-EDITOR editing prompt.md') &&
          s.includes('type a line:') &&
          !s.includes('Add a task')
        );
      });
      for (const ch of 'Written in tmux') tmux('send-keys', '-t', 'main', '-l', ch);
      await until('the keys in the editor', () => screen().includes('type a line: Written in tmux'));
      tmux('send-keys', '-t', 'main', 'Enter');

      await until(
        'the console back, drawn in full',
        () => {
          const s = screen();
          return (
            s.includes('Dream.OS') &&
            s.includes('Add a task') &&
            s.includes('Written in tmux (+1 line)') &&
            s.includes('prompt written (2 lines)') &&
            !s.includes('ASK-EDITOR')
          );
        },
        20_000,
      );
      // Keys reach the console again.
      tmux('send-keys', '-t', 'main', 'Enter');
      await until('the task from outside', () => {
        const listed = dreamos('task', 'list', '--json');
        return (
          listed.status === 0 &&
          (JSON.parse(listed.stdout) as Task[]).some(
            (t) => t.title === 'Edited' && t.prompt === 'Written in tmux\n(typed in the editor)',
          )
        );
      });
      await until('the form closed', () => !screen().includes('Add a task'));

      tmux('send-keys', '-t', 'main', 'q');
      await until('the console to exit', () => !alive(pid), 20_000);
    },
  );
});

describe('the bell from the real console', () => {
  test.skipIf(!hasTmux)(
    `a new attention item rings the bell of the console's tmux window${hasTmux ? '' : ' (SKIPPED: tmux is not installed)'}`,
    async () => {
      expect(fs.existsSync(path.join(ROOT, 'dist', 'console.js')), 'build first').toBe(true);
      const pid = term.open('bell', tmp.dir, `exec ${process.execPath} ${bin} console --attach`);
      await until('the console', () => screen('bell').includes('Board backlog'));
      // Another window in front: tmux flags the console's window when its bell rings.
      tmux('new-window', '-t', 'bell', 'sleep 600');
      const flag = () => tmux('display', '-p', '-t', 'bell:0', '#{window_bell_flag}').trim();
      expect(flag()).toBe('0');
      const sent = dreamos('mail', 'send', '--to', 'operator', 'Come and look');
      expect(sent.status, sent.stderr).toBe(0);
      await until('the bell flag', () => flag() === '1');
      await until('the unseen count', () => screen('bell:0').includes(' 3 Attention 1 new'));
      tmux('send-keys', '-t', 'bell:0', '3');
      await until(
        'seen',
        () => !screen('bell:0').includes('1 new') && screen('bell:0').includes('Come and look'),
      );
      tmux('send-keys', '-t', 'bell:0', 'q');
      await until('the console to exit', () => !alive(pid), 20_000);
    },
  );
});
