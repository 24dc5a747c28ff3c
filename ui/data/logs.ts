/**
 * Tails of agent logs (`.dreamos/logs/<agent>/<task>.log`, written by the drivers). A file is read
 * from where the last read stopped, only after the file system says it changed (fs.watch on its
 * folder, or on the logs folder until the agent's folder exists): no busy polling. Changes are
 * gathered for `flushMs` and published together, so eight agents writing 200 lines/s each cost a
 * handful of renders per second. Lines are stripped of control sequences; `::dreamos {…}` protocol
 * lines are left out.
 */
import fs from 'node:fs';
import { basename, dirname } from 'node:path';
import { cleanLogLine, readLines, shownPath, taskLogs } from '../../src/task-logs.js';

const FIRST_READ_BYTES = 32 * 1024;
const MAX_LINE = 400;

export const cleanLine = (line: string): string | null => cleanLogLine(line, MAX_LINE);

/** The lines holding `term` (case-insensitive), by index; none for an empty term. */
export function matchesIn(lines: readonly string[], term: string): number[] {
  const needle = term.trim().toLowerCase();
  if (!needle) return [];
  const out: number[] = [];
  for (const [i, line] of lines.entries()) if (line.toLowerCase().includes(needle)) out.push(i);
  return out;
}

/**
 * The log the task view shows: that of the task's agent, else of the last agent in its history that
 * left one, else where its agent's log will be. Reads the file system, so it runs in an effect, not
 * in a render.
 */
export function taskLogPath(
  logPath: (agent: string, task: string) => string,
  agents: readonly string[],
  task: { id: string; agent: string | null; history: ReadonlyArray<{ by: string }> },
): string | null {
  const known = new Set(agents);
  const candidates = [task.agent, ...task.history.map((h) => h.by).reverse()].filter(
    (id): id is string => typeof id === 'string' && known.has(id),
  );
  for (const id of new Set(candidates)) if (fs.existsSync(logPath(id, task.id))) return logPath(id, task.id);
  return candidates[0] ? logPath(candidates[0], task.id) : null;
}

/** Lines the pager keeps of one task's logs: the last ones when a log is longer. */
export const PAGER_LINES = 50_000;
const PAGER_LINE = 1000;
/** A first read of a huge log starts this far from its end (more than the lines kept, as a rule). */
const PAGER_FIRST_BYTES = 16 * 1024 * 1024;

/**
 * Every log of one task, whole, for the pager: read once, then from where each read stopped when
 * `refresh()` is called (on a change of the file or of the board). Several logs (runs by different
 * agents) are shown one after the other, each under a header line.
 */
export class TaskLogReader {
  lines: readonly string[] = [];
  private readonly files = new Map<string, { agent: string; offset: number; lines: string[] }>();

  constructor(
    private readonly home: string,
    private readonly logsDir: string,
    readonly taskId: string,
  ) {
    this.refresh();
  }

  paths(): string[] {
    return [...this.files.keys()];
  }

  /** Read what is new; true when the lines changed. */
  refresh(): boolean {
    let changed = false;
    for (const log of taskLogs(this.logsDir, { id: this.taskId })) {
      let file = this.files.get(log.path);
      let partial = false;
      if (!file) {
        partial = log.size > PAGER_FIRST_BYTES;
        file = { agent: log.agent, offset: partial ? log.size - PAGER_FIRST_BYTES : 0, lines: [] };
        this.files.set(log.path, file);
        changed = true;
      }
      const read = readLines(log.path, file.offset);
      if (read.offset < file.offset) file.lines = [];
      file.offset = read.offset;
      // Started inside a line: that piece is not shown.
      const fresh = (partial ? read.lines.slice(1) : read.lines)
        .map((l) => cleanLogLine(l, PAGER_LINE))
        .filter((l): l is string => l !== null);
      if (!fresh.length) continue;
      // concat, not push(...): a long log has more lines than a call may take arguments.
      file.lines = file.lines.concat(fresh).slice(-PAGER_LINES);
      changed = true;
    }
    if (changed) {
      const many = this.files.size > 1;
      let out: string[] = [];
      for (const [path, file] of this.files) {
        if (many) out.push(`── ${file.agent} (${shownPath(this.home, path)}) ──`);
        out = out.concat(file.lines);
      }
      this.lines = out.length > PAGER_LINES ? out.slice(-PAGER_LINES) : out;
    }
    return changed;
  }
}

class Tail {
  lines: readonly string[] = [];
  readonly listeners = new Set<() => void>();
  /** Closes the tail once nobody has listened for a while. */
  linger: NodeJS.Timeout | null = null;
  private offset = 0;
  private partial = '';
  private watcher: fs.FSWatcher | null = null;
  private watching = '';

  constructor(
    readonly path: string,
    private readonly root: string,
    private readonly keep: number,
    private readonly onDirty: (tail: Tail) => void,
  ) {
    this.read(true);
    this.watch();
  }

  /** Watch the file's folder; until it exists, the nearest existing folder up to the logs root. */
  private watch(): void {
    let dir = dirname(this.path);
    while (!fs.existsSync(dir) && dir.startsWith(this.root) && dir !== this.root) dir = dirname(dir);
    if (dir === this.watching) return;
    this.watcher?.close();
    this.watcher = null;
    this.watching = dir;
    try {
      const name = basename(this.path);
      const own = dir === dirname(this.path);
      this.watcher = fs.watch(dir, { persistent: false }, (_event, file) => {
        if (!own) this.watch();
        if (!own || !file || file === name) this.onDirty(this);
      });
      this.watcher.on('error', () => undefined);
    } catch {
      this.watcher = null; // no folder to watch yet: the next snapshot change retries
    }
  }

  read(first = false): boolean {
    let fd: number;
    try {
      // Never through a link (in place of the log or of the agent's folder): it could show any file.
      if (fs.lstatSync(dirname(this.path)).isSymbolicLink()) return false;
      fd = fs.openSync(this.path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    } catch {
      return false; // not written yet, or a link
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size < this.offset) {
        this.offset = 0; // truncated or replaced
        this.partial = '';
        this.lines = [];
      }
      if (size === this.offset) return false;
      // Far behind (a first read, or a flood): only the end matters.
      const budget = first ? FIRST_READ_BYTES : this.keep * MAX_LINE * 2;
      let start = this.offset;
      if (size - start > budget) {
        start = size - budget;
        this.partial = '';
      }
      const buf = Buffer.alloc(size - start);
      fs.readSync(fd, buf, 0, buf.length, start);
      const skipFirst = start > this.offset || (first && start > 0);
      this.offset = size;
      const parts = (this.partial + buf.toString('utf8')).split('\n');
      this.partial = parts.pop() ?? '';
      if (skipFirst) parts.shift();
      const fresh = parts.map(cleanLine).filter((l): l is string => l !== null);
      if (!fresh.length) return false;
      this.lines = [...this.lines, ...fresh].slice(-this.keep);
      return true;
    } finally {
      fs.closeSync(fd);
    }
  }

  close(): void {
    if (this.linger) clearTimeout(this.linger);
    this.linger = null;
    this.watcher?.close();
    this.watcher = null;
  }
}

export class LogHub {
  private readonly tails = new Map<string, Tail>();
  private readonly dirty = new Set<Tail>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly root: string,
    private readonly options: { flushMs?: number; keep?: number; lingerMs?: number } = {},
  ) {}

  private markDirty = (tail: Tail) => {
    this.dirty.add(tail);
    if (!this.timer) this.timer = setTimeout(this.flush, this.options.flushMs ?? 100);
  };

  private flush = () => {
    this.timer = null;
    const changed = [...this.dirty].filter((tail) => tail.read());
    this.dirty.clear();
    for (const tail of changed) for (const listener of tail.listeners) listener();
  };

  subscribe(path: string, listener: () => void): () => void {
    let tail = this.tails.get(path);
    if (!tail) {
      tail = new Tail(path, this.root, this.options.keep ?? 200, this.markDirty);
      this.tails.set(path, tail);
    }
    tail.listeners.add(listener);
    if (tail.linger) clearTimeout(tail.linger);
    tail.linger = null;
    const owned = tail;
    return () => {
      owned.listeners.delete(listener);
      if (owned.listeners.size > 0) return;
      // Kept a while: switching views back and forth does not read the logs again from scratch.
      const drop = () => {
        owned.close();
        this.dirty.delete(owned);
        if (this.tails.get(path) === owned) this.tails.delete(path);
      };
      const linger = this.options.lingerMs ?? 10_000;
      if (linger <= 0) drop();
      else {
        owned.linger = setTimeout(drop, linger);
        owned.linger.unref();
      }
    };
  }

  lines(path: string): readonly string[] {
    return this.tails.get(path)?.lines ?? NO_LINES;
  }

  get open(): number {
    return this.tails.size;
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const tail of this.tails.values()) tail.close();
    this.tails.clear();
    this.dirty.clear();
  }
}

const NO_LINES: readonly string[] = [];
