/**
 * A writer whose journal lock was taken over never writes over a newer entry (issue 20, M2).
 * Every append is fenced: the journal must end where the writer read it to. And a holder in another
 * PID namespace (same hostname, other pids: containers of one pod) is not taken for dead: it is
 * waited for until its lock goes stale, and its late write is then refused.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DreamError } from '../../../src/errors.js';
import { Journal } from '../../../state/journal.js';
import { workspacePaths } from '../../../state/paths.js';
import { waitFor } from '../../helpers/agents.js';
import { BIN, cli, collectOutput, ROOT, tempDir } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
let home: string;

beforeEach(() => {
  tmp = tempDir('dreamos-fence-');
  expect(cli(['init'], { cwd: tmp.dir }).code).toBe(0);
  home = path.join(tmp.dir, '.dreamos');
});
afterEach(() => tmp.cleanup());

const segment = () => path.join(home, 'journal', '000001.jsonl');
const draft = (op: string) => ({ at: new Date().toISOString(), by: 'operator', op, counters: {} }) as never;

describe('a fenced journal append', () => {
  it('is refused, writing nothing, when the journal grew since the writer read it', () => {
    const paths = workspacePaths(home);
    const stale = new Journal(paths);
    stale.readNew(
      () => undefined,
      () => undefined,
    );
    const other = new Journal(paths);
    other.readNew(
      () => undefined,
      () => undefined,
    );
    other.append(draft('newer'));
    const before = fs.readFileSync(segment(), 'utf8');

    let error: unknown = null;
    try {
      stale.append(draft('stale'));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DreamError);
    expect((error as DreamError).code).toBe('E_LOCK_COMPROMISED');
    expect((error as DreamError).message).toMatch(/does not end where this process read it.*not made/);
    expect(fs.readFileSync(segment(), 'utf8')).toBe(before);
    stale.close();
    other.close();
  });
});

const canUnshare =
  process.getuid?.() === 0 &&
  spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { stdio: 'ignore' }).status === 0;

describe.skipIf(!canUnshare)('a lock holder in another PID namespace', () => {
  it('is waited for, and its write after the take-over is refused: the acknowledged change stays', async () => {
    // A writer frozen inside its transaction, holding the lock, in this namespace.
    const signal = path.join(tmp.dir, 'holding');
    const go = path.join(tmp.dir, 'go');
    const frozen = spawn(
      process.execPath,
      [path.join(ROOT, 'tests/helpers/fault-hold-lock.mjs'), home, signal, go],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const output = collectOutput(frozen);
    const closed = new Promise<number | null>((resolve) => frozen.on('close', resolve));
    await waitFor(() => fs.existsSync(signal) && fs.readFileSync(signal, 'utf8') !== '', 30_000);

    // Another process, same hostname, own PID namespace: the holder's pid means nothing there, so
    // the holder cannot be verified (not "gone") and only the stale period frees its lock.
    const status = spawnSync(
      'unshare',
      ['--pid', '--fork', '--mount-proc', process.execPath, BIN, 'status', '--json'],
      { cwd: tmp.dir, encoding: 'utf8', timeout: 60_000 },
    );
    expect(status.status, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).journalLock).toMatchObject({ pid: frozen.pid, state: 'unknown' });
    const added = spawnSync(
      'unshare',
      ['--pid', '--fork', '--mount-proc', process.execPath, BIN, 'task', 'add', 'B-task', '--json'],
      { cwd: tmp.dir, encoding: 'utf8', timeout: 60_000 },
    );
    expect(added.status, added.stderr).toBe(0);

    // The frozen writer wakes up and records its change at the position it read before.
    fs.writeFileSync(go, '');
    await closed;
    const outcome = JSON.parse(output.stdout()) as {
      ok?: boolean;
      error?: { code: string; message: string };
    };
    expect(outcome.error?.code, output.stdout() + output.stderr()).toBe('E_LOCK_COMPROMISED');

    const journal = fs.readFileSync(segment(), 'utf8');
    expect(journal).toContain('B-task');
    expect(journal).not.toContain('frozen-writer');
    const titles = cli(['task', 'list', '--json'], { cwd: tmp.dir })
      .json<Array<{ title: string }>>()
      .map((t) => t.title);
    expect(titles).toEqual(['B-task']);
    const doctor = cli(['doctor', '--json'], { cwd: tmp.dir });
    expect(doctor.code, doctor.stdout).toBe(0);
  }, 120_000);
});
