/**
 * The tmux backend of live sessions (docs/sessions.md): the program runs in a tmux server of its
 * own, on a private socket in the workspace (`sessions/tmux-<agent>.sock`), started with
 * `-f /dev/null` so that no tmux.conf applies, so that it outlives its orchestrator. The
 * orchestrator follows the pane through a control-mode client (`tmux -C`): the pane's output
 * arrives as `%output` lines, and keys, resizes and questions go as commands on the client's stdin.
 * It is never the operator's own tmux server: every call names the socket's path.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { processAlive } from '../../state/proc.js';
import { realFolder } from '../../state/safe-files.js';
import { environOf } from '../platform/process.js';
import { sessionsDir } from './server.js';

/** The one tmux session of a socket. */
const SESSION = 'dreamos';
/** How often the pane's program is looked at for its exit. */
const EXIT_POLL_MS = 200;
/** How many times (40 ms apart) tmux is asked whether it has read an ended program's terminal to the end. */
const DEAD_TRIES = 50;
/**
 * The program runs under this shell, which writes its exit status to the file named first: tmux
 * 3.3 does not always keep a pane's status (`pane_dead_status`). Signals reach both (one group).
 */
const WRAPPER = ['/bin/sh', '-c', 'f=$1; shift; "$@"; echo $? > "$f"', 'dreamos-session'];

/** Where the wrapper of the program on `socket` writes its exit status. */
const statusPath = (socket: string) => socket.replace(/\.sock$/, '.status');

/** The exit status the wrapper wrote; null when it wrote none (it was killed). */
function readStatus(socket: string): number | null {
  try {
    const text = fs.readFileSync(statusPath(socket), 'utf8').trim();
    return /^\d+$/.test(text) ? Number(text) : null;
  } catch {
    return null;
  }
}

export const tmuxSocketPath = (home: string, agentId: string) =>
  path.join(sessionsDir(home), `tmux-${agentId}.sock`);

/** The agent a tmux socket of the sessions folder is for, or null for another file. */
export const tmuxSocketAgent = (file: string): string | null => /^tmux-(.+)\.sock$/.exec(file)?.[1] ?? null;

/** tmux's environment: never the operator's tmux (TMUX makes it refuse to attach). */
function tmuxEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { TMUX: _tmux, TMUX_PANE: _pane, ...rest } = env;
  return rest;
}

function tmux(socket: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const result = spawnSync('tmux', ['-S', socket, '-f', '/dev/null', ...args], {
    env: tmuxEnv(env),
    encoding: 'utf8',
    timeout: 10_000,
  });
  return { ok: result.status === 0, stdout: result.stdout ?? '', error: result.error };
}

/** The program of the session on `socket` (`dead`: it has ended); null when no server answers. */
export function tmuxPane(socket: string): { pid: number; dead: boolean; cols: number; rows: number } | null {
  const format = '#{pane_pid} #{pane_dead} #{pane_width} #{pane_height}';
  const shown = tmux(socket, ['display-message', '-p', '-t', SESSION, format]);
  if (!shown.ok) return null;
  const [pid, dead, cols, rows] = shown.stdout.trim().split(' ').map(Number);
  return pid! > 1 ? { pid: pid!, dead: dead === 1, cols: cols!, rows: rows! } : null;
}

/**
 * Whether the tmux server on `socket` was started for this agent's run of `task` in the workspace
 * `home` (its environment, which the program inherits, says so), with the program's pane still there.
 */
export function tmuxHolds(socket: string, agentId: string, home: string, task: string): boolean {
  const pid = tmuxServer(socket);
  if (pid === null) return false;
  const env = environOf(pid) ?? [];
  return [`DREAMOS_AGENT_ID=${agentId}`, `DREAMOS_HOME=${home}`, `DREAMOS_TASK_ID=${task}`].every((mark) =>
    env.includes(mark),
  );
}

/** The pid of the tmux server answering on `socket`; null when none does. */
export function tmuxServer(socket: string): number | null {
  const shown = tmux(socket, ['display-message', '-p', '#{pid}']);
  const pid = Number(shown.stdout.trim());
  return shown.ok && pid > 1 ? pid : null;
}

/** Stop the tmux server of `socket` (and so its program), and remove the socket. */
export function stopTmux(socket: string): void {
  tmux(socket, ['kill-server']);
  try {
    if (fs.lstatSync(socket).isSocket()) fs.unlinkSync(socket);
  } catch {
    // Already gone.
  }
  fs.rmSync(statusPath(socket), { force: true });
}

export interface TmuxStart {
  socket: string;
  program: string;
  args: readonly string[];
  cwd: string;
  env: Record<string, string>;
  cols: number;
  rows: number;
}

/** Start the program in a new tmux server on `socket`; throws saying why it could not. */
export function startTmux(home: string, start: TmuxStart): void {
  const dir = sessionsDir(home);
  realFolder(home, dir);
  fs.chmodSync(dir, 0o700);
  stopTmux(start.socket); // a server left on the socket by a dead run is not this run's
  const { TERM: term = 'tmux-256color', ...env } = start.env;
  // The options before the session take effect for it; remain-on-exit keeps the pane after the
  // program ends, so that its last output is read, not raced (and draws nothing on it).
  const started = tmux(
    start.socket,
    [
      ...['start-server', ';', 'set', '-g', 'default-terminal', term, ';'],
      ...['set', '-g', 'remain-on-exit', 'on', ';', 'set', '-g', 'remain-on-exit-format', '', ';'],
      ...['set', '-g', 'status', 'off', ';'],
      ...['new-session', '-d', '-s', SESSION, '-x', `${start.cols}`, '-y', `${start.rows}`],
      ...['-c', start.cwd, '--', ...WRAPPER, statusPath(start.socket), start.program, ...start.args, ';'],
      ...['set', '-gw', 'window-size', 'manual'],
    ],
    env,
  );
  if (!started.ok)
    throw new Error(
      started.error ? `tmux cannot be run: ${started.error.message}` : 'tmux could not start the session',
    );
  // tmux keeps the socket to its owner (it sets the owner's x bit while a client is attached).
  fs.chmodSync(start.socket, 0o600);
}

/** What a pty run needs of its terminal: node-pty's shape, so that both backends run alike. */
export interface SessionTerminal {
  readonly pid: number;
  write(data: string): void;
  resize(cols: number, rows: number): void;
  onData(listener: (data: string) => void): void;
  onExit(listener: (exit: { exitCode: number; signal?: number }) => void): void;
}

/** `%output` data: octal escapes for control bytes and the backslash, the rest as it came. */
function unescapeOutput(text: string): Buffer {
  const bytes: number[] = [];
  const raw = Buffer.from(text, 'latin1');
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x5c && i + 3 < raw.length) {
      bytes.push(Number.parseInt(raw.subarray(i + 1, i + 4).toString(), 8));
      i += 3;
    } else bytes.push(raw[i]!);
  }
  return Buffer.from(bytes);
}

/** Keys as tmux commands: ASCII as hexadecimal key codes, other text literally (one write each). */
export function keyCommands(data: string): string[] {
  const out: string[] = [];
  for (const run of data.match(/[\x00-\x7f]+|[^\x00-\x7f]+/g) ?? []) {
    if (run.charCodeAt(0) < 0x80) {
      const hex = [...run].map((c) => c.charCodeAt(0).toString(16).padStart(2, '0'));
      out.push(`send-keys -t ${SESSION} -H ${hex.join(' ')}`);
    } else out.push(`send-keys -t ${SESSION} -l '${run}'`);
  }
  return out;
}

/**
 * A control-mode client of the session on `socket`: the pane's output from the screen as it stands
 * (`adopted`) or from its start, keys and resizes sent, the program's exit noticed (its pid polled,
 * its last output read from the kept pane, its status from its wrapper) and the server stopped then.
 */
export class TmuxTerminal implements SessionTerminal {
  private readonly client: ChildProcess;
  private readonly decoder = new StringDecoder('utf8');
  private dataListener: (data: string) => void = () => undefined;
  private exitListener: (exit: { exitCode: number; signal?: number }) => void = () => undefined;
  /** Replies awaited, in the order their commands were sent. */
  private readonly replies: Array<(lines: string[] | null) => void> = [];
  private reply: string[] | null = null;
  private buffered: string[] | null = [];
  private exited = false;
  private readonly poll: NodeJS.Timeout;

  constructor(
    private readonly socket: string,
    readonly pid: number,
    adopted: boolean,
  ) {
    this.client = spawn('tmux', ['-S', socket, '-f', '/dev/null', '-C', 'attach-session', '-t', SESSION], {
      env: tmuxEnv(process.env),
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    this.client.on('error', () => this.ended());
    this.client.stdin!.on('error', () => undefined);
    let rest = '';
    this.client.stdout!.setEncoding('latin1');
    this.client.stdout!.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) this.receive(line);
    });
    this.client.on('exit', () => this.ended());
    // The screen as it stands first (with the cursor where it is), then what the pane writes after.
    const history = adopted ? [] : ['-S', '-'];
    const shown = this.command(`display-message -p -t ${SESSION} '#{alternate_on} #{cursor_x} #{cursor_y}'`);
    const captured = this.command(['capture-pane', '-p', '-e', '-t', SESSION, ...history].join(' '));
    void Promise.all([shown, captured]).then(([state, lines]) => this.startFrom(state?.[0], lines));
    this.poll = setInterval(() => {
      if (!processAlive(pid)) void this.programEnded();
    }, EXIT_POLL_MS);
  }

  write(data: string): void {
    for (const command of keyCommands(data)) void this.command(command);
  }

  resize(cols: number, rows: number): void {
    void this.command(`resize-window -t ${SESSION} -x ${cols} -y ${rows}`);
  }

  onData(listener: (data: string) => void): void {
    this.dataListener = listener;
  }

  onExit(listener: (exit: { exitCode: number; signal?: number }) => void): void {
    this.exitListener = listener;
  }

  private command(text: string): Promise<string[] | null> {
    if (this.exited || !this.client.stdin?.writable) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.replies.push(resolve);
      this.client.stdin!.write(`${text}\n`);
    });
  }

  private receive(line: string): void {
    if (this.reply !== null) {
      if (/^%(end|error) \d+ \d+ 1$/.test(line)) {
        const ok = line.startsWith('%end');
        const lines = this.reply;
        this.reply = null;
        this.replies.shift()?.(ok ? lines : null);
      } else this.reply.push(Buffer.from(line, 'latin1').toString('utf8'));
      return;
    }
    if (/^%begin \d+ \d+ 1$/.test(line)) this.reply = [];
    else if (line.startsWith('%output ')) {
      const at = line.indexOf(' ', 8);
      const data = this.decoder.write(unescapeOutput(line.slice(at + 1)));
      if (this.buffered) this.buffered.push(data);
      else if (data !== '') this.dataListener(data);
    }
  }

  /** The captured screen, drawn for the headless terminal; output since the capture follows it. */
  private startFrom(state: string | undefined, lines: string[] | null): void {
    const later = this.buffered ?? [];
    this.buffered = null; // what came before the capture's reply is in the capture
    if (!lines || state === undefined) {
      for (const data of later) this.dataListener(data);
      return;
    }
    const [alternate, x, y] = state.split(' ').map(Number);
    // The capture ends with the screen's rows: drawn last, they fill the screen, and the cursor is put back.
    const screen = `${alternate === 1 ? '\x1b[?1049h\x1b[H' : ''}${lines.join('\r\n')}`;
    this.dataListener(`${screen}\x1b[${(y ?? 0) + 1};${(x ?? 0) + 1}H`);
  }

  private async programEnded(): Promise<void> {
    if (this.exited) return;
    clearInterval(this.poll);
    // The pane is kept (remain-on-exit): once tmux has read its terminal to the end, the reply to
    // one more question comes after the last of the output.
    for (let i = 0; i < DEAD_TRIES; i++) {
      const shown = await this.command(`display-message -p -t ${SESSION} '#{pane_dead}'`);
      if (shown === null || shown[0] === '1') break;
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    this.finish();
  }

  /** The control client went away (the server died with its program, or was stopped). */
  private ended(): void {
    if (!this.exited) this.finish();
  }

  private finish(): void {
    if (this.exited) return;
    this.exited = true;
    clearInterval(this.poll);
    for (const waiting of this.replies.splice(0)) waiting(null);
    const status = readStatus(this.socket);
    stopTmux(this.socket);
    this.client.kill();
    // No status: the program was stopped with its wrapper, by a signal (-1: which one is unknown).
    if (status === null) this.exitListener({ exitCode: 0, signal: -1 });
    else if (status > 128) this.exitListener({ exitCode: status, signal: status - 128 });
    else this.exitListener({ exitCode: status });
  }
}
