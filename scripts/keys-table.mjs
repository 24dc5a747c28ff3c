// The console's key table, generated from the one keymap (ui/keymap.ts via ui/help.ts).
//   node scripts/keys-table.mjs           prints the Markdown table
//   node scripts/keys-table.mjs --write   rewrites it in docs/console.md between <!-- keys:start -->
//                                         and <!-- keys:end -->
//   node scripts/keys-table.mjs --check   exits 1 when docs/console.md's table is not the current one
import fs from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const DOC = join('docs', 'console.md');
const START = '<!-- keys:start -->';
const END = '<!-- keys:end -->';

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

const write = process.argv.includes('--write');
const check = process.argv.includes('--check');
if (!write && !check) {
  process.stdout.write(`${table}\n`);
} else {
  const path = join(ROOT, DOC);
  const doc = fs.readFileSync(path, 'utf8');
  const a = doc.indexOf(START);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) {
    process.stderr.write(`keys-table: ${DOC} has no ${START} … ${END}\n`);
    process.exit(1);
  }
  const next = `${doc.slice(0, a + START.length)}\n${table}\n${doc.slice(b)}`;
  if (check) {
    if (next !== doc) {
      process.stderr.write(`keys-table: ${DOC} is out of date: run node scripts/keys-table.mjs --write\n`);
      process.exit(1);
    }
    process.stderr.write(`keys-table: ${DOC} is current\n`);
  } else {
    fs.writeFileSync(path, next);
    process.stderr.write(`keys-table: ${DOC} updated\n`);
  }
}
