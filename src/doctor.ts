/**
 * `dreamos doctor [--repair]`: check every store against its schema and against the journal, look
 * for duplicates, tasks in two stores, stale locks and expired leases; with repair, fix what can be
 * fixed and say what was done. Nothing is ever deleted: broken files go to quarantine/.
 */
import fs from 'node:fs';
import { digestOf, JournalDb } from '../state/db.js';
import { acquireLock, breakStaleLock, inspectLock } from '../state/lock/index.js';
import { STORES, type WorkspacePaths, workspacePaths } from '../state/paths.js';
import { BoardFile, storeOf } from '../state/schemas.js';
import { strayFiles } from '../state/snapshots.js';
import { CorruptFileError, quarantineFile, ValidatedJsonFile } from '../state/store.js';
import { Config } from './config.js';
import { checkDrivers, type DriverCheck } from './driver-setup.js';
import { expireLeases, withFollowUps } from './lifecycle.js';
import { oneLine } from './sanitize.js';
import { findWorkspace, type OpenOptions, openWorkspace } from './workspace.js';

export interface DoctorProblem {
  code:
    | 'corrupt-file'
    | 'config'
    | 'duplicate'
    | 'two-stores'
    | 'journal-mismatch'
    | 'journal-damage'
    | 'stale-lock'
    | 'expired-lease'
    | 'stray-file'
    | 'recovered';
  message: string;
  path?: string;
  task?: string;
  repaired?: boolean;
}

export interface DoctorReport {
  ok: boolean;
  home: string;
  seq: number;
  tasks: number;
  problems: DoctorProblem[];
  repaired: string[];
  /** Can each enabled agent's driver work here? Informational: it does not make the workspace unwell. */
  drivers: DriverCheck[];
}

function checkConfig(
  paths: WorkspacePaths,
  problems: DoctorProblem[],
  repaired: string[],
  repair: boolean,
  lastGood: unknown,
): void {
  try {
    new ValidatedJsonFile(paths.config, Config).readSync();
  } catch (error) {
    if (!(error instanceof CorruptFileError)) throw error;
    const problem: DoctorProblem = { code: 'config', message: error.message, path: paths.config };
    problems.push(problem);
    const restored = Config.safeParse(lastGood);
    if (repair && restored.success) {
      const moved = quarantineFile(paths.config, paths);
      new ValidatedJsonFile(paths.config, Config).writeSync(restored.data);
      problem.repaired = true;
      repaired.push(`config.json restored from the journal; the broken file is ${moved}`);
    }
  }
}

const samePosition = (a: JournalDb, b: JournalDb) =>
  a.position.segment === b.position.segment && a.position.offset === b.position.offset;

/**
 * Read both states to the journal's end until they stop at the same position. Lock-free first (a
 * writer between two reads rarely appends twice in a row); under the journal lock, where nothing
 * is appended, if it keeps moving.
 */
async function catchUpTogether(paths: WorkspacePaths, a: JournalDb, b: JournalDb): Promise<void> {
  for (let i = 0; i < 20; i++) {
    a.refresh();
    b.refresh();
    if (samePosition(a, b)) return;
  }
  const lock = await acquireLock(paths.journalLock, { timeoutMs: a.lockTimeoutMs });
  try {
    a.refresh();
    b.refresh();
  } finally {
    await lock.release();
  }
}

export async function doctor(options: OpenOptions & { repair?: boolean } = {}): Promise<DoctorReport> {
  const repair = options.repair ?? false;
  const home = findWorkspace(options);
  const paths = workspacePaths(home);
  const problems: DoctorProblem[] = [];
  const repaired: string[] = [];

  for (const target of [paths.journalLock, paths.snapshotLock]) {
    const lock = inspectLock(target);
    if (lock.held && (lock.ownerAlive === false || (lock.ageMs ?? 0) > 10_000)) {
      const problem: DoctorProblem = {
        code: 'stale-lock',
        message: `${target}.lock is held by ${lock.owner ? `pid ${lock.owner.pid} (${lock.ownerAlive ? 'alive' : 'dead'})` : 'an unknown process'} for ${Math.round((lock.ageMs ?? 0) / 1000)} s`,
        path: `${target}.lock`,
      };
      problems.push(problem);
      if (repair && breakStaleLock(target)) {
        problem.repaired = true;
        repaired.push(`removed the stale lock ${target}.lock`);
      }
    }
  }

  // The journal alone, replayed from its first line: the reference the stores are checked against.
  const reference = await JournalDb.open(paths, { fromJournalOnly: true, readOnly: true });
  checkConfig(paths, problems, repaired, repair, reference.view.config);

  const ws = await openWorkspace({ ...options, home });
  try {
    for (const notice of ws.notices) {
      problems.push({ code: 'recovered', message: notice.message, path: notice.path, repaired: true });
    }
    for (const damage of ws.db.journalDamage) {
      // The journal is never rewritten: a damaged line stays, skipped. Once it is copied to quarantine/
      // and alerted (opening the workspace does that), it is handled; the alert stays for the operator.
      const alert = [...ws.view.alerts()].find(
        (a) => a.key === `journal-damage:${damage.segment}:${damage.offset}`,
      );
      problems.push({
        ...(alert ? { code: 'recovered' as const, repaired: true } : { code: 'journal-damage' as const }),
        message: `journal segment ${damage.segment} offset ${damage.offset}: ${damage.reason} (skipped, copy in quarantine/${alert ? `, alert ${alert.id}` : ''})`,
      });
    }
    await ws.db.flush();

    // Files no command reads (their name is no agent id): set aside with --repair, never deleted.
    for (const { path, why } of strayFiles(paths)) {
      const problem: DoctorProblem = {
        code: 'stray-file',
        message: `${oneLine(path, 300)} ${why}; no command reads it`,
        path,
      };
      problems.push(problem);
      if (repair) {
        const moved = quarantineFile(path, paths);
        problem.repaired = true;
        repaired.push(`moved ${path} to ${moved}`);
      }
    }

    // Every board file: valid, each task in the right store, no task twice. Read under the snapshot
    // lock: a snapshot writer replaces the boards one after the other, and a look between two of its
    // renames would find a task that moved in both.
    const seen = new Map<string, string>();
    const snapshots = await acquireLock(paths.snapshotLock, { timeoutMs: ws.db.lockTimeoutMs });
    try {
      for (const store of STORES) {
        const path = paths.board(store);
        let board: BoardFile | null = null;
        try {
          board = new ValidatedJsonFile(path, BoardFile).readSync();
        } catch (error) {
          problems.push({ code: 'corrupt-file', message: (error as Error).message, path });
          continue;
        }
        if (!board) continue;
        if (digestOf(board.tasks) !== board.digest)
          problems.push({ code: 'corrupt-file', message: `${path} was changed outside Dream.OS`, path });
        for (const task of board.tasks) {
          if (storeOf(task.status) !== store) {
            problems.push({
              code: 'two-stores',
              message: `${task.id} (${task.status}) is in ${store}`,
              task: task.id,
              path,
            });
          }
          const other = seen.get(task.id);
          if (other) {
            problems.push({
              code: other === store ? 'duplicate' : 'two-stores',
              message:
                other === store
                  ? `${task.id} appears twice in ${store}`
                  : `${task.id} is in both ${other} and ${store}`,
              task: task.id,
            });
          }
          seen.set(task.id, store);
        }
      }
    } finally {
      await snapshots.release();
    }

    // The stores against the journal, both read up to the same journal position: a busy run appends
    // between the two reads, and a task it changed meanwhile is no mismatch.
    await reference.close();
    const replayed = await JournalDb.open(paths, { fromJournalOnly: true, readOnly: true });
    await catchUpTogether(paths, ws.db, replayed);
    const mismatched: string[] = [];
    const current = new Map([...ws.view.tasks()].map((t) => [t.id, t]));
    for (const task of replayed.view.tasks()) {
      const mine = current.get(task.id);
      if (!mine || JSON.stringify(mine) !== JSON.stringify(task)) mismatched.push(task.id);
      current.delete(task.id);
    }
    mismatched.push(...current.keys());
    await replayed.close();
    if (mismatched.length > 0) {
      const problem: DoctorProblem = {
        code: 'journal-mismatch',
        message: `${mismatched.length} task(s) differ between the boards and the journal: ${mismatched.slice(0, 5).join(', ')}`,
      };
      problems.push(problem);
      if (repair) {
        for (const store of STORES) {
          if (fs.existsSync(paths.board(store))) quarantineFile(paths.board(store), paths);
        }
        problem.repaired = true;
        repaired.push('moved every board file to quarantine/ and rebuilt the boards from the journal');
      }
    }

    const now = new Date();
    const expired = [...ws.view.inStore('working')].filter(
      (t) => t.lease && Date.parse(t.lease.expiresAt) <= now.getTime(),
    );
    for (const task of expired) {
      const problem: DoctorProblem = {
        code: 'expired-lease',
        message: `${task.id} is working but the lease of ${task.lease?.owner} expired at ${task.lease?.expiresAt}`,
        task: task.id,
      };
      problems.push(problem);
      if (repair) problem.repaired = true;
    }
    if (repair && expired.length > 0) {
      const changed = await ws.record((ctx) => {
        const tasks = expireLeases(ctx);
        return { change: tasks.length ? withFollowUps(ctx, 'expire', tasks) : null, result: tasks };
      });
      repaired.push(`returned ${changed.length} task(s) with expired leases to ready`);
    }
    const drivers = await checkDrivers(ws.config.agents);
    const report: DoctorReport = {
      // Problems that recovery already handled on open are reported but do not make the workspace unwell.
      ok: problems.every((p) => p.code === 'recovered' || (repair && p.repaired === true)),
      home,
      seq: ws.view.seq,
      tasks: [...ws.view.tasks()].length,
      problems,
      repaired,
      drivers,
    };
    return report;
  } finally {
    await ws.close();
    if (repair && repaired.some((r) => r.includes('rebuilt the boards'))) {
      const rebuilt = await openWorkspace({ ...options, home });
      await rebuilt.close();
    }
  }
}
