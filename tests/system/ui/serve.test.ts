/**
 * `dreamos console --serve` in a real terminal (tmux): the console runs the agents and serves the
 * API from one process, its header says where and to how many clients, a request with a token is
 * answered, and quitting closes the server with the console.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/agents.js';
import { alive, hasTmux, tmuxServer } from '../../helpers/terminal.js';
import { BIN, cli, tempDir } from '../../helpers/workspace.js';

const tmp = tempDir('dreamos-console-serve-');
const term = tmuxServer('dreamos-console-serve');
// A tmux server of its own: the first one exits with its last session, when the console quits.
const term2 = tmuxServer('dreamos-console-serve-ro');
const consoles: number[] = [];

afterAll(async () => {
  term.kill();
  term2.kill();
  await waitFor(() => consoles.every((pid) => !alive(pid)), 30_000).catch(() => undefined);
  tmp.cleanup();
});

async function until(what: string, check: () => boolean): Promise<void> {
  await waitFor(check, 60_000).catch(() => {
    throw new Error(`timed out waiting for ${what}; the screen:\n${term.screen()}`);
  });
}

describe('dreamos console --serve', () => {
  it.skipIf(!hasTmux)(
    `serves the API while the console runs, and stops serving when it quits${hasTmux ? '' : ' (SKIPPED: tmux is not installed)'}`,
    async () => {
      expect(cli(['init'], { cwd: tmp.dir }).code).toBe(0);
      const secret = cli(['token', 'create', '--scope', 'read', '--json'], { cwd: tmp.dir }).json<{
        token: string;
      }>().token;
      consoles.push(
        term.open('main', tmp.dir, `exec ${process.execPath} ${BIN} console --serve 127.0.0.1:0`),
      );
      const address = /serving (127\.0\.0\.1:\d+), (\d+) clients?/;
      await until('the header to say where it serves', () => address.test(term.screen()));
      const origin = `http://${address.exec(term.screen())![1]}`;

      const res = await fetch(`${origin}/api/v1/status`, { headers: { Authorization: `Bearer ${secret}` } });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ agents: 8 });
      expect((await fetch(`${origin}/api/v1/status`)).status).toBe(401);

      term.tmux('send-keys', '-t', 'main', 'q');
      await waitFor(() => consoles.every((pid) => !alive(pid)), 30_000);
      await expect(fetch(`${origin}/api/v1/status`)).rejects.toThrow();
    },
    120_000,
  );

  it.skipIf(!hasTmux)('refuses --serve with --read-only, which changes nothing (exit 2)', async () => {
    // The shell stays after the console exits, so that the screen keeps what it printed.
    term2.open(
      'ro',
      tmp.dir,
      `sh -c '${process.execPath} ${BIN} console --read-only --serve; echo "exit=$?"; sleep 60'`,
    );
    await waitFor(() => term2.screen('ro').includes('exit='), 30_000);
    const screen = term2.screen('ro');
    expect(screen).toContain(
      'dreamos: --serve makes the changes its clients ask for and --read-only makes none',
    );
    expect(screen).toContain('exit=2');
  });
});
