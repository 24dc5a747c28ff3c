/**
 * One end-to-end run of the real binary in a real terminal (tmux): start `dreamos console` in a
 * fresh workspace, see the eight agents and the board, add a task by keys, find it with
 * `dreamos task list --json` from outside, quit with q, and leave no process behind.
 * Needs a build (`node scripts/build.mjs --no-types`) and tmux; without tmux it is skipped, saying so.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import type { Task } from '../../../state/schemas.js';
import { alive, hasTmux, tmuxServer } from '../../helpers/terminal.js';
import { sleep } from '../../helpers/ui.js';
import { BIN, ROLE_NAMES, ROOT, tempDir } from '../../helpers/workspace.js';

const bin = process.env.DREAMOS_TEST_BIN ?? BIN;
const tmp = tempDir('dreamos-e2e-');
const term = tmuxServer('dreamos-e2e');
const { tmux, screen } = term;
const dreamosIn = (cwd: string, ...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', timeout: 30_000 });
const dreamos = (...args: string[]) => dreamosIn(tmp.dir, ...args);

async function until<T>(
  what: string,
  probe: () => T | undefined | false,
  timeoutMs = 15_000,
  session = 'main',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; the screen:\n${hasTmux ? screen(session) : ''}`);
    await sleep(100);
  }
}

/** Processes whose working folder is inside the workspace (Linux /proc), besides this test. */
function processesIn(dir: string): string[] {
  if (!fs.existsSync('/proc/self/cwd')) return [];
  const found: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
      if (cwd.startsWith(dir))
        found.push(`${pid} ${fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')}`);
    } catch {
      // gone, or not ours to see
    }
  }
  return found;
}

const keysTmp = tempDir('dreamos-e2e-keys-');

afterAll(() => {
  term.kill();
  tmp.cleanup();
  keysTmp.cleanup();
});

describe('the real binary in a real terminal', () => {
  test.skipIf(!hasTmux)(
    `start, see the agents and the board, add a task by keys, quit with q${hasTmux ? '' : ' (SKIPPED: tmux is not installed)'}`,
    async () => {
      expect(
        fs.existsSync(path.join(ROOT, 'dist', 'console.js')),
        'build first: node scripts/build.mjs --no-types',
      ).toBe(true);
      const init = dreamos('init');
      expect(init.status, init.stderr).toBe(0);
      const pid = term.open('main', tmp.dir, `exec ${process.execPath} ${bin} console`);
      expect(pid).toBeGreaterThan(0);

      await until('the eight agents and the board summary', () => {
        const s = screen();
        return ROLE_NAMES.every((n) => s.includes(n)) && s.includes('Board backlog 0 · ready 0');
      });
      tmux('send-keys', '-t', 'main', '2');
      await until('the board', () => screen().includes('BACKLOG (0)'));

      tmux('send-keys', '-t', 'main', 'a');
      await until('the form', () => screen().includes('Add a task'));
      for (const ch of 'Typed in tmux') tmux('send-keys', '-t', 'main', '-l', ch);
      await until('the title typed', () => screen().includes('Typed in tmux'));
      tmux('send-keys', '-t', 'main', 'Enter');
      await until('the task from outside', () => {
        const listed = dreamos('task', 'list', '--json');
        return (
          listed.status === 0 &&
          (JSON.parse(listed.stdout) as Task[]).some(
            (t) => t.title === 'Typed in tmux' && t.source === 'console',
          )
        );
      });
      await until(
        'the task on the board',
        () => screen().includes('Typed in tmux') && !screen().includes('Add a task'),
      );

      tmux('send-keys', '-t', 'main', 'q');
      await until('the console to exit', () => !alive(pid), 20_000);
      expect(() => tmux('has-session', '-t', 'main')).toThrow();
      expect(processesIn(tmp.dir)).toEqual([]);
    },
  );

  test.skipIf(!hasTmux)(
    `several keys in one send-keys: each is a key${hasTmux ? '' : ' (SKIPPED: tmux is not installed)'}`,
    async () => {
      expect(fs.existsSync(path.join(ROOT, 'dist', 'console.js')), 'build first').toBe(true);
      const init = dreamosIn(keysTmp.dir, 'init');
      expect(init.status, init.stderr).toBe(0);
      const ids: string[] = [];
      for (let i = 1; i <= 5; i++) {
        const added = dreamosIn(keysTmp.dir, 'task', 'add', `Held ${i}`, '--hold', '--json');
        expect(added.status, added.stderr).toBe(0);
        ids.push((JSON.parse(added.stdout) as Task).id);
      }
      const pid = term.open('keys', keysTmp.dir, `exec ${process.execPath} ${bin} console --attach`);
      const send = (keys: string) => tmux('send-keys', '-t', 'keys', '-l', keys);
      await until('the dashboard', () => screen('keys').includes('Board backlog 5'), 15_000, 'keys');
      // `2h`: the board, then its backlog column; `jjj`: three rows down, all in one write each.
      send('2h');
      await until(
        'the backlog column',
        () => screen('keys').includes(`backlog 1/5 ${ids[0]}`),
        15_000,
        'keys',
      );
      send('jjj');
      await until('three rows down', () => screen('keys').includes(`backlog 4/5 ${ids[3]}`), 15_000, 'keys');
      tmux('send-keys', '-t', 'keys', 'Tab', 'Tab');
      // Two Tabs in one write: the board → attention → journal.
      await until('two views on', () => screen('keys').includes('Journal: the last'), 15_000, 'keys');
      send('q');
      await until('the console to exit', () => !alive(pid), 20_000, 'keys');
    },
  );
});
