/**
 * The dedupe keys of archived tasks. A key once used is never used again (src/task-input.ts), also
 * after its task rolled into archive/: beside each archive file that holds keyed tasks, a small file
 * lists their keys, and opening the JSON store reads those (never the archive itself). A keys file
 * that cannot be read is rebuilt in memory from its archive file, which is the record.
 */
import fs from 'node:fs';
import * as z from 'zod';
import { errnoCode } from './errors.js';
import type { WorkspacePaths } from './paths.js';
import { DedupeKey, Task, TaskId } from './schemas.js';
import type { StateIndex } from './state-index.js';
import { writeFileDurable } from './store.js';

const KEYS_FILE_RE = /^completed-(\d{10})\.keys\.json$/;
const KeysFile = z.record(TaskId, DedupeKey);

/** Beside the archive file of entry `seq`: the keys of its keyed tasks (nothing when none has one). */
export function writeArchiveKeys(
  paths: WorkspacePaths,
  seq: number,
  tasks: readonly Pick<Task, 'id' | 'dedupeKey'>[],
): void {
  const keyed = tasks.filter((t) => t.dedupeKey !== undefined);
  if (keyed.length === 0) return;
  writeFileDurable(
    paths.archiveKeysFile(seq),
    `${JSON.stringify(Object.fromEntries(keyed.map((t) => [t.id, t.dedupeKey])))}\n`,
  );
}

function readLines(path: string): string[] {
  try {
    return fs.readFileSync(path, 'utf8').split('\n');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return [];
    throw error;
  }
}

/** The keyed tasks of one archive file, read from the file itself (lines that do not parse are skipped). */
function keysFromArchive(paths: WorkspacePaths, seq: number): Record<string, string> {
  const keys: Record<string, string> = {};
  for (const line of readLines(paths.archiveFile(seq))) {
    if (!line.includes('"dedupeKey"')) continue;
    const task = parseTask(line);
    if (task?.dedupeKey !== undefined) keys[task.id] = task.dedupeKey;
  }
  return keys;
}

/** Put the keys of every archived keyed task into `mem`. */
export function loadArchiveKeys(paths: WorkspacePaths, mem: StateIndex): void {
  let names: string[];
  try {
    names = fs.readdirSync(paths.archiveDir);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return;
    throw error;
  }
  for (const name of names) {
    const match = KEYS_FILE_RE.exec(name);
    if (!match) continue;
    const seq = Number(match[1]);
    let keys: Record<string, string>;
    try {
      keys = KeysFile.parse(JSON.parse(fs.readFileSync(paths.archiveKeysFile(seq), 'utf8')));
    } catch {
      keys = keysFromArchive(paths, seq);
    }
    for (const [id, key] of Object.entries(keys)) mem.rememberArchived(key, id, seq);
  }
}

/** An archived task, read from the archive file of the entry that archived it; null if it is not there. */
export function readArchivedTask(paths: WorkspacePaths, id: string, seq: number): Task | null {
  const needle = `"id":"${id}"`;
  for (const line of readLines(paths.archiveFile(seq))) {
    if (!line.includes(needle)) continue;
    const task = parseTask(line);
    if (task?.id === id) return task;
  }
  return null;
}

/** One line of an archive file as a task; a damaged line is none. */
function parseTask(line: string): Task | null {
  try {
    const parsed = Task.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
