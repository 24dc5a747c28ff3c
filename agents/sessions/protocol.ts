/**
 * The session protocol (docs/sessions.md#the-protocol): how a client talks to a live `pty` session
 * over its Unix socket. One JSON object per line (UTF-8, `\n`-terminated), both ways.
 *
 * Client → server. The first message is `hello`; nothing else is read before it.
 * - `{"type":"hello","protocol":1,"mode":"read"|"write","stream":"none"|"raw"|"screen"}`:
 *   `mode` is what the connection may do (a `read` connection can look, never type or resize);
 *   `stream` is what it is sent without asking: nothing, the program's output as it comes (after a
 *   first `screen` with `ansi`), or the screen as plain text whenever it changes (at most every 50 ms).
 * - `{"type":"snapshot","id":N,"ansi":bool}`: the screen now, answered by a `screen` with that `id`.
 * - `{"type":"input","data":"…"}`: keys for the program, as a terminal sends them (`write` only).
 * - `{"type":"resize","cols":N,"rows":N}`: the program's terminal size (`write` only).
 * - `{"type":"hook","event":{…}}`: an event of the program's own hooks (Claude Code's
 *   `hook_event_name`, `message`, `tool_name`, `session_id`), sent by `dreamos agent hook` (`write` only).
 *
 * Server → client.
 * - `{"type":"welcome","protocol":1,"agent","task","pid","mode","cols","rows"}`: the answer to `hello`.
 * - `{"type":"screen","cols","rows","cursor":{"x","y"},"alternate","lines":[…],"ansi"?,"id"?}`:
 *   `lines` are the rows as plain text; `ansi`, when asked for (and on a `raw` stream), repaints the
 *   screen from a cleared one. On a `raw` stream a `screen` means: clear and repaint (the program
 *   switched between the normal and the alternate screen).
 * - `{"type":"output","data":"…"}`: what the program wrote (`raw` stream), with the sequences
 *   that query the terminal or reach outside it (titles, the clipboard) taken out.
 * - `{"type":"resized","cols","rows"}`: the program's terminal changed size.
 * - `{"type":"exit","exitCode","signal"}`: the program ended; the server closes the connection.
 * - `{"type":"error","code","message"}`: a refused message (`E_READ_ONLY`, `E_PROTOCOL`); after an
 *   `E_PROTOCOL` the server closes the connection.
 */

export const PROTOCOL_VERSION = 1;
/** A client's line longer than this is a protocol error. */
export const MAX_CLIENT_LINE = 1024 * 1024;

export type SessionMode = 'read' | 'write';
export type SessionStream = 'none' | 'raw' | 'screen';

export interface ScreenSnapshot {
  cols: number;
  rows: number;
  /** Where the cursor is, from 0 at the top left. */
  cursor: { x: number; y: number };
  /** True while the program shows its alternate (full-screen) screen. */
  alternate: boolean;
  /** Each row as plain text, trailing spaces trimmed. */
  lines: string[];
  /** Escape sequences that repaint the screen from a cleared one, when asked for. */
  ansi?: string;
}

export interface SessionInfo {
  agent: string;
  task: string;
  pid: number;
  mode: SessionMode;
  cols: number;
  rows: number;
}

export type ClientMessage =
  | { type: 'hello'; protocol: number; mode: SessionMode; stream: SessionStream }
  | { type: 'snapshot'; id: number; ansi?: boolean }
  | { type: 'input'; data: string }
  | { type: 'resize'; cols: number; rows: number }
  | { type: 'hook'; event: HookEvent };

/** What a CLI's hook reports, as Claude Code names it (other CLIs' hooks are mapped to these names). */
export interface HookEvent {
  hook_event_name: string;
  message?: string;
  tool_name?: string;
  session_id?: string;
}

export type ServerMessage =
  | ({ type: 'welcome'; protocol: number } & SessionInfo)
  | ({ type: 'screen'; id?: number } & ScreenSnapshot)
  | { type: 'output'; data: string }
  | { type: 'resized'; cols: number; rows: number }
  | { type: 'exit'; exitCode: number | null; signal: string | null }
  | { type: 'error'; code: 'E_READ_ONLY' | 'E_PROTOCOL'; message: string };

/** Terminal sizes a session accepts. */
export const MIN_SIZE = 1;
export const MAX_COLS = 1000;
export const MAX_ROWS = 500;

const isSize = (n: unknown, max: number): n is number =>
  typeof n === 'number' && Number.isInteger(n) && n >= MIN_SIZE && n <= max;

/** A client's message, checked; a string saying what is wrong with it otherwise. */
export function parseClientMessage(line: string): ClientMessage | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const m = value as Record<string, unknown>;
  switch (m.type) {
    case 'hello':
      if (m.protocol !== PROTOCOL_VERSION) return `protocol ${String(m.protocol)} is not spoken here (1 is)`;
      if (m.mode !== 'read' && m.mode !== 'write') return 'hello needs "mode": "read" or "write"';
      if (m.stream !== 'none' && m.stream !== 'raw' && m.stream !== 'screen')
        return 'hello needs "stream": "none", "raw" or "screen"';
      return { type: 'hello', protocol: PROTOCOL_VERSION, mode: m.mode, stream: m.stream };
    case 'snapshot':
      if (typeof m.id !== 'number' || !Number.isSafeInteger(m.id)) return 'snapshot needs a numeric "id"';
      return { type: 'snapshot', id: m.id, ansi: m.ansi === true };
    case 'input':
      if (typeof m.data !== 'string') return 'input needs "data" as a string';
      return { type: 'input', data: m.data };
    case 'resize':
      if (!isSize(m.cols, MAX_COLS) || !isSize(m.rows, MAX_ROWS))
        return `resize needs "cols" (1–${MAX_COLS}) and "rows" (1–${MAX_ROWS})`;
      return { type: 'resize', cols: m.cols, rows: m.rows };
    case 'hook': {
      const e = m.event as Record<string, unknown> | null;
      if (typeof e !== 'object' || e === null || typeof e.hook_event_name !== 'string')
        return 'hook needs an "event" with "hook_event_name"';
      const text = (v: unknown) => (typeof v === 'string' ? v.slice(0, 2000) : undefined);
      const event: HookEvent = { hook_event_name: e.hook_event_name.slice(0, 100) };
      for (const key of ['message', 'tool_name', 'session_id'] as const) {
        const value = text(e[key]);
        if (value !== undefined) event[key] = value;
      }
      return { type: 'hook', event };
    }
    default:
      return `unknown message type ${JSON.stringify(m.type)}`;
  }
}

/** Splits a socket's text into lines, refusing a line longer than `max` characters. */
export class MessageLines {
  private pending = '';

  constructor(
    private readonly max: number,
    private readonly onLine: (line: string) => void,
    private readonly onTooLong: () => void,
  ) {}

  push(text: string): void {
    this.pending += text;
    let nl = this.pending.indexOf('\n');
    while (nl !== -1) {
      const line = this.pending.slice(0, nl);
      this.pending = this.pending.slice(nl + 1);
      if (line.trim() !== '') this.onLine(line);
      nl = this.pending.indexOf('\n');
    }
    if (this.pending.length > this.max) {
      this.pending = '';
      this.onTooLong();
    }
  }
}
