/**
 * A session's screen: a headless terminal (xterm.js) fed with everything the program writes. It
 * answers the program's terminal queries (device attributes, cursor position) as a terminal would,
 * gives the screen as plain text or as the escape sequences that repaint it, and hands the log the
 * lines that scroll off its top: each line as it finally stood, so a spinner redrawn in place a
 * thousand times is one line, never its frames.
 */
import type { Terminal } from '@xterm/headless';
import { loadXterm } from './native.js';
import type { ScreenSnapshot } from './protocol.js';

/** Lines kept above the screen: the log reads each line as it leaves, so this is only a margin. */
const SCROLLBACK = 200;
/** A logical line longer than this many rows is logged in pieces. */
const MAX_WRAPPED_ROWS = 64;
/** How `serialize()` marks the start of the alternate screen in its output. */
const ALT_START = '\x1b[?1049h\x1b[H';

export interface ScreenEvents {
  /** A line scrolled off the top of the normal screen (plain text, wrapped rows joined). */
  onLine(line: string): void;
  /** The terminal's answer to a query of the program (it goes back to the program). */
  onReply(data: string): void;
}

export class SessionScreen {
  private readonly term: Terminal;
  private readonly serializer: { serialize(options?: { scrollback?: number }): string; dispose(): void };
  /** Rows of a wrapped line that have scrolled off while the rest of it is still on the screen. */
  private partial: string[] = [];
  private switched = false;

  constructor(cols: number, rows: number, events: ScreenEvents) {
    const { Terminal, SerializeAddon } = loadXterm();
    this.term = new Terminal({ cols, rows, scrollback: SCROLLBACK, allowProposedApi: true });
    const addon = new SerializeAddon();
    this.term.loadAddon(addon);
    this.serializer = addon;
    this.term.onData((data) => events.onReply(data));
    this.term.buffer.onBufferChange(() => {
      this.switched = true;
    });
    this.term.onScroll(() => {
      const buffer = this.term.buffer.active;
      if (buffer.type !== 'normal' || buffer.baseY === 0) return;
      const gone = buffer.getLine(buffer.baseY - 1);
      if (!gone) return;
      this.partial.push(gone.translateToString(true));
      const next = buffer.getLine(buffer.baseY);
      if (next?.isWrapped && this.partial.length < MAX_WRAPPED_ROWS) return;
      events.onLine(this.partial.join(''));
      this.partial = [];
    });
    this.events = events;
  }

  private readonly events: ScreenEvents;

  get cols(): number {
    return this.term.cols;
  }

  get rows(): number {
    return this.term.rows;
  }

  /**
   * Feed the program's output. `parsed` runs once the terminal has taken all of it, in order;
   * `switched` is true when the chunk moved the program to or from the alternate screen.
   */
  write(data: string, parsed: (switched: boolean) => void): void {
    this.term.write(data, () => {
      const switched = this.switched;
      this.switched = false;
      parsed(switched);
    });
  }

  resize(cols: number, rows: number): void {
    this.term.resize(cols, rows);
  }

  /** The screen now: its rows as plain text, and with `ansi` the sequences that repaint it. */
  snapshot(ansi = false): ScreenSnapshot {
    const buffer = this.term.buffer.active;
    const lines: string[] = [];
    for (let y = 0; y < this.term.rows; y++)
      lines.push(buffer.getLine(buffer.baseY + y)?.translateToString(true) ?? '');
    const alternate = buffer.type === 'alternate';
    return {
      cols: this.term.cols,
      rows: this.term.rows,
      cursor: { x: buffer.cursorX, y: buffer.cursorY },
      alternate,
      lines,
      ...(ansi ? { ansi: this.repaint(alternate) } : {}),
    };
  }

  /** The last `count` rows that hold text (the bottom of what the program shows). */
  bottomLines(count: number): string[] {
    const lines = this.snapshot().lines;
    let end = lines.length;
    while (end > 0 && lines[end - 1]!.trim() === '') end--;
    return lines.slice(Math.max(0, end - count), end);
  }

  /** The program ended: the lines still on the normal screen go to the log, down to the last non-empty one. */
  flush(): void {
    const buffer = this.term.buffer.normal;
    const rows: Array<{ text: string; wrapped: boolean }> = [];
    for (let y = 0; y < this.term.rows; y++) {
      const line = buffer.getLine(buffer.baseY + y);
      rows.push({ text: line?.translateToString(true) ?? '', wrapped: line?.isWrapped ?? false });
    }
    while (rows.length > 0 && rows.at(-1)!.text.trim() === '') rows.pop();
    for (const [i, row] of rows.entries()) {
      this.partial.push(row.text);
      if (rows[i + 1]?.wrapped) continue;
      this.events.onLine(this.partial.join(''));
      this.partial = [];
    }
    if (this.partial.length > 0) this.events.onLine(this.partial.join(''));
    this.partial = [];
  }

  dispose(): void {
    this.serializer.dispose();
    this.term.dispose();
  }

  /** The active screen as escape sequences, from a cleared screen (the modes the program set come last). */
  private repaint(alternate: boolean): string {
    const all = this.serializer.serialize({ scrollback: 0 });
    if (!alternate) return all;
    const at = all.lastIndexOf(ALT_START);
    return at === -1 ? all : all.slice(at + ALT_START.length);
  }
}
