/**
 * The `dreamos` command; bin/dreamos.js only loads this file, built to dist/launcher.cjs.
 *
 * The console (ink, react: ES modules with top-level await) is its own bundle, dist/console.js; every
 * other command runs the CLI's bundle, dist/cli.cjs, with its compiled code cached (src/code-cache.cts).
 * Each bundle holds a copy of the engine, so a process loads exactly one of them: this file sends
 * `dreamos` and `dreamos console` in a terminal straight to the console, before either is loaded.
 * Without a terminal they go to the CLI, which prints the status or says the console needs one.
 */
import path = require('node:path');
import codeCache = require('./code-cache.cjs');
import request = require('./console-request.js');

type ConsoleModule = typeof import('../ui/console.js');

/** Both ends of a terminal. node:tty is loaded only here: a headless command may never need it. */
function inTerminal(): boolean {
  const tty = require('node:tty') as typeof import('node:tty');
  return tty.isatty(0) && tty.isatty(1);
}

function openConsole(asked: request.ConsoleRequest): void {
  // Node 22.1 and later cache the console's compiled code too; Node 20 has no cache for ES modules.
  codeCache.enableNodeCompileCache();
  const url = require('node:url') as typeof import('node:url');
  (import(url.pathToFileURL(path.join(__dirname, 'console.js')).href) as Promise<ConsoleModule>).then(
    ({ startConsole }) => startConsole(asked),
    (error: unknown) => {
      process.stderr.write(`dreamos: cannot load the console: ${String(error)}\n`);
      process.exit(1);
    },
  );
}

/** A clone where `npm install` (which builds dist/) has not run yet: say so, not a stack trace. */
function built(file: string): boolean {
  if (require('node:fs').existsSync(file)) return true;
  process.stderr.write('dreamos: not built yet; run `npm install` or `npm run build` first\n');
  process.exitCode = 1;
  return false;
}

const asked = request.consoleRequest(process.argv.slice(2));
if (asked && inTerminal()) openConsole(asked);
else if (built(path.join(__dirname, 'cli.cjs'))) codeCache.runCached(path.join(__dirname, 'cli.cjs'));
