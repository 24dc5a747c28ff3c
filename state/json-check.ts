/**
 * doctor's checks of the JSON store's files: stale locks, journal damage, stray files, every board
 * against its schema and the others (no task twice, each in the right store), and the boards against
 * the journal replayed from its first line. Nothing is ever deleted: broken files go to quarantine/.
 */
import fs from 'node:fs';
import type { HealthProblem, HealthReport } from './backend.js';
import { digestOf, JournalDb } from './db.js';
import { acquireLock, breakStaleLock, inspectLock } from './lock/index.js';
import { STORES, type WorkspacePaths } from './paths.js';
import { BoardFile, storeOf } from './schemas.js';
import { strayFiles } from './snapshots.js';
import { quarantineFile, ValidatedJsonFile } from './store.js';
import { oneLine } from './text.js';

/** Before the workspace is opened: stale locks, and the configuration the journal last recorded. */
export async function inspectFiles(
  paths: WorkspacePaths,
  { repair }: { repair: boolean },
): Promise<HealthReport & { config: unknown }> {
  const problems: HealthProblem[] = [];
  const repaired: string[] = [];
  for (const target of [paths.journalLock, paths.snapshotLock]) {
    const lock = inspectLock(target);
    if (lock.held && (lock.ownerAlive === false || (lock.ageMs ?? 0) > 10_000)) {
      const problem: HealthProblem = {
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
  // The journal alone, replayed from its first line.
  const reference = await JournalDb.open(paths, { fromJournalOnly: true, readOnly: true });
  const config = reference.view.config;
  await reference.close();
  return { problems, repaired, reopen: false, config };
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

/** With the workspace open (recovery has run): what it found, and the files against each other and the journal. */
export async function checkFiles(db: JournalDb, { repair }: { repair: boolean }): Promise<HealthReport> {
  const { paths } = db;
  const problems: HealthProblem[] = [];
  const repaired: string[] = [];
  for (const notice of db.notices) {
    problems.push({ code: 'recovered', message: notice.message, path: notice.path, repaired: true });
  }
  for (const damage of db.journalDamage) {
    // The journal is never rewritten: a damaged line stays, skipped. Once it is copied to quarantine/
    // and alerted (opening the workspace does that), it is handled; the alert stays for the operator.
    const alert = [...db.view.alerts()].find(
      (a) => a.key === `journal-damage:${damage.segment}:${damage.offset}`,
    );
    problems.push({
      ...(alert ? { code: 'recovered' as const, repaired: true } : { code: 'journal-damage' as const }),
      message: `journal segment ${damage.segment} offset ${damage.offset}: ${damage.reason} (skipped, copy in quarantine/${alert ? `, alert ${alert.id}` : ''})`,
    });
  }
  await db.flush();

  // Files no command reads (their name is no agent id): set aside with --repair, never deleted.
  for (const { path, why } of strayFiles(paths)) {
    const problem: HealthProblem = {
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

  await checkBoards(db, problems);

  // The stores against the journal, both read up to the same journal position: a busy run appends
  // between the two reads, and a task it changed meanwhile is no mismatch.
  const replayed = await JournalDb.open(paths, { fromJournalOnly: true, readOnly: true });
  await catchUpTogether(paths, db, replayed);
  const mismatched: string[] = [];
  const current = new Map([...db.view.tasks()].map((t) => [t.id, t]));
  for (const task of replayed.view.tasks()) {
    const mine = current.get(task.id);
    if (!mine || JSON.stringify(mine) !== JSON.stringify(task)) mismatched.push(task.id);
    current.delete(task.id);
  }
  mismatched.push(...current.keys());
  await replayed.close();
  let reopen = false;
  if (mismatched.length > 0) {
    const problem: HealthProblem = {
      code: 'journal-mismatch',
      message: `${mismatched.length} task(s) differ between the boards and the journal: ${mismatched.slice(0, 5).join(', ')}`,
    };
    problems.push(problem);
    if (repair) {
      for (const store of STORES) {
        if (fs.existsSync(paths.board(store))) quarantineFile(paths.board(store), paths);
      }
      problem.repaired = true;
      reopen = true;
      repaired.push('moved every board file to quarantine/ and rebuilt the boards from the journal');
    }
  }
  return { problems, repaired, reopen };
}

/**
 * Every board file: valid, each task in the right store, no task twice. Read under the snapshot
 * lock: a snapshot writer replaces the boards one after the other, and a look between two of its
 * renames would find a task that moved in both.
 */
async function checkBoards(db: JournalDb, problems: HealthProblem[]): Promise<void> {
  const { paths } = db;
  const seen = new Map<string, string>();
  const snapshots = await acquireLock(paths.snapshotLock, { timeoutMs: db.lockTimeoutMs });
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
}
