/**
 * The `dreamos` command; bin/dreamos.js only loads this file, built to dist/launcher.cjs. It runs the
 * CLI's bundle, dist/cli.cjs, with its compiled code cached (src/code-cache.cts).
 */
import path = require('node:path');
import codeCache = require('./code-cache.cjs');

// The console is an ES module: the CLI imports it through this file's import(), which works where
// code compiled from a cache cannot import() by itself.
(globalThis as { __dreamosImport?: (specifier: string) => Promise<unknown> }).__dreamosImport = (specifier) =>
  import(specifier);
codeCache.runCached(path.join(__dirname, 'cli.cjs'));
