/**
 * After a network cut the server may have forgotten a connection whose client still waits for its
 * reply: nothing arrives, and nothing tells the client so. The fleet test found a host whose state
 * connection stayed like that after the network came back, so it never wrote again. Here a TCP relay
 * between `dreamos run` and the server swallows everything on the connections open during the cut,
 * for good, and passes new ones: the orchestrator must give the dead connections up and go on.
 */
import { spawn } from 'node:child_process';
import { expect, it } from 'vitest';
import { cleanupsAfterEach } from '../../helpers/cleanups.js';
import { describePg, pgRelay, TEST_PG_URL, testSchema } from '../../helpers/pg.js';
import { BIN, cliAsync, collectOutput, tempDir, writePolicies } from '../../helpers/workspace.js';

describePg('an orchestrator whose connections died silently', () => {
  const cleanups = cleanupsAfterEach();

  it('makes new ones and goes on with the board', async () => {
    const { schema } = await testSchema('dreamos_deadconn');
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const link = await pgRelay(new URL(TEST_PG_URL));
    cleanups.push(() => link.close());
    // The relay runs in this process: the CLI must not block it (spawnSync would).
    const init = await cliAsync(['init', '--backend', 'postgres', '--store', link.url, '--schema', schema], {
      cwd: tmp.dir,
    });
    expect(init.code, init.stderr).toBe(0);
    writePolicies(`${tmp.dir}/.dreamos`, { heartbeatSeconds: 1 });
    const add = (title: string) =>
      cliAsync(['task', 'add', title, '--run', 'true', '--json'], { cwd: tmp.dir });
    const first = await add('before the cut');
    expect(first.code, first.stderr).toBe(0);

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
    const finished = (id: string) =>
      output
        .stdout()
        .split('\n')
        .some((l) => l.startsWith('{') && l.includes('"finished"') && l.includes(`"task":"${id}"`));
    const waitFinished = async (id: string, seconds: number) => {
      for (let i = 0; i < seconds * 10 && !finished(id); i++) await new Promise((r) => setTimeout(r, 100));
      return finished(id);
    };
    expect(await waitFinished(first.json<{ id: string }>().id, 30), output.stderr()).toBe(true);

    // A heartbeat a second: the connections are busy when they die.
    link.cut();
    // The write lock may be held by a transaction on a dead connection until the server ends it
    // (idle in transaction): the add is tried again, as a user would after E_LOCK_TIMEOUT.
    let second = await add('after the cut');
    for (let i = 0; i < 5 && second.code !== 0; i++) second = await add('after the cut');
    expect(second.code, second.stderr).toBe(0);
    expect(await waitFinished(second.json<{ id: string }>().id, 90), output.stdout().slice(-2000)).toBe(true);
  }, 150_000);
});
