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
import { stripControl } from '../../src/sanitize.js';

const FIRST_READ_BYTES = 32 * 1024;
const MAX_LINE = 400;

export function cleanLine(line: string): string | null {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (text.startsWith('::dreamos ')) return null;
  return stripControl(text.slice(0, MAX_LINE * 2).replace(/\t/g, '  ')).slice(0, MAX_LINE);
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
