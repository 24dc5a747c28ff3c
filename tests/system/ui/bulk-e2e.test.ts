/**
 * A bulk retry with the real binary in a real terminal (tmux): three failed tasks, `:retry failed`
 * typed into the palette, the confirmation naming the count, `y`, and the three tasks retried in
 * one journal entry, seen from outside with the CLI. Needs a build and tmux (skipped without it).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { openWorkspace } from '../../../src/workspace.js';
import type { Task } from '../../../state/schemas.js';
import { alive, hasTmux, tmuxServer } from '../../helpers/terminal.js';
import { sleep } from '../../helpers/ui.js';
import { BIN, ROOT, tempDir } from '../../helpers/workspace.js';

const bin = process.env.DREAMOS_TEST_BIN ?? BIN;
const tmp = tempDir('dreamos-e2e-bulk-');
const term = tmuxServer('dreamos-e2e-bulk');
const dreamos = (...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], { cwd: tmp.dir, encoding: 'utf8', timeout: 30_000 });

afterAll(() => {
  term.kill();
  tmp.cleanup();
});

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; the screen:\n${term.screen()}`);
    await sleep(100);
  }
}

test.skipIf(!hasTmux)(
  `retry every failed task with :retry failed, in one step${hasTmux ? '' : ' (SKIPPED: tmux is not installed)'}`,
  async () => {
    expect(fs.existsSync(path.join(ROOT, 'dist', 'console.js')), 'build first').toBe(true);
    expect(dreamos('init').status).toBe(0);
    const ws = await openWorkspace({ cwd: tmp.dir, share: false });
    const failed: string[] = [];
    for (const title of ['one', 'two', 'three']) {
      const t = await ws.addTask({ title: `Broken ${title}`, run: 'false', maxAttempts: 1 });
      await ws.claim('agent-2', { taskId: t.id });
      failed.push((await ws.fail(t.id, { agent: 'agent-2', reason: 'exit 1', final: true })).id);
    }
    const kept = await ws.addTask({ title: 'Fine', hold: true });
    const before = ws.view.seq;
    await ws.close();

    const pid = term.open('main', tmp.dir, `exec ${process.execPath} ${bin} console --attach`);
    await until('the dashboard', () => term.screen().includes('failed 3'));
    term.tmux('send-keys', '-t', 'main', ':');
    await until('the palette', () => term.screen().includes('Commands'));
    for (const ch of 'retry failed') term.tmux('send-keys', '-t', 'main', '-l', ch);
    // Enter only once the whole command is on the screen: keys that reach the console in one write
    // are a paste there, and a paste's line break is a space, not enter.
    await until('the typed command', () => {
      const s = term.screen();
      return s.includes(': retry failed') && s.includes(':retry [QUERY]') && !s.includes('tab completes');
    });
    term.tmux('send-keys', '-t', 'main', 'Enter');
    await until('the confirmation', () => term.screen().includes('Retry: 3 tasks?'));
    term.tmux('send-keys', '-t', 'main', '-l', 'y');
    await until('the outcome', () => term.screen().includes('retry: 3 tasks changed in one step'));

    const listed = dreamos('task', 'list', '--json');
    expect(listed.status, listed.stderr).toBe(0);
    const tasks = JSON.parse(listed.stdout) as Task[];
    const status = (id: string) => tasks.find((t) => t.id === id)?.status;
    expect(failed.map(status)).toEqual(['ready', 'ready', 'ready']);
    expect(status(kept.id)).toBe('backlog');
    const log = dreamos('log', '--json');
    expect(log.status, log.stderr).toBe(0);
    const entries = (
      JSON.parse(log.stdout) as Array<{ seq: number; op: string; tasks?: Array<{ task: Task }> }>
    ).filter((e) => e.seq > before);
    expect(entries.map((e) => e.op)).toEqual(['retry']);
    expect(entries[0]!.tasks?.map((p) => p.task.id).sort()).toEqual([...failed].sort());

    term.tmux('send-keys', '-t', 'main', 'q');
    await until('the console to exit', () => !alive(pid), 20_000);
  },
);
