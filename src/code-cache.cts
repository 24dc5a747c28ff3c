/**
 * Compiled code kept between runs of `dreamos`: without it every start compiles the same JavaScript
 * again, most of a short command's time (docs/decisions/code-cache.md). Node 22.1 and later keep it
 * themselves (module.enableCompileCache). Node 20 has no compile cache of its own, so there the CLI's
 * bundle (CommonJS for that reason) runs through vm.Script with a V8 code cache this file keeps.
 *
 * The cache lives in the user's cache folder ($XDG_CACHE_HOME/dreamos or ~/.cache/dreamos, mode 700)
 * and is used only when that folder belongs to the user and nobody else may write in it, since what
 * is loaded from it runs as the user. On Node 20 it is one file per build of the CLI, named after a
 * checksum of its code, written at the end of the first run of that build. Any trouble with it, or
 * DREAMOS_NO_CODE_CACHE=1: the code runs without it, only slower. DREAMOS_CODE_CACHE_REPORT=1 says on
 * stderr whether the cache was used.
 */
import fs = require('node:fs');
import Module = require('node:module');
import os = require('node:os');
import path = require('node:path');
import vm = require('node:vm');
import zlib = require('node:zlib');

/** The V8 caches of this many builds are kept (several installations may share the folder). */
const KEEP_CACHES = 8;

/**
 * Node's own compile cache (22.1 and later), absent from Node 20's typings. It answers with the folder
 * in use when the cache is on (also when NODE_COMPILE_CACHE turned it on first), and without one when
 * it failed or NODE_DISABLE_COMPILE_CACHE is set.
 */
type EnableCompileCache = (directory: string) => { directory?: string };
const enableCompileCache = (Module as unknown as { enableCompileCache?: EnableCompileCache })
  .enableCompileCache;

/** The user's cache folder for dreamos, or null when there is no safe one. */
function cacheFolder(): string | null {
  if (process.env.DREAMOS_NO_CODE_CACHE) return null;
  try {
    const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
    const dir = path.join(base, 'dreamos');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = fs.statSync(dir);
    const mine = typeof process.getuid !== 'function' || st.uid === process.getuid();
    return mine && (st.mode & 0o022) === 0 ? dir : null;
  } catch {
    // No home folder, a read-only file system, a cache path that is a file: run without a cache.
    return null;
  }
}

function report(state: string, where: string | null): void {
  if (process.env.DREAMOS_CODE_CACHE_REPORT)
    process.stderr.write(`dreamos: code cache ${state}${where ? ` (${where})` : ''}\n`);
}

/**
 * Turn on Node's own compile cache for every module loaded from now on; the folder it uses, or null
 * on Node 20 (which has none) and when there is no safe folder for it.
 */
function enableNodeCompileCache(): string | null {
  if (!enableCompileCache) return null;
  const folder = cacheFolder();
  return folder ? (enableCompileCache(path.join(folder, 'node')).directory ?? null) : null;
}

/** Run a CommonJS bundle as the program, with its compiled code cached (see above). */
function runCached(file: string): void {
  if (enableCompileCache) {
    const directory = enableNodeCompileCache();
    report(directory ? 'node' : 'off', directory);
    require(file);
    return;
  }
  const source = fs.readFileSync(file, 'utf8');
  const folder = cacheFolder();
  const cache = folder ? path.join(folder, `cli-${cacheKey(source)}.v8cache`) : null;
  const cachedData = cache ? readCache(cache) : undefined;
  const script = new vm.Script(Module.wrap(source), {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
  });
  report(!cache ? 'off' : !cachedData ? 'absent' : script.cachedDataRejected ? 'rejected' : 'used', cache);
  // Written at exit, when the functions this run needed have been compiled too.
  if (cache && (!cachedData || script.cachedDataRejected))
    process.once('exit', () => writeCache(cache, script));
  const bundle = new Module(file, module);
  bundle.filename = file;
  const dir = path.dirname(file);
  script
    .runInThisContext()
    .call(bundle.exports, bundle.exports, Module.createRequire(file), bundle, file, dir);
}

/** V8 rejects a cache made by another Node or for other code: one file per both. */
function cacheKey(source: string): string {
  return `${process.version}-${process.arch}-${zlib.crc32(source).toString(16)}-${source.length}`;
}

function readCache(cache: string): Buffer | undefined {
  try {
    return fs.readFileSync(cache);
  } catch {
    // The first run of this build, or a cache that cannot be read: this run writes it.
    return undefined;
  }
}

function writeCache(cache: string, script: vm.Script): void {
  try {
    const tmp = `${cache}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
    fs.renameSync(tmp, cache);
    const dir = path.dirname(cache);
    const old = fs
      .readdirSync(dir)
      .filter((name) => /^cli-.*\.v8cache$/.test(name))
      .map((name) => ({ name, at: fs.statSync(path.join(dir, name)).mtimeMs }))
      .sort((a, b) => b.at - a.at)
      .slice(KEEP_CACHES);
    for (const { name } of old) fs.rmSync(path.join(dir, name), { force: true });
  } catch {
    // A cache is an optimisation: a full disk or a folder removed meanwhile only costs the next start.
  }
}

export = { enableNodeCompileCache, runCached };
