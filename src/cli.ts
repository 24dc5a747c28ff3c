/**
 * The `dreamos` command line (commander). Headless commands load only the engine; the console (ink,
 * react) is imported lazily by the interactive entry. Errors are one line on stderr with the exit
 * codes of SPEC §7; `--json` puts machine output on stdout.
 */
import { Command, CommanderError } from 'commander';
import pkg from '../package.json' with { type: 'json' };
import { registerAdmin } from './commands/admin.js';
import { registerAlerts } from './commands/alerts.js';
import { CONSOLE_HINT, interactive, openConsole, registerConsole } from './commands/console.js';
import { registerStats } from './commands/stats.js';
import { registerSwarm } from './commands/swarm.js';
import { registerTask } from './commands/task.js';
import { DreamError, ExitCode } from './errors.js';
import { reportError, say } from './output.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('dreamos')
    .description('Operator console and headless engine for a swarm of AI agents on a shared task board')
    .version(pkg.version)
    .option('--home <dir>', 'the workspace (default: DREAMOS_HOME, else the nearest .dreamos/ upwards)')
    .option('--json', 'machine output on stdout (human messages stay on stderr)')
    // main() reports usage errors itself: one line on stderr, and JSON on stdout with --json.
    .configureOutput({ outputError: () => {} })
    .exitOverride();
  registerAdmin(program);
  registerTask(program);
  registerConsole(program);
  registerSwarm(program);
  registerStats(program);
  registerAlerts(program);
  program.commands.forEach(function exitOverride(c: Command) {
    c.exitOverride();
    c.commands.forEach(exitOverride);
  });
  return program;
}

/** The global options alone (`dreamos --home DIR`), or null when a command is named. */
function onlyGlobals(argv: string[]): { home?: string } | null {
  const found: { home?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--json') continue;
    if (arg === '--home' && i + 1 < argv.length) found.home = argv[++i];
    else if (arg.startsWith('--home=')) found.home = arg.slice('--home='.length);
    else return null;
  }
  return found;
}

export async function main(argv: string[]): Promise<number> {
  const bare = onlyGlobals(argv);
  if (bare) {
    // A bare `dreamos`: the console in a terminal; from a script, the status and a hint.
    if (interactive()) return openConsole(bare).catch((error) => reportError(error, false));
    say(CONSOLE_HINT);
    return main([...argv, 'status']);
  }
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return ExitCode.ok;
      // A command group run without a subcommand prints its help to stderr: a usage error.
      if (error.code === 'commander.help') return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
      const message = `${error.message.replace(/^error: /, '')} (run with --help for usage)`;
      return reportError(new DreamError('E_USAGE', message), argv.includes('--json'));
    }
    return reportError(error, argv.includes('--json'));
  }
}

// `dreamos task list --json | head`: a reader that stops early is not an error worth a stack trace.
// Everything the command changed was journaled before it printed.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  if (terminalGone(error)) return;
  throw error;
});
process.stderr.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE' && !terminalGone(error)) throw error;
});

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
 * runs empty. At that point Node 20 can wait for ever for V8's background tasks
 * (NodePlatform::DrainTasks, nodejs/node#54918): a `dreamos task show` in this project's test suite
 * once never exited, and its SIGTERM handlers (the lock library's) could not run to end it. This
 * skips that wait; it does not make Node's shutdown immune to the bug (process.exit still joins
 * V8's worker threads). Every command has finished its work, closed its workspace and printed by now.
 */
function exitWhenFlushed(code: number): void {
  process.exitCode = code;
  let pending = 2;
  const flushed = () => {
    pending -= 1;
    if (pending === 0) process.exit(code);
  };
  process.stdout.write('', flushed);
  process.stderr.write('', flushed);
}

// Only when run as the program (the library imports nothing from here).
main(process.argv.slice(2)).then(exitWhenFlushed, (error) =>
  exitWhenFlushed(reportError(error, process.argv.includes('--json'))),
);
