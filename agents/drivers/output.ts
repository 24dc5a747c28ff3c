/**
 * Where a run's output goes: every line to `ctx.onLine` and to the task's log file, up to a size cap.
 * Past the cap one marker line is written and further lines are dropped (from the log and from
 * `onLine`), so a flood costs neither disk nor the console. Memory stays bounded: lines are cut at
 * `maxLineBytes` and nothing is buffered beyond one line.
 */
import fs from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../../state/errors.js';
import { openAppend, realFolder } from '../../state/safe-files.js';
import type { DriverContext } from './types.js';

export const DEFAULT_MAX_LOG_BYTES = 10 * 1024 * 1024;
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;

export type Stream = 'stdout' | 'stderr';

/** Splits a byte stream into lines: LF or CRLF, a last line without newline, over-long lines cut. */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** After a cut, the rest of that line is skipped up to its newline. */
  private skipping = false;

  constructor(
    private readonly maxLineBytes: number,
    private readonly emit: (line: Buffer, cut: boolean) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(10, start);
      const end = nl === -1 ? chunk.length : nl;
      const next = nl === -1 ? chunk.length : nl + 1;
      if (this.skipping) {
        if (nl !== -1) this.skipping = false;
        start = next;
        continue;
      }
      const piece = chunk.subarray(start, end);
      const room = this.maxLineBytes - this.pendingBytes;
      if (piece.length > room) {
        this.add(piece.subarray(0, room));
        this.flush(true);
        this.skipping = nl === -1;
      } else {
        this.add(piece);
        if (nl !== -1) this.flush(false);
      }
      start = next;
    }
  }

  /** The stream ended: a last line without a newline is still a line. */
  end(): void {
    if (this.pendingBytes > 0) this.flush(false);
    this.skipping = false;
  }

  private add(piece: Buffer): void {
    if (piece.length === 0) return;
    this.pending.push(piece);
    this.pendingBytes += piece.length;
  }

  private flush(cut: boolean): void {
    let line = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    if (!cut && line.length > 0 && line[line.length - 1] === 13) line = line.subarray(0, line.length - 1);
    this.emit(line, cut);
  }
}

export interface OutputOptions {
  maxLogBytes?: number;
}

/** The log file and `onLine` of one run. Lines written after `close()` are ignored. */
export class RunOutput {
  private fd: number | null = null;
  private written = 0;
  private full = false;
  private closed = false;
  private readonly maxLogBytes: number;
  /** Kept for the outcome: the last non-empty line of each stream. */
  readonly last: Record<Stream, string> = { stdout: '', stderr: '' };

  constructor(
    private readonly ctx: Pick<DriverContext, 'logPath' | 'onLine'>,
    options: OutputOptions = {},
  ) {
    this.maxLogBytes = options.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES;
    try {
      // logs/<agent>/<task>.log: both folders real ones, and the file never reached through a link.
      const agentDir = path.dirname(ctx.logPath);
      const logsDir = path.dirname(agentDir);
      const home = path.dirname(logsDir);
      realFolder(home, logsDir);
      realFolder(home, agentDir);
      this.fd = openAppend(ctx.logPath);
    } catch (error) {
      const why =
        errnoCode(error) === 'ELOOP'
          ? 'it is a symbolic link, which is never followed'
          : (error as Error).message;
      this.deliver(`[dreamos] cannot write the log ${ctx.logPath}: ${why}; this run is not logged`, 'stderr');
    }
  }

  /** True once the cap is reached: further lines are dropped. */
  get capped(): boolean {
    return this.full;
  }

  line(text: string, stream: Stream): void {
    if (this.closed) return;
    // Past the cap too: the outcome's summary is the program's real last line.
    if (text.trim() !== '') this.last[stream] = text;
    if (this.full) return;
    const bytes = Buffer.byteLength(text) + 1;
    if (this.written + bytes > this.maxLogBytes) {
      this.full = true;
      const marker = `[dreamos] output past ${this.maxLogBytes} bytes dropped (log size cap)`;
      this.write(`${marker}\n`);
      this.deliver(marker, 'stderr');
      return;
    }
    this.written += bytes;
    this.write(`${text}\n`);
    this.deliver(text, stream);
  }

  /** A line from Dream.OS itself (not from the driven program): never dropped by the cap. */
  note(text: string): void {
    if (this.closed) return;
    const line = `[dreamos] ${text}`;
    this.write(`${line}\n`);
    this.deliver(line, 'stderr');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  private write(text: string): void {
    if (this.fd === null) return;
    try {
      fs.writeSync(this.fd, text);
    } catch (error) {
      // A full disk must not fail the task: say so once on the live stream and stop logging.
      fs.closeSync(this.fd);
      this.fd = null;
      this.deliver(`[dreamos] log write failed, logging stopped: ${(error as Error).message}`, 'stderr');
    }
  }

  private deliver(text: string, stream: Stream): void {
    try {
      this.ctx.onLine(text, stream);
    } catch {
      // A consumer that throws must not take the supervisor (and its child processes) down with it.
    }
  }
}

/** Splits text that arrives in pieces (an llm stream) into lines for a RunOutput. */
export class TextLines {
  private pending = '';

  constructor(
    private readonly output: RunOutput,
    private readonly stream: Stream = 'stdout',
  ) {}

  push(text: string): void {
    this.pending += text;
    let nl = this.pending.indexOf('\n');
    while (nl !== -1) {
      this.output.line(this.pending.slice(0, nl).replace(/\r$/, ''), this.stream);
      this.pending = this.pending.slice(nl + 1);
      nl = this.pending.indexOf('\n');
    }
    if (this.pending.length > DEFAULT_MAX_LINE_BYTES) {
      this.output.line(this.pending, this.stream);
      this.pending = '';
    }
  }

  end(): void {
    if (this.pending !== '') this.output.line(this.pending, this.stream);
    this.pending = '';
  }
}
