/**
 * Shared by the state fault suite (tests/system/state/): start writer processes (fault-worker.mjs), read
 * their acknowledgements, read the journal and the board files straight from disk, and check the
 * invariants that the system Dream.OS replaces used to break. Checks return a list of problems, so a
 * failing test prints every broken invariant at once.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { isDeepStrictEqual } from 'node:util';
import { digestOf } from '../../state/db.js';
import { decodeLine, listSegments } from '../../state/journal.js';
import { STORES, type StoreName, type WorkspacePaths, workspacePaths } from '../../state/paths.js';
import {
  AlertsFile,
  BoardFile,
  type JournalEntry,
  type Status,
  storeOf,
  type Task,
} from '../../state/schemas.js';
import { readSnapshot, snapshotKinds } from '../../state/snapshots.js';
import type { SharedWriter } from '../../state/writer/index.js';
import { ROOT, writePolicies } from './workspace.js';

export const WORKER = path.join(ROOT, 'tests', 'helpers', 'fault-worker.mjs');

export interface WorkerArgs {
  /** The `.dreamos` folder (or the folder holding it). */
  home: string;
  agent: string;
  /** The worker's own acknowledgement file (JSON lines). */
  acks: string;
  seed: number;
  /** Stop after this many acknowledged transitions; omit to run until killed. */
  target?: number;
  flushEvery?: number;
  reopenEvery?: number;
}

export interface WorkerRun {
  child: ChildProcessByStdio<null, Readable, Readable>;
  /** True once the worker has opened the workspace; false if it exited first. */
  ready: Promise<boolean>;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/**
 * Leases that outlive any test run, so that no lease expires behind a worker's back however slow the
 * machine: set the way an operator would, in config.json (every process plans with the file's policies).
 */
export function longLeases(dreamosDir: string): void {
  writePolicies(dreamosDir, { leaseSeconds: 7 * 86_400 });
}

export function startWorker(args: WorkerArgs): WorkerRun {
  const child = spawn(process.execPath, [WORKER, JSON.stringify(args)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const ready = new Promise<boolean>((resolve) => {
    child.stdout.on('data', (d) => {
      if (String(d).includes('ready')) resolve(true);
    });
    child.on('close', () => resolve(false));
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
    (resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })),
  );
  return { child, ready, done };
}

export interface HistoryStep {
  from: Status | null;
  to: Status;
  by: string;
  at: string;
  why?: string;
}

/** One acknowledged transition, as the worker saw it after the transaction returned. */
export interface Ack {
  w: string;
  pid: number;
  op: string;
  id: string;
  status: Status;
  seq: number | null;
  hist: number;
  last: HistoryStep;
}

export interface WorkerLogs {
  acks: Ack[];
  unexpected: Array<{ w: string; pid: number; unexpected: string; message: string }>;
  done: Array<{
    w: string;
    pid: number;
    acked: number;
    refused: number;
    ops: number;
    /** What the shared writer did in that process (state/writer/). */
    shared: Pick<SharedWriter['stats'], 'served' | 'asked' | 'recovered' | 'direct'>;
  }>;
}

/** Read ack files. A last line without its newline was being written when the worker died: not an ack. */
export function readWorkerLogs(files: string[]): WorkerLogs {
  const logs: WorkerLogs = { acks: [], unexpected: [], done: [] };
  for (const file of files) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue; // killed before its first ack
    }
    const complete = text.slice(0, text.lastIndexOf('\n') + 1);
    for (const line of complete.split('\n')) {
      if (!line) continue;
      const record = JSON.parse(line);
      if ('unexpected' in record) logs.unexpected.push(record);
      else if ('done' in record) logs.done.push(record);
      else logs.acks.push(record);
    }
  }
  return logs;
}

export interface JournalScan {
  entries: JournalEntry[];
  damaged: Array<{ segment: number; offset: number; reason: string }>;
  /** Bytes after the last complete line of the last segment. */
  tornBytes: number;
}

/** Every line of every segment, decoded and checked (schema and crc) independently of JournalDb. */
export function scanJournal(paths: WorkspacePaths): JournalScan {
  const scan: JournalScan = { entries: [], damaged: [], tornBytes: 0 };
  const segments = listSegments(paths);
  for (const segment of segments) {
    const text = fs.readFileSync(paths.journalSegment(segment), 'utf8');
    const end = text.lastIndexOf('\n') + 1;
    if (segment === segments[segments.length - 1]) scan.tornBytes = Buffer.byteLength(text.slice(end));
    let offset = 0;
    for (const line of text.slice(0, end).split('\n').slice(0, -1)) {
      const decoded = decodeLine(line);
      if ('entry' in decoded) scan.entries.push(decoded.entry);
      else scan.damaged.push({ segment, offset, reason: decoded.error });
      offset += Buffer.byteLength(line) + 1;
    }
  }
  return scan;
}

/** The state the journal describes: the last version of every task, as replay builds it. */
export function replayTasks(entries: JournalEntry[]): Map<string, Task> {
  const tasks = new Map<string, Task>();
  for (const entry of entries) {
    for (const { task } of entry.tasks ?? []) {
      const current = tasks.get(task.id);
      if (!current || current.rev < task.rev) tasks.set(task.id, task);
    }
    for (const id of entry.archived ?? []) {
      const current = tasks.get(id);
      if (current && current.rev < entry.seq) tasks.delete(id);
    }
  }
  return tasks;
}

export function readBoard(paths: WorkspacePaths, store: StoreName): BoardFile {
  return BoardFile.parse(JSON.parse(fs.readFileSync(paths.board(store), 'utf8')));
}

export function readAlerts(paths: WorkspacePaths): AlertsFile {
  return AlertsFile.parse(JSON.parse(fs.readFileSync(paths.alerts, 'utf8')));
}

export interface StateCheck {
  problems: string[];
  entries: JournalEntry[];
  tasks: Map<string, Task>;
  /** Journal entries of worker operations that no worker acknowledged. */
  unacked: JournalEntry[];
}

/**
 * The invariants, read from disk after every writer is gone and a last process has opened and
 * closed the workspace:
 * - the journal: every line valid, no torn tail, sequence numbers exactly 1..N;
 * - every snapshot file validates (schema and digest);
 * - every task is in exactly one board file, the one its status belongs to, and the boards hold
 *   exactly the state that replaying the journal gives;
 * - history is append-only: each journal version of a task extends the previous one by at most one
 *   step, and the steps chain (from = previous to);
 * - every acknowledged transition is in the journal entry it was acknowledged with and in the task's
 *   final history (nothing lost); no journal entry is acknowledged twice (nothing applied twice).
 */
export function checkState(dreamosDir: string, acks: Ack[]): StateCheck {
  const paths = workspacePaths(dreamosDir);
  const problems: string[] = [];
  const scan = scanJournal(paths);
  const { entries } = scan;
  for (const d of scan.damaged)
    problems.push(`journal line damaged at ${d.segment}:${d.offset}: ${d.reason}`);
  if (scan.tornBytes > 0) problems.push(`journal ends with ${scan.tornBytes} bytes of a torn line`);
  entries.forEach((e, i) => {
    if (e.seq !== i + 1) problems.push(`journal entry #${i + 1} has seq ${e.seq}`);
  });

  for (const kind of snapshotKinds(paths)) {
    try {
      readSnapshot(paths, kind);
    } catch (error) {
      problems.push(`snapshot ${kind} does not validate: ${(error as Error).message}`);
    }
  }

  const tasks = replayTasks(entries);
  const onBoards = new Map<string, StoreName>();
  for (const store of STORES) {
    let board: BoardFile;
    try {
      board = readBoard(paths, store);
    } catch (error) {
      problems.push(`board ${store} does not validate: ${(error as Error).message}`);
      continue;
    }
    if (digestOf(board.tasks) !== board.digest) problems.push(`board ${store}: digest mismatch`);
    for (const task of board.tasks) {
      const other = onBoards.get(task.id);
      if (other) problems.push(`${task.id} is in ${other} and in ${store}`);
      onBoards.set(task.id, store);
      if (storeOf(task.status) !== store)
        problems.push(`${task.id} (${task.status}) is in the ${store} file`);
      const replayed = tasks.get(task.id);
      if (!replayed) problems.push(`${task.id} is on the ${store} board but not in the journal`);
      else if (!isDeepStrictEqual(JSON.parse(JSON.stringify(task)), JSON.parse(JSON.stringify(replayed))))
        problems.push(`${task.id} on the ${store} board differs from its journal replay`);
    }
  }
  for (const id of tasks.keys()) if (!onBoards.has(id)) problems.push(`${id} is in no board file`);

  // History is append-only across the journal versions of each task, one step at a time.
  const versions = new Map<string, Task>();
  for (const entry of entries) {
    for (const { task } of entry.tasks ?? []) {
      const prev = versions.get(task.id);
      const h = task.history;
      h.forEach((step, k) => {
        const expected = k === 0 ? null : h[k - 1]!.to;
        if (step.from !== expected)
          problems.push(`${task.id} history step ${k} goes ${step.from} -> ${step.to} after ${expected}`);
      });
      if (h[h.length - 1]?.to !== task.status) problems.push(`${task.id} history does not end in its status`);
      if (prev) {
        const grew = h.length - prev.history.length;
        if (grew < 0 || grew > 1)
          problems.push(
            `${task.id} history went from ${prev.history.length} to ${h.length} in seq ${entry.seq}`,
          );
        if (!isDeepStrictEqual(h.slice(0, prev.history.length), prev.history))
          problems.push(`${task.id} history was rewritten in seq ${entry.seq}`);
      }
      versions.set(task.id, task);
    }
  }

  // Acknowledgements against the journal and the final state.
  const bySeq = new Map(entries.map((e) => [e.seq, e]));
  const ackedSeqs = new Map<number, string>();
  const seen = new Set<string>();
  for (const ack of acks) {
    const label = `${ack.w} (pid ${ack.pid}) ${ack.op} ${ack.id} -> ${ack.status} @${ack.seq}`;
    if (ack.seq === null) {
      problems.push(`${label}: acknowledged without a journal seq`);
      continue;
    }
    const key = `${ack.seq}:${ack.id}`;
    if (seen.has(key)) problems.push(`${label}: acknowledged twice`);
    seen.add(key);
    const owner = ackedSeqs.get(ack.seq);
    if (owner && owner !== `${ack.pid}`) problems.push(`${label}: seq also acknowledged by pid ${owner}`);
    ackedSeqs.set(ack.seq, `${ack.pid}`);
    const entry = bySeq.get(ack.seq);
    const version = entry?.tasks?.find((p) => p.task.id === ack.id)?.task;
    if (!entry || !version) {
      problems.push(`${label}: not in the journal (lost)`);
      continue;
    }
    if (entry.by !== ack.w) problems.push(`${label}: journal says it was made by ${entry.by}`);
    if (version.status !== ack.status || version.history.length !== ack.hist)
      problems.push(`${label}: journal has ${version.status} with ${version.history.length} history steps`);
    const final = tasks.get(ack.id);
    if (!final) problems.push(`${label}: the task is gone from the final state`);
    else if (!isDeepStrictEqual(final.history[ack.hist - 1], ack.last))
      problems.push(`${label}: its history step is missing from the final state`);
  }
  const unacked = entries.filter(
    (e) => e.op !== 'init' && e.op !== 'recovery' && (e.tasks?.length ?? 0) > 0 && !ackedSeqs.has(e.seq),
  );
  return { problems, entries, tasks, unacked };
}

/** Every file directly under quarantine/ whose name ends with `suffix`. */
export function quarantined(paths: WorkspacePaths, suffix = ''): string[] {
  try {
    return fs.readdirSync(paths.quarantineDir).filter((n) => n.endsWith(suffix));
  } catch {
    return [];
  }
}
