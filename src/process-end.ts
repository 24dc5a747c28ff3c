/**
 * How a `dreamos` process ends, the CLI's and the console's alike: it exits once its output is
 * written (docs/decisions/exit-when-flushed.md), and a reader or a terminal that goes away is not an
 * error worth a stack trace.
 */

/**
 * Handle the failures of writing to stdout and stderr. Called once by each program's entry
 * (src/cli.ts, ui/console.tsx), never by the library.
 */
export function guardOutput(): void {
  // `dreamos task list --json | head`: a reader that stops early. Everything the command changed was
  // journaled before it printed.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    if (terminalGone(error)) return;
    throw error;
  });
  process.stderr.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE' && !terminalGone(error)) throw error;
  });
}

/**
 * The terminal went away (its window closed, its tmux session killed: writes fail with EIO). Nothing
 * more can be shown, but `run` and the console must go on to their clean stop (SIGHUP starts it)
 * instead of dying half-way with their tasks still marked working.
 */
function terminalGone(error: NodeJS.ErrnoException): boolean {
  return error.code === 'EIO' || error.code === 'ERR_STREAM_DESTROYED';
}

/**
 * Exit as soon as stdout and stderr have taken everything written, instead of when the event loop
 * runs empty, where Node 20 can wait for ever for V8's background tasks (nodejs/node#54918; see
 * docs/decisions/exit-when-flushed.md). Every command has finished its work, closed its workspace
 * and printed by now.
 */
export function exitWhenFlushed(code: number): void {
  process.exitCode = code;
  let pending = 2;
  const flushed = () => {
    pending -= 1;
    if (pending === 0) process.exit(code);
  };
  process.stdout.write('', flushed);
  process.stderr.write('', flushed);
}
