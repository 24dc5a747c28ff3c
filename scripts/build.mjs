// Bundles the CLI and the library with esbuild so that headless commands start fast (SPEC §8):
// one file to load instead of hundreds of modules. The console (ui/) is a separate chunk that only
// `dreamos` (interactive) imports, so ink and react never load for headless commands.

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';

// Old chunks would pile up (their names carry a hash).
for (const name of existsSync('dist') ? readdirSync('dist') : []) {
  if (name.endsWith('.js') || name.endsWith('.js.map')) rmSync(`dist/${name}`);
}

import { build } from 'esbuild';

const entryPoints = { cli: 'src/cli.ts', index: 'src/index.ts' };
if (existsSync('ui/console.tsx')) entryPoints.console = 'ui/console.tsx';

await build({
  entryPoints,
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Dependencies are bundled too: resolving zod's many modules alone took ~100 ms per start.
  external: ['better-sqlite3', 'react-devtools-core'],
  sourcemap: 'linked',
  logLevel: 'warning',
  jsx: 'automatic',
  // CommonJS dependencies (proper-lockfile) call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __dreamosRequire } from 'node:module'; const require = __dreamosRequire(import.meta.url);",
  },
});

// Declarations for library users (`import { openWorkspace } from 'dreamos'`).
if (!process.argv.includes('--no-types')) {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    stdio: 'inherit',
  });
}
