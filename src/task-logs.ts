/**
 * The captured output of a task: one file per agent that ran it (`logs/<agent>/<task>.log`, written
 * by the drivers, appended to by each attempt), read for `dreamos task log` and the console's pager.
 * Lines are shown only after terminal control sequences are removed; `::dreamos {…}` protocol lines
 * (progress, checkpoints) are left out.
 */
import fs from 'node:fs';
import { join, relative } from 'node:path';
import { openRead } from '../state/safe-files.js';
import type { Task } from '../state/schemas.js';
import { errnoCode } from './errors.js';
import { stripControl } from './sanitize.js';

export interface TaskLog {
  agent: string;
  path: string;
  /** Last written (epoch ms). */
  mtimeMs: number;
  size: number;
}

/** A line of a log as people see it; null for a protocol line. */
export function cleanLogLine(line: string, max = Number.POSITIVE_INFINITY): string | null {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (text.startsWith('::dreamos ')) return null;
  const cut = Number.isFinite(max) ? text.slice(0, max * 2) : text;
  const clean = stripControl(cut.replace(/\t/g, '  '));
  return Number.isFinite(max) ? clean.slice(0, max) : clean;
}

/** Every log of a task, oldest first: any agent's folder may hold one (a retry taken by another agent). */
export function taskLogs(logsDir: string, task: Pick<Task, 'id'>): TaskLog[] {
  let agents: string[];
  try {
    agents = fs.readdirSync(logsDir);
  } catch {
    return [];
  }
  const found: TaskLog[] = [];
  for (const agent of agents) {
    const path = join(logsDir, agent, `${task.id}.log`);
    try {
      // An agent folder that is a link is never entered: its logs would be read from elsewhere.
      if (!fs.lstatSync(join(logsDir, agent)).isDirectory()) continue;
      // lstat: a link planted in place of a log is listed (readLines says it is not followed), never read.
      const stat = fs.lstatSync(path);
      if (stat.isFile() || stat.isSymbolicLink())
        found.push({ agent, path, mtimeMs: stat.mtimeMs, size: stat.size });
    } catch {
      // no log of this task in this agent's folder
    }
  }
  return found.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.agent < b.agent ? -1 : 1));
}

/** The offset after a log found to be a link: said once, then nothing more until it is a file again. */
const LINK_SAID = -1;

/**
 * Bytes of a file from `offset` on, up to the last complete line (a line being written waits). A
 * symbolic link in place of the log is never followed: one line says so instead of its target.
 */
export function readLines(path: string, offset: number, final = false): { lines: string[]; offset: number } {
  let fd: number;
  try {
    fd = openRead(path);
  } catch (error) {
    if (errnoCode(error) !== 'ELOOP') return { lines: [], offset };
    if (offset === LINK_SAID) return { lines: [], offset };
    return {
      lines: ['[dreamos] this log is a symbolic link, which is never followed: its target is not shown'],
      offset: LINK_SAID,
    };
  }
  try {
    const size = fs.fstatSync(fd).size;
    // Truncated or replaced: start again.
    const from = size < offset || offset < 0 ? 0 : offset;
    if (size === from) return { lines: [], offset: from };
    const buf = Buffer.alloc(size - from);
    fs.readSync(fd, buf, 0, buf.length, from);
    const end = final ? buf.length : buf.lastIndexOf(10) + 1;
    const text = buf.toString('utf8', 0, end);
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    return { lines, offset: from + end };
  } finally {
    fs.closeSync(fd);
  }
}

export const shownPath = (home: string, path: string) => relative(home, path);
