/**
 * `dreamos console [--attach] [--read-only] [--serve [HOST:PORT]]`, and what a bare `dreamos` does without a terminal: the
 * status summary and a hint. In a terminal the launcher (src/launcher.cts) sends both to the console's
 * own bundle before this CLI is loaded, so headless commands never load ink or react and no process
 * holds two copies of the engine. Here the command is only its help and its refusal without a terminal.
 */
import type { Command } from 'commander';
import { say } from '../output.js';

export const interactive = () => Boolean(process.stdin.isTTY && process.stdout.isTTY);

export const CONSOLE_HINT =
  'dreamos: not a terminal, so this is the status; in a terminal `dreamos` opens the console (`dreamos --help` lists the commands)';

/**
 * The console asked of the CLI in a terminal: only when dist/cli.cjs runs without the launcher, which
 * would have opened the console itself.
 */
export function consoleNotHere(): Error {
  return new Error('the console opens through the `dreamos` command (bin/dreamos.js), not dist/cli.cjs');
}

export function registerConsole(program: Command): void {
  program
    .command('console')
    .description('the interactive console: agents, board, alerts, all from the keyboard')
    .option('--attach', 'watch and steer only; the agents run elsewhere (`dreamos run`)')
    .option('--read-only', 'hide every command that changes the workspace (implies --attach)')
    .option('--serve [host:port]', 'also serve the HTTP API (docs/api.md), on 127.0.0.1:7420 unless given')
    .action(() => {
      if (interactive()) throw consoleNotHere();
      say('dreamos: the console needs a terminal; use `dreamos status` or `dreamos task list` from scripts');
      process.exitCode = 2;
    });
}
