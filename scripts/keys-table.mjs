// The console's key table, generated from the one keymap (ui/keymap.ts via ui/help.ts).
//   node scripts/keys-table.mjs            prints the Markdown table
//   node scripts/keys-table.mjs --readme   rewrites it in README.md between <!-- keys:start --> and
//                                          <!-- keys:end --> (inside the console section)
import fs from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
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

if (!process.argv.includes('--readme')) {
  process.stdout.write(`${table}\n`);
} else {
  const path = join(ROOT, 'README.md');
  const readme = fs.readFileSync(path, 'utf8');
  const start = '<!-- keys:start -->';
  const end = '<!-- keys:end -->';
  const a = readme.indexOf(start);
  const b = readme.indexOf(end);
  const section = [readme.indexOf('<!-- console:start -->'), readme.indexOf('<!-- console:end -->')];
  if (a < 0 || b < a || a < section[0] || b > section[1]) {
    process.stderr.write(
      'keys-table: README.md has no <!-- keys:start --> … <!-- keys:end --> inside the console section\n',
    );
    process.exit(1);
  }
  fs.writeFileSync(path, `${readme.slice(0, a + start.length)}\n${table}\n${readme.slice(b)}`);
  process.stderr.write('keys-table: README.md updated\n');
}
