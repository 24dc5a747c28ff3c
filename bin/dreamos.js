#!/usr/bin/env node
// Shim: the compiled CLI does everything (SPEC §9). Built by `npm install` (prepare) or `npm run build`.
import('../dist/cli.js').catch((error) => {
  if (error && error.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write('dreamos: not built yet; run `npm install` or `npm run build` first\n');
    process.exit(1);
  }
  throw error;
});
