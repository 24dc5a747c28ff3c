/**
 * Handing the terminal over to another program (an editor) and taking it back: while it is away,
 * Ink's frames are not written, raw mode is off and the console reads no key (a paused stdin leaves
 * the keys to the program), and the main screen shows; on return the console's screen is cleared
 * and drawn again in full.
 */
import { useStdin, useStdout } from 'ink';
import { useMemo } from 'react';
import type { Handover } from './editor.js';

const ALT_SCREEN_ON = '\u001b[?1049h';
const ALT_SCREEN_OFF = '\u001b[?1049l';
const SHOW_CURSOR = '\u001b[?25h';
const HIDE_CURSOR = '\u001b[?25l';
const CLEAR = '\u001b[2J\u001b[H';

type ReadHandle = { reading?: boolean; readStart?: () => number; readStop?: () => number };
type Internals = { _handle?: ReadHandle; _readableState?: { reading?: boolean } };

/**
 * Stop reading the terminal, so that every key goes to the editor. Node stops a paused
 * process.stdin itself, on its `pause` event, but a stream read through `readable` (as Ink reads
 * it) is not flowing and never emits `pause`: libuv would go on reading, and the keys it takes
 * would never reach the editor (seen in tmux). This does what Node's own handler does; on return
 * reading starts again. True when it was reading.
 */
function holdReading(stdin: NodeJS.ReadStream, hold: boolean): boolean {
  const internals = stdin as unknown as Internals;
  const handle = internals._handle;
  if (!handle?.readStop || !handle.readStart) return false;
  if (hold && handle.reading) {
    if (internals._readableState) internals._readableState.reading = false;
    handle.reading = false;
    handle.readStop();
    return true;
  }
  if (!hold && !handle.reading) {
    handle.reading = true;
    handle.readStart();
  }
  return false;
}

/** `redraw` makes the next frame differ from the last one, so that Ink writes all of it. */
export function useHandover(redraw: () => void): Handover {
  const { stdin, setRawMode, isRawModeSupported } = useStdin();
  const { stdout } = useStdout();
  return useMemo(() => {
    let held: NodeJS.WriteStream['write'] | null = null;
    let own = false;
    let stopped = false;
    return {
      suspend() {
        if (held) {
          stopped = holdReading(stdin, true) || stopped;
          return;
        }
        if (isRawModeSupported) setRawMode(false);
        stdin.pause();
        stopped = holdReading(stdin, true);
        if (stdout.isTTY) stdout.write(`${ALT_SCREEN_OFF}${SHOW_CURSOR}`);
        held = stdout.write;
        own = Object.hasOwn(stdout, 'write');
        stdout.write = (() => true) as NodeJS.WriteStream['write'];
      },
      resume() {
        if (!held) return;
        if (own) stdout.write = held;
        else delete (stdout as { write?: unknown }).write;
        held = null;
        if (stdout.isTTY) stdout.write(`${ALT_SCREEN_ON}${CLEAR}${HIDE_CURSOR}`);
        if (stopped) holdReading(stdin, false);
        stopped = false;
        if (isRawModeSupported) setRawMode(true);
        redraw();
      },
    };
  }, [stdin, stdout, setRawMode, isRawModeSupported, redraw]);
}
