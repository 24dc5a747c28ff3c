// Bundles with esbuild so that headless commands start fast: one file to load instead of hundreds of
// modules. The library (dist/index.js) and the console (dist/console.js, ink and react) are ES
// modules; the CLI is one CommonJS file (dist/cli.cjs, below) that never contains the console. The
// launcher (dist/launcher.cjs, which bin/dreamos.js loads) runs one or the other, never both, so ink and
// react never load for headless commands and a process holds one copy of the engine.
//
// Files are replaced atomically (temp file + rename), chunks before the entry points that import
// them, and old chunks are removed only once they are an hour old: a `dreamos` process that is
// running while a build happens keeps working.

import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { build } from 'esbuild';

const entryPoints = { index: 'src/index.ts' };
if (existsSync('ui/console.tsx')) entryPoints.console = 'ui/console.tsx';

/** What both bundles share. */
const common = {
  outdir: 'dist',
  write: false,
  bundle: true,
  platform: 'node',
  target: 'node20',
  // Dependencies are bundled too: resolving zod's many modules at every start would be most of a
  // short command's time (docs/decisions/code-cache.md).
  // pg is loaded by the postgres backend when a workspace uses it (state/pg/connection.ts); the
  // libraries of the network face (the HTTP API, metrics, MCP, the scout's feed parser and pattern
  // check) by the code that needs them, on first use, so that no other command loads them.
  external: [
    'better-sqlite3',
    'react-devtools-core',
    'pg',
    'hono',
    '@hono/*',
    'prom-client',
    '@modelcontextprotocol/sdk',
    '@rowanmanning/feed-parser',
    'safe-regex2',
    // Live sessions (the pty driver, attach, peek, send): a native addon and the headless terminal.
    '@lydell/node-pty',
    '@xterm/headless',
    '@xterm/addon-serialize',
  ],
  sourcemap: 'linked',
  // Less source text to compile at every start; stack traces still map through the source maps.
  // DREAMOS_NO_MINIFY=1 keeps names readable in CPU profiles (node --cpu-prof).
  minify: !process.env.DREAMOS_NO_MINIFY,
  logLevel: 'warning',
};

const result = await build({
  ...common,
  entryPoints,
  splitting: true,
  format: 'esm',
  jsx: 'automatic',
  // React's production build: the development build doubles the cost of every console frame.
  define: { 'process.env.NODE_ENV': '"production"' },
  // CommonJS dependencies (proper-lockfile) call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __dreamosRequire } from 'node:module'; const require = __dreamosRequire(import.meta.url);",
  },
});

/**
 * In a CommonJS bundle esbuild gives every `import fs from 'node:fs'` a copy of the built-in's
 * exports of its own (__toESM: an object with one getter per export, about a hundred for node:fs),
 * made when the importing module is first evaluated. The CLI has some 75 such imports, and making the
 * copies cost a short command several milliseconds at every start. A default import of a built-in is
 * its module object, so for the CLI each one imports a one-line module instead, shared by all of
 * them, whose default export is that object: the importers read the same functions, through one
 * reference. Named imports (`import { join } from 'node:path'`) already compile to a plain require().
 */
const sharedBuiltins = {
  name: 'shared-builtins',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, (args) => {
      if (args.path.includes('/node_modules/')) return undefined;
      const source = readFileSync(args.path, 'utf8');
      const contents = source.replace(
        /^import (\w+) from '(node:[\w/]+)';$/gm,
        "import $1 from 'shared-builtin:$2';",
      );
      return contents === source ? undefined : { contents, loader: 'ts' };
    });
    b.onResolve({ filter: /^shared-builtin:/ }, (args) => ({
      path: args.path.slice('shared-builtin:'.length),
      namespace: 'shared-builtin',
    }));
    b.onLoad({ filter: /.*/, namespace: 'shared-builtin' }, (args) => ({
      contents: `export default require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

/**
 * The CLI as one CommonJS file, which the launcher runs through a V8 code cache on Node 20 (which has
 * no compile cache for ES modules; docs/decisions/code-cache.md). The console stays the ES module above
 * (ink needs top-level await).
 */
const cliCjs = await build({
  ...common,
  entryPoints: { cli: 'src/cli.ts' },
  outExtension: { '.js': '.cjs' },
  format: 'cjs',
  metafile: true,
  plugins: [sharedBuiltins],
  // A CommonJS file has no import.meta: code that finds files or loads built-ins next to itself gets
  // the bundle's own URL.
  define: { 'process.env.NODE_ENV': '"production"', 'import.meta.url': '__dreamosImportMetaUrl' },
  banner: { js: "var __dreamosImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
});
/** `dreamos` itself: which bundle to run, and the code cache (src/launcher.cts). Node built-ins only. */
const launcher = await build({
  ...common,
  entryPoints: { launcher: 'src/launcher.cts' },
  outExtension: { '.js': '.cjs' },
  format: 'cjs',
});
// What the CLI bundle holds, for the bench's check that ink and react are not in it.
const cliPackages = [
  ...new Set(
    Object.keys(cliCjs.metafile.inputs)
      .map((input) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1])
      .filter(Boolean),
  ),
].sort();

mkdirSync('dist', { recursive: true });
const entries = new Set([
  ...Object.keys(entryPoints).flatMap((name) => [`${name}.js`, `${name}.js.map`]),
  'cli.cjs',
  'cli.cjs.map',
  'launcher.cjs',
  'launcher.cjs.map',
]);
const outputs = [
  ...result.outputFiles,
  ...cliCjs.outputFiles,
  ...launcher.outputFiles,
  {
    path: join(process.cwd(), 'dist', 'cli.packages.json'),
    contents: Buffer.from(`${JSON.stringify(cliPackages)}\n`),
  },
].sort((a, b) => Number(entries.has(basename(a.path))) - Number(entries.has(basename(b.path))));
for (const file of outputs) {
  const tmp = `${file.path}.${process.pid}.tmp`;
  writeFileSync(tmp, file.contents);
  renameSync(tmp, file.path);
}
const fresh = new Set(outputs.map((f) => basename(f.path)));
for (const name of readdirSync('dist')) {
  const path = join('dist', name);
  if (!fresh.has(name) && /\.js(\.map)?$/.test(name) && Date.now() - statSync(path).mtimeMs > 3_600_000)
    rmSync(path);
}

// Declarations for library users (`import { openWorkspace } from 'dreamos'`).
if (!process.argv.includes('--no-types')) {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    stdio: 'inherit',
  });
}
