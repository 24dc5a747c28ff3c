/**
 * `dreamos console [--attach] [--read-only]`, and what a bare `dreamos` does: the console in a
 * terminal, else the status summary and a hint. The console (ink, react) is imported only here, and
 * only when it runs, so headless commands never load it.
 */
import type { Command } from 'commander';
import { say } from '../output.js';
import { globals } from './common.js';
import { loadConsole } from './load-console.js';

export interface ConsoleFlags {
  home?: string;
  attach?: boolean;
  readOnly?: boolean;
}

export async function openConsole(flags: ConsoleFlags): Promise<number> {
  // React's production build is selected at build time (scripts/build.mjs defines NODE_ENV).
  const { runConsole } = await loadConsole();
  return runConsole({
    ...(flags.home ? { home: flags.home } : {}),
    attach: Boolean(flags.attach),
    readOnly: Boolean(flags.readOnly),
  });
}

export const interactive = () => Boolean(process.stdin.isTTY && process.stdout.isTTY);

export const CONSOLE_HINT =
  'dreamos: not a terminal, so this is the status; in a terminal `dreamos` opens the console (`dreamos --help` lists the commands)';

export function registerConsole(program: Command): void {
  program
    .command('console')
    .description('the interactive console: agents, board, alerts, all from the keyboard')
    .option('--attach', 'watch and steer only; the agents run elsewhere (`dreamos run`)')
    .option('--read-only', 'hide every command that changes the workspace (implies --attach)')
    .action(async (o: { attach?: boolean; readOnly?: boolean }, command: Command) => {
      if (!interactive()) {
        say(
          'dreamos: the console needs a terminal; use `dreamos status` or `dreamos task list` from scripts',
        );
        process.exitCode = 2;
        return;
      }
      const options = globals(command);
      process.exitCode = await openConsole({ ...o, ...(options.home ? { home: options.home } : {}) });
    });
}
