/**
 * A lock left by killed processes is taken over by the next writer that wants it, even when one of
 * them was killed between creating its owner record and writing it (an empty record, which could be
 * anyone's while it is being written): after the crash and one command, doctor finds nothing. A live
 * holder's lock is never taken. Real processes hold the lock (the lock module bundled for a child
 * process with esbuild).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { buildSync } from 'esbuild';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/agents.js';
import { cli, ROOT, tempDir } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
let holder: ChildProcess | null = null;
let script: string;
const scripts = tempDir('dreamos-dead-owner-bin-');

beforeAll(() => {
  script = path.join(scripts.dir, 'hold-lock.mjs');
  buildSync({
    stdin: {
      contents: [
        `import fs from 'node:fs';`,
        `import { acquireLock } from ${JSON.stringify(path.join(ROOT, 'state/lock/index.ts'))};`,
        `const [target, signal] = process.argv.slice(2);`,
        `await acquireLock(target, { timeoutMs: 10_000 });`,
        `fs.writeFileSync(signal, String(process.pid));`,
        `setInterval(() => undefined, 60_000);`,
      ].join('\n'),
      resolveDir: ROOT,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: script,
    external: ['proper-lockfile'],
    // The bundle lives outside the project: its bare imports resolve from here.
    nodePaths: [path.join(ROOT, 'node_modules')],
    logLevel: 'silent',
  });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(scripts.dir, 'node_modules'));
  return () => scripts.cleanup();
});

beforeEach(() => {
  tmp = tempDir('dreamos-dead-owner-');
  expect(cli(['init'], { cwd: tmp.dir }).code).toBe(0);
});
afterEach(() => {
  holder?.kill('SIGKILL');
  holder = null;
  tmp.cleanup();
});

/** A process that takes `locks/<name>` of the workspace and keeps it until killed. */
async function hold(name: 'snapshot' | 'journal'): Promise<ChildProcess> {
  const signal = path.join(tmp.dir, `holding-${name}`);
  const target = path.join(tmp.dir, '.dreamos', 'locks', name);
  const child = spawn(process.execPath, [script, target, signal], { stdio: 'ignore' });
  holder = child;
  await waitFor(() => fs.existsSync(signal) && fs.readFileSync(signal, 'utf8') !== '', 30_000);
  return child;
}

async function killed(child: ChildProcess): Promise<void> {
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  child.kill('SIGKILL');
  await closed;
}

type Doctor = { ok: boolean; problems: Array<{ code: string; message: string }> };
const doctor = () => cli(['doctor', '--json'], { cwd: tmp.dir }).json<Doctor>();
const lockDir = (name: string) => path.join(tmp.dir, '.dreamos', 'locks', `${name}.lock`);

describe('a lock whose owner was killed', () => {
  it('is taken over by the next writer, whatever records the killed processes left', async () => {
    const child = await hold('snapshot');
    await killed(child);
    // Another process of this machine, killed right after creating its (empty) owner record.
    const owners = path.join(tmp.dir, '.dreamos', 'locks', 'owners');
    const mine = fs
      .readdirSync(owners)
      .find((n) => n.startsWith('snapshot.by.') && n.endsWith(`.${child.pid}`));
    expect(mine, 'the holder wrote an owner record').toBeDefined();
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    fs.writeFileSync(path.join(owners, mine!.replace(/\.\d+$/, `.${gone}`)), '');
    // One ordinary command later (it writes the snapshot of what it changed), the leftover is gone.
    const add = cli(['task', 'add', 'after the crash', '--json'], { cwd: tmp.dir });
    expect(add.code, add.stderr).toBe(0);
    expect(fs.existsSync(lockDir('snapshot'))).toBe(false);
    const after = doctor();
    expect(after.problems).toEqual([]);
    expect(after.ok).toBe(true);
  });

  it('is left alone while its holder lives', async () => {
    const child = await hold('snapshot');
    const add = cli(['task', 'add', 'while it is held', '--json'], { cwd: tmp.dir });
    expect(add.code, add.stderr).toBe(0);
    expect(fs.existsSync(lockDir('snapshot'))).toBe(true);
    await killed(child);
    holder = null;
  });
});
