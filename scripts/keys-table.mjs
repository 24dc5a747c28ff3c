// The console's key table, generated from the one keymap (ui/keymap.ts via ui/help.ts).
//   node scripts/keys-table.mjs           prints the Markdown table
//   node scripts/keys-table.mjs --write   rewrites it in docs/console.md between <!-- keys:start -->
//                                         and <!-- keys:end -->
//   node scripts/keys-table.mjs --check   exits 1 when docs/console.md's table is not the current one
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { generatedSection } from './generated-section.mjs';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const DOC = join('docs', 'console.md');

const bundle = await build({
  entryPoints: [join(ROOT, 'ui', 'help.ts')],
  bundle: true,
  write: false,
  format: 'esm',
  platform: 'node',
  logLevel: 'warning',
});
const code = bundle.outputFiles[0].text;
const { keyTable } = await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
const table = keyTable();

generatedSection({
  root: ROOT,
  doc: DOC,
  marker: 'keys',
  script: 'keys-table',
  content: table,
  argv: process.argv,
});
