/**
 * Concurrent writers: eight OS processes race on one workspace through
 * the built library, every one of them adding, claiming, completing, failing, renewing, cancelling,
 * retrying, promoting, moving and editing tasks, flushing snapshots and reopening the workspace as
 * they go. Afterwards the files on disk must hold every acknowledged transition exactly once.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workspacePaths } from '../../../state/paths.js';
import { checkState, longLeases, readWorkerLogs, startWorker } from '../../helpers/fault-state.js';
import { cli, cliAsync, tempDir } from '../../helpers/workspace.js';

const WORKERS = 8;
const PER_WORKER = 260; // 8 × 260 = 2,080 acknowledged transitions

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('dreamos-concurrency-');
});
afterAll(() => tmp.cleanup());

describe('eight writer processes on one workspace', () => {
  it('keeps every acknowledged transition exactly once, in exactly one store', async () => {
    const dir = path.join(tmp.dir, 'mixed');
    fs.mkdirSync(dir);
    expect(cli(['init'], { cwd: dir }).code).toBe(0);
    const home = path.join(dir, '.dreamos');
    longLeases(home);
    const ackFiles = Array.from({ length: WORKERS }, (_, i) => path.join(dir, `acks-${i + 1}.jsonl`));

    const runs = ackFiles.map((acks, i) =>
      startWorker({ home, agent: `agent-${i + 1}`, acks, seed: 1000 + i, target: PER_WORKER }),
    );
    const exits = await Promise.all(runs.map((r) => r.done));
    const logs = readWorkerLogs(ackFiles);
    expect(logs.unexpected).toEqual([]);
    expect(exits.map((e) => [e.code, e.stderr])).toEqual(exits.map(() => [0, '']));
    expect(logs.done).toHaveLength(WORKERS);
    expect(logs.acks.length).toBeGreaterThanOrEqual(2000);
    // Both ways of writing were exercised: changes made by the shared writer for other processes
    // (state/writer/), and transactions of each process's own.
    const served = logs.done.reduce((n, d) => n + d.shared.served, 0);
    expect(served).toBeGreaterThan(100);
    // A real mix: every kind of transition happened, many times over.
    const ops = new Map<string, number>();
    for (const a of logs.acks) ops.set(a.op, (ops.get(a.op) ?? 0) + 1);
    for (const op of [
      'add',
      'import',
      'claim',
      'complete',
      'fail',
      'renew',
      'cancel',
      'retry',
      'promote',
      'move',
    ])
      expect(ops.get(op) ?? 0, `acknowledged ${op}s`).toBeGreaterThan(10);

    // A last process opens and closes the workspace, as the next command of a user would.
    const status = cli(['status', '--json'], { cwd: dir });
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);

    const check = checkState(home, logs.acks);
    expect(check.problems).toEqual([]);
    // Nothing happened that no worker acknowledged: no phantom or doubled transition.
    expect(check.unacked.map((e) => `${e.seq} ${e.op} by ${e.by}`)).toEqual([]);
    // Every task id ever handed out is on the board once.
    const counter = check.entries[check.entries.length - 1]!.counters.task;
    expect(check.tasks.size).toBe(counter);
    expect(status.json<{ seq: number }>().seq).toBe(check.entries.length);

    // Replaying the journal in a fresh process (doctor rebuilds from the journal alone) agrees.
    const doctor = cli(['doctor', '--json'], { cwd: dir });
    expect(doctor.json()).toMatchObject({ ok: true, problems: [] });
    expect(doctor.code).toBe(0);
    // And nothing was quarantined along the way: no writer ever saw a half-written file.
    expect(fs.readdirSync(workspacePaths(home).quarantineDir)).toEqual([]);
    console.info(
      `concurrency suite: ${WORKERS} processes, ${logs.acks.length} acknowledged transitions ` +
        `(${[...ops].map(([op, n]) => `${op} ${n}`).join(', ')}), ${check.entries.length} journal entries, ` +
        `${logs.done.reduce((n, d) => n + d.refused, 0)} refused as raced, ${served} made by a shared writer`,
    );
  });

  it('lets exactly one of eight racing claims of the same task win', async () => {
    const dir = path.join(tmp.dir, 'race');
    fs.mkdirSync(dir);
    expect(cli(['init'], { cwd: dir }).code).toBe(0);
    const task = cli(['task', 'add', 'contested', '--run', 'true', '--json'], { cwd: dir }).json<{
      id: string;
    }>();

    const claims = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        cliAsync(['task', 'claim', '--agent', `agent-${i + 1}`, '--task', task.id, '--json'], { cwd: dir }),
      ),
    );
    const winners = claims.filter((c) => c.code === 0);
    expect(winners).toHaveLength(1);
    expect(claims.filter((c) => c.code === 4)).toHaveLength(7); // invalid transition: already working
    const shown = cli(['task', 'show', task.id, '--json'], { cwd: dir }).json<{
      agent: string;
      attempts: number;
      history: Array<{ to: string }>;
    }>();
    expect(shown.agent).toBe(winners[0]!.json<{ agent: string }>().agent);
    expect(shown.attempts).toBe(1);
    expect(shown.history.filter((h) => h.to === 'working')).toHaveLength(1);
  });
});
