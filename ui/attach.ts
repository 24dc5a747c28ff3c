/**
 * An attach inside the console (docs/console.md#live-sessions): the console's terminal becomes a
 * `pty` agent's until the detach key, then the console comes back as it was. The same terminal
 * work as `dreamos agent attach` (src/commands/attach.ts), on a terminal that Ink holds:
 *
 * - BLANK: Ink draws an empty frame (App renders nothing while an attach is open); nothing of the
 *   agent is written yet, so that Ink's last throttled frame lands before the agent's screen does.
 * - ATTACHED: the agent's screen is painted, its output (filtered by the session's server) goes to
 *   the terminal as it comes, the operator's keys go to the program, resizes to its terminal.
 *   Ink keeps reading the terminal (and keeps it in raw mode); App ignores its keys meanwhile.
 * - DONE: the detach key, the program's end or a lost connection: the modes the program may have
 *   set are reset and the screen is cleared BEFORE the console is told (it then draws its frame on
 *   a clean screen; a clear in an effect's cleanup would come after that frame and wipe it).
 */
import {
  DEFAULT_DETACH_KEY,
  DETACH_RESET,
  type DetachKey,
  findDetachKey,
  parseDetachKey,
  type SessionClient,
  type SessionEvent,
} from '../src/sessions.js';

/** How long the empty frame stands before the agent's screen is painted (ms). */
export const BLANK_MS = 50;

const CLEAR = '\x1b[0m\x1b[H\x1b[2J';
/**
 * The reset of `dreamos agent attach` leaves the alternate screen; the console lives on it: back
 * onto it, cleared, with the cursor hidden as Ink keeps it.
 */
const BACK_TO_CONSOLE = `${DETACH_RESET}\x1b[?1049h${CLEAR}\x1b[?25l`;

export type AttachPhase = 'blank' | 'attached' | 'done';

export interface AttachEnd {
  /** `detached` by the key; `ended`: the program ended; `lost`: the connection closed. */
  how: 'detached' | 'ended' | 'lost';
  exitCode?: number | null;
  signal?: string | null;
}

/** The detach key: DREAMOS_DETACH_KEY when it names one, else Ctrl-]. */
export function detachKey(env: NodeJS.ProcessEnv = process.env): DetachKey {
  return parseDetachKey(env.DREAMOS_DETACH_KEY ?? '') ?? parseDetachKey(DEFAULT_DETACH_KEY)!;
}

export interface AttachTerminal {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
}

export interface Attach {
  readonly phase: AttachPhase;
  /** End the attach now (the console unmounts): the terminal is reset, `onEnd` is not called. */
  stop(): void;
}

/**
 * Start an attach of `client` (a `write` connection with the `raw` stream) on the console's
 * terminal. Its BLANK phase starts now; `onEnd` is called once the terminal is the console's again.
 */
export function startAttach(
  client: SessionClient,
  terminal: AttachTerminal,
  key: DetachKey,
  onEnd: (end: AttachEnd) => void,
): Attach {
  const { stdin, stdout } = terminal;
  let phase: AttachPhase = 'blank';
  let exit: { exitCode: number | null; signal: string | null } | null = null;
  let unsubscribe: () => void = () => undefined;

  const finish = (end: AttachEnd | null) => {
    if (phase === 'done') return;
    const was = phase;
    phase = 'done';
    clearTimeout(blank);
    if (was === 'attached') {
      unsubscribe();
      stdin.off('data', onKeys);
      stdout.off('resize', onResize);
      stdout.write(BACK_TO_CONSOLE);
    }
    client.close();
    if (end) onEnd(end);
  };
  const onEvent = (event: SessionEvent) => {
    if (event.type === 'output') stdout.write(event.data);
    else if (event.type === 'screen')
      stdout.write(`${CLEAR}${event.screen.ansi ?? event.screen.lines.join('\r\n')}`);
    else if (event.type === 'exit') exit = { exitCode: event.exitCode, signal: event.signal };
    else if (event.type === 'closed') finish(exit ? { how: 'ended', ...exit } : { how: 'lost' });
  };
  const onKeys = (data: string | Buffer) => {
    const text = typeof data === 'string' ? data : data.toString('utf8');
    const at = findDetachKey(text, key);
    if (at === null) {
      client.write(text);
      return;
    }
    if (at.index > 0) client.write(text.slice(0, at.index));
    finish({ how: 'detached' });
  };
  const onResize = () => {
    if (stdout.columns > 0 && stdout.rows > 0) client.resize(stdout.columns, stdout.rows);
  };

  const blank = setTimeout(() => {
    if (phase !== 'blank') return;
    phase = 'attached';
    stdout.write(CLEAR);
    stdin.on('data', onKeys);
    stdout.on('resize', onResize);
    unsubscribe = client.subscribe(onEvent);
    // The program's terminal takes this one's size; the server repaints after a resize.
    if (stdout.columns !== client.info.cols || stdout.rows !== client.info.rows) onResize();
  }, BLANK_MS);

  return {
    get phase() {
      return phase;
    },
    stop: () => finish(null),
  };
}
