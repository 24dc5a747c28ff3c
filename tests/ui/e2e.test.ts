/**
 * One end-to-end run of the real binary in a real terminal (tmux): start `dreamos console` in a
 * fresh workspace, see the eight agents and the board, add a task by keys, find it with
 * `dreamos task list --json` from outside, quit with q, and leave no process behind.
 * Needs a build (`node scripts/build.mjs --no-types`) and tmux; without tmux it is skipped, saying so.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import type { Task } from '../../state/schemas.js';
import { BIN, ROLE_NAMES, ROOT, tempDir } from '../helpers/workspace.js';
import { sleep } from './helpers.js';

const bin = process.env.DREAMOS_TEST_BIN ?? BIN;
const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const socket = `dreamos-e2e-${process.pid}`;
const tmp = tempDir('dreamos-e2e-');
const tmux = (...args: string[]) =>
  execFileSync('tmux', ['-L', socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
const screen = () => tmux('capture-pane', '-p', '-t', 'main');
const dreamos = (...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], { cwd: tmp.dir, encoding: 'utf8', timeout: 30_000 });

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; the screen:\n${hasTmux ? screen() : ''}`);
    await sleep(100);
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

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

afterAll(() => {
  if (hasTmux) spawnSync('tmux', ['-L', socket, 'kill-server']);
  tmp.cleanup();
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
      tmux(
        'new-session',
        '-d',
        '-s',
        'main',
        '-x',
        '160',
        '-y',
        '48',
        '-c',
        tmp.dir,
        `exec ${process.execPath} ${bin} console`,
      );
      const pid = Number(tmux('display', '-p', '-t', 'main', '#{pane_pid}').trim());
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
      expect(spawnSync('tmux', ['-L', socket, 'has-session', '-t', 'main']).status).not.toBe(0);
      expect(processesIn(tmp.dir)).toEqual([]);
    },
  );
});
