/**
 * `dreamos agent attach ID`: the operator's terminal becomes the agent's, full screen, until the
 * detach key. The agent's screen is painted on the terminal's alternate screen (what the operator
 * had stays underneath), keys go to the program as the terminal sends them, and on detach every
 * mode the program may have set is reset before the operator's screen comes back.
 */
import {
  DETACH_RESET,
  type DetachKey,
  findDetachKey,
  type SessionClient,
  type SessionEvent,
} from '../sessions.js';

const ENTER = '\x1b[?1049h\x1b[0m\x1b[H\x1b[2J';
const REPAINT = '\x1b[0m\x1b[H\x1b[2J';

export interface AttachEnd {
  /** `detached` by the key; `ended`: the program ended; `lost`: the connection closed. */
  how: 'detached' | 'ended' | 'lost';
  exitCode?: number | null;
  signal?: string | null;
}

/** Runs the attach on this process's terminal; resolves once the terminal is the operator's again. */
export function attachTerminal(client: SessionClient, key: DetachKey): Promise<AttachEnd> {
  const { stdin, stdout } = process;
  return new Promise<AttachEnd>((resolve) => {
    let finished = false;
    let exit: { exitCode: number | null; signal: string | null } | null = null;
    const finish = (end: AttachEnd) => {
      if (finished) return;
      finished = true;
      unsubscribe();
      stdin.off('data', onKeys);
      stdout.off('resize', onResize);
      for (const signal of SIGNALS) process.off(signal, onSignal);
      stdin.setRawMode(false);
      stdin.pause();
      stdout.write(DETACH_RESET);
      client.close();
      resolve(end);
    };
    const onEvent = (event: SessionEvent) => {
      if (event.type === 'output') stdout.write(event.data);
      else if (event.type === 'screen')
        stdout.write(`${REPAINT}${event.screen.ansi ?? event.screen.lines.join('\r\n')}`);
      else if (event.type === 'exit') exit = { exitCode: event.exitCode, signal: event.signal };
      else if (event.type === 'closed') finish(exit ? { how: 'ended', ...exit } : { how: 'lost' });
    };
    const onKeys = (data: string) => {
      const at = findDetachKey(data, key);
      if (at === null) {
        client.write(data);
        return;
      }
      if (at.index > 0) client.write(data.slice(0, at.index));
      finish({ how: 'detached' });
    };
    const onResize = () => client.resize(stdout.columns, stdout.rows);
    const onSignal = () => finish({ how: 'detached' });

    stdout.write(ENTER);
    stdin.setRawMode(true);
    stdin.setEncoding('utf8');
    stdin.on('data', onKeys);
    stdin.resume();
    stdout.on('resize', onResize);
    for (const signal of SIGNALS) process.once(signal, onSignal);
    const unsubscribe = client.subscribe(onEvent);
    // The program's terminal takes this one's size; the server repaints after a resize.
    if (stdout.columns !== client.info.cols || stdout.rows !== client.info.rows) onResize();
  });
}

const SIGNALS = ['SIGTERM', 'SIGHUP', 'SIGINT'] as const;
