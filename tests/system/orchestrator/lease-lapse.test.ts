/**
 * An orchestrator that cannot reach its PostgreSQL server cannot renew its leases, and after a lease
 * has run out the task may be another agent's: the run is stopped once its lease has gone a whole
 * lease without renewal, by the host's own clock, instead of running on and doing the work twice.
 * The database is cut off by a TCP relay between `dreamos run` and the server that stops passing
 * bytes (a network cut: nothing is closed, every query hangs).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { cleanupsAfterEach } from '../../helpers/cleanups.js';
import { describePg, pgRelay, TEST_PG_URL, testSchema } from '../../helpers/pg.js';
import { BIN, cliAsync, collectOutput, tempDir, writePolicies } from '../../helpers/workspace.js';

describePg('an orchestrator cut off from PostgreSQL', () => {
  const cleanups = cleanupsAfterEach();

  it('stops a run whose lease it could not renew for a whole lease', async () => {
    const { schema } = await testSchema('dreamos_lapse');
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const link = await pgRelay(new URL(TEST_PG_URL));
    cleanups.push(() => link.close());
    const store = new URL(link.url);
    store.search = '';
    // The relay runs in this process: the CLI must not block it (spawnSync would).
    const init = await cliAsync(
      ['init', '--backend', 'postgres', '--store', store.toString(), '--schema', schema],
      {
        cwd: tmp.dir,
      },
    );
    expect(init.code, init.stderr).toBe(0);
    const home = path.join(tmp.dir, '.dreamos');
    writePolicies(home, { leaseSeconds: 2, heartbeatSeconds: 1, killGraceSeconds: 1 });
    const marks = path.join(tmp.dir, 'marks');
    // The program outlives its lease many times over: it must not reach its end once cut off.
    const add = await cliAsync(
      ['task', 'add', 'long', '--run', `echo start >> "${marks}"; sleep 12; echo end >> "${marks}"`],
      { cwd: tmp.dir },
    );
    expect(add.code, add.stderr).toBe(0);

    const child = spawn(process.execPath, [BIN, 'run', '--json', '--agents', 'agent-1'], {
      cwd: tmp.dir,
      env: process.env,
      detached: true,
    });
    const output = collectOutput(child);
    const exited = new Promise((resolve) => child.on('exit', resolve));
    cleanups.push(async () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
      await exited;
    });
    const started = () => fs.existsSync(marks) && fs.readFileSync(marks, 'utf8').includes('start');
    const stopped = () => output.stdout().includes('was not renewed');
    for (let i = 0; i < 200 && !started(); i++) await new Promise((r) => setTimeout(r, 100));
    expect(started(), output.stderr()).toBe(true);
    link.freeze();

    // The program's own end, had it been let run: it would have written `end` by then.
    for (let i = 0; i < 150 && !stopped(); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 13_000));
    expect(fs.readFileSync(marks, 'utf8').trim().split('\n')).toEqual(['start']);
    const finished = output
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l))
      .find((e) => e.type === 'finished');
    expect(finished?.stopped?.why).toContain('was not renewed for 2 s');
  }, 60_000);
});
