/**
 * Lock holders as real processes. A real, busy `dreamos run`: a workspace with many quick `true`
 * tasks and one orchestrator working through them, as a user leaves it running; `stopHoldingLock`
 * stops it (SIGSTOP) at a moment it holds the journal lock, by stopping it and looking until that
 * is the case. `holdLock`: a process that takes the journal lock and keeps it (fault-hold-lock.mjs).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { procStat } from '../../state/proc.js';
import { waitFor } from './agents.js';
import { BIN, cli, collectOutput, ROOT } from './workspace.js';

export interface BusyRun {
  child: ChildProcess;
  pid: number;
  output: () => { stdout: string; stderr: string };
  /** Resume it if stopped, stop it cleanly (SIGINT) and wait for it to exit. */
  stop(): Promise<void>;
}

/** Import `count` tasks that run `true`, then start `dreamos run` and wait until it has done some. */
export async function startBusyRun(dir: string, count = 3000): Promise<BusyRun> {
  const file = path.join(dir, 'busy-import.json');
  fs.writeFileSync(
    file,
    JSON.stringify(Array.from({ length: count }, (_, i) => ({ title: `busy ${i}`, run: 'true' }))),
  );
  const imported = cli(['task', 'import', file], { cwd: dir });
  if (imported.code !== 0) throw new Error(`import failed: ${imported.stderr}`);
  const child = spawn(process.execPath, [BIN, 'run', '--quiet'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { stdout, stderr } = collectOutput(child);
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const journal = path.join(dir, '.dreamos', 'journal', '000001.jsonl');
  const size = fs.statSync(journal).size;
  // Busy: it has claimed and finished tasks (each a few journal lines).
  await waitFor(() => fs.statSync(journal).size > size + 20_000, 60_000);
  return {
    child,
    pid: child.pid!,
    output: () => ({ stdout: stdout(), stderr: stderr() }),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGINT');
      }
      await closed;
    },
  };
}

/** SIGSTOP the run at a moment it holds the journal lock (stop, look, resume, and again). */
export async function stopHoldingLock(run: BusyRun, home: string): Promise<void> {
  const locks = path.join(home, 'locks');
  // Its own record (locks/owners/journal.by.<host>…<pid>) says H while it holds the lock directory.
  const holds = () => {
    if (!fs.existsSync(path.join(locks, 'journal.lock'))) return false;
    const mine = fs
      .readdirSync(path.join(locks, 'owners'))
      .find((name) => name.startsWith('journal.by.') && name.endsWith(`.${run.pid}`));
    return (
      mine !== undefined && /"state":"H"/.test(fs.readFileSync(path.join(locks, 'owners', mine), 'utf8'))
    );
  };
  for (let i = 0; i < 2000; i++) {
    run.child.kill('SIGSTOP');
    // The stop is delivered asynchronously: look once the process is stopped.
    await waitFor(() => procStat(run.pid)?.state === 'T', 5_000);
    if (holds()) return;
    run.child.kill('SIGCONT');
    await new Promise((resolve) => setTimeout(resolve, 1 + (i % 7)));
  }
  throw new Error('the run was never stopped holding the journal lock');
}

export interface LockHolderProcess {
  child: ChildProcess;
  pid: number;
  /** SIGKILL it (if still there) and wait until it is gone. */
  kill(): Promise<void>;
}

/** A process that takes the journal lock of `home` and keeps it, blocked inside a transaction. */
export async function holdLock(home: string, signalDir: string): Promise<LockHolderProcess> {
  const signal = path.join(signalDir, `holding-${Date.now()}`);
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'tests/helpers/fault-hold-lock.mjs'), home, signal],
    {
      stdio: 'ignore',
    },
  );
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  await waitFor(() => fs.existsSync(signal) && fs.readFileSync(signal, 'utf8') !== '', 30_000);
  return {
    child,
    pid: child.pid!,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await closed;
    },
  };
}
