/**
 * The `dreamos` command line (commander), built to dist/cli.cjs. It holds the engine and never the
 * console (ink, react), which the launcher (src/launcher.cts) runs from its own bundle. Errors are one
 * line on stderr with the exit codes of docs/cli.md; `--json` puts machine output on stdout.
 */
import { Command, CommanderError } from 'commander';
import pkg from '../package.json' with { type: 'json' };
import { registerAdmin } from './commands/admin.js';
import { registerAlerts } from './commands/alerts.js';
import { CONSOLE_HINT, consoleNotHere, interactive, registerConsole } from './commands/console.js';
import { registerDb } from './commands/db.js';
import { registerDiscord } from './commands/discord.js';
import { registerMcp } from './commands/mcp.js';
import { registerPlugin } from './commands/plugin.js';
import { registerReview } from './commands/review.js';
import { registerScout } from './commands/scout.js';
import { registerServe } from './commands/serve.js';
import { registerStats } from './commands/stats.js';
import { registerSwarm } from './commands/swarm.js';
import { registerTask } from './commands/task.js';
import { registerToken } from './commands/token.js';
import { registerWebhook } from './commands/webhook.js';
import { consoleRequest } from './console-request.js';
import { DreamError, ExitCode } from './errors.js';
import { reportError, say } from './output.js';
import { exitWhenFlushed, guardOutput } from './process-end.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('dreamos')
    .description('Operator console and headless engine for a swarm of AI agents on a shared task board')
    .version(pkg.version)
    .option('--home <dir>', 'the workspace (default: DREAMOS_HOME, else the nearest .dreamos/ upwards)')
    .option('--json', 'machine output on stdout (human messages stay on stderr)')
    // main() reports usage errors itself: one line on stderr, and JSON on stdout with --json. Commands
    // added below inherit both settings.
    .configureOutput({ outputError: () => {} })
    .exitOverride();
  registerAdmin(program);
  registerTask(program);
  registerConsole(program);
  registerSwarm(program);
  registerStats(program);
  registerAlerts(program);
  registerReview(program);
  registerDb(program);
  registerToken(program);
  registerMcp(program);
  registerWebhook(program);
  registerPlugin(program);
  registerScout(program);
  registerServe(program);
  registerDiscord(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  if (consoleRequest(argv)?.bare) {
    // A bare `dreamos` from a script: the status and a hint (in a terminal the launcher opened the console).
    if (interactive()) throw consoleNotHere();
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

// Only when run as the program (the library imports nothing from here).
guardOutput();
main(process.argv.slice(2)).then(exitWhenFlushed, (error) =>
  exitWhenFlushed(reportError(error, process.argv.includes('--json'))),
);
