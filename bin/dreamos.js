#!/usr/bin/env node
// The `dreamos` command. It runs the compiled CLI, dist/cli.cjs (built by `npm install` or
// `npm run build`), through a V8 code cache: without one, every start compiles the same JavaScript
// again, most of a short command's time. (Node 20 has no compile cache of its own.)
//
// The cache is one file per build of the CLI, named after a checksum of its code, in the user's
// cache folder ($XDG_CACHE_HOME/dreamos or ~/.cache/dreamos, mode 700, used only when it belongs
// to the user and nobody else may write in it). The first run of a build writes it. Any trouble with
// it, or DREAMOS_NO_CODE_CACHE=1: the CLI runs without it, only slower. DREAMOS_CODE_CACHE_REPORT=1
// says on stderr whether the cache was used.
'use strict';
const fs = require('node:fs');
const Module = require('node:module');
const os = require('node:os');
const path = require('node:path');
const vm = require('node:vm');
const { crc32 } = require('node:zlib');

const file = path.join(__dirname, '..', 'dist', 'cli.cjs');
const KEEP_CACHES = 8;
let source;
try {
  source = fs.readFileSync(file, 'utf8');
} catch (error) {
  if (error.code !== 'ENOENT') throw error;
  process.stderr.write('dreamos: not built yet; run `npm install` or `npm run build` first\n');
  process.exit(1);
}

/** Where this build's cache lives, or null when there is no safe place for it. */
function cacheFile() {
  if (process.env.DREAMOS_NO_CODE_CACHE) return null;
  try {
    const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
    const dir = path.join(base, 'dreamos');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = fs.statSync(dir);
    if ((typeof process.getuid === 'function' && st.uid !== process.getuid()) || (st.mode & 0o022) !== 0)
      return null;
    const key = `${process.version}-${process.arch}-${crc32(source).toString(16)}-${source.length}`;
    return path.join(dir, `cli-${key}.v8cache`);
  } catch {
    return null;
  }
}

const cache = cacheFile();
let cachedData;
if (cache) {
  try {
    cachedData = fs.readFileSync(cache);
  } catch {
    // first run of this build
  }
}
const script = new vm.Script(Module.wrap(source), {
  filename: file,
  cachedData,
});
if (process.env.DREAMOS_CODE_CACHE_REPORT) {
  const state = !cache ? 'off' : !cachedData ? 'absent' : script.cachedDataRejected ? 'rejected' : 'used';
  process.stderr.write(`dreamos: code cache ${state}${cache ? ` (${cache})` : ''}\n`);
}
if (cache && (!cachedData || script.cachedDataRejected)) {
  // Written at exit, when the functions this run needed have been compiled too.
  process.once('exit', () => {
    try {
      const tmp = `${cache}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
      fs.renameSync(tmp, cache);
      // Keep the caches of the last few builds (several installations may share the folder).
      const dir = path.dirname(cache);
      const old = fs
        .readdirSync(dir)
        .filter((name) => /^cli-.*\.v8cache$/.test(name))
        .map((name) => ({ name, at: fs.statSync(path.join(dir, name)).mtimeMs }))
        .sort((a, b) => b.at - a.at)
        .slice(KEEP_CACHES);
      for (const { name } of old) fs.rmSync(path.join(dir, name), { force: true });
    } catch {
      // a cache is an optimisation
    }
  });
}
// The console is an ES module: the CLI imports it through this file's import(), which works where
// code compiled from a cache cannot import() by itself.
globalThis.__dreamosImport = (specifier) => import(specifier);
const cli = new Module(file, module);
cli.filename = file;
cli.paths = Module._nodeModulePaths(path.dirname(file));
script
  .runInThisContext()
  .call(cli.exports, cli.exports, Module.createRequire(file), cli, file, path.dirname(file));
