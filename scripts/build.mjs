// Bundles the CLI and the library with esbuild so that headless commands start fast (SPEC §8):
// one file to load instead of hundreds of modules. The console (ui/) is a separate chunk that only
// `dreamos` (interactive) imports, so ink and react never load for headless commands.
//
// Files are replaced atomically (temp file + rename), chunks before the entry points that import
// them, and old chunks are removed only once they are an hour old: a `dreamos` process that is
// running while a build happens keeps working.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { build } from 'esbuild';

const entryPoints = { cli: 'src/cli.ts', index: 'src/index.ts' };
if (existsSync('ui/console.tsx')) entryPoints.console = 'ui/console.tsx';

const result = await build({
  entryPoints,
  outdir: 'dist',
  write: false,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Dependencies are bundled too: resolving zod's many modules alone took ~100 ms per start.
  external: ['better-sqlite3', 'react-devtools-core'],
  sourcemap: 'linked',
  // Less source text to compile at every start; stack traces still map through the source maps.
  minify: true,
  logLevel: 'warning',
  jsx: 'automatic',
  // React's production build: the development build doubles the cost of every console frame.
  define: { 'process.env.NODE_ENV': '"production"' },
  // CommonJS dependencies (proper-lockfile) call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __dreamosRequire } from 'node:module'; const require = __dreamosRequire(import.meta.url);",
  },
});

mkdirSync('dist', { recursive: true });
const entries = new Set(Object.keys(entryPoints).flatMap((name) => [`${name}.js`, `${name}.js.map`]));
const outputs = [...result.outputFiles].sort(
  (a, b) => Number(entries.has(basename(a.path))) - Number(entries.has(basename(b.path))),
);
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
