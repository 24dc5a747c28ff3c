// A generated section of a Markdown file, between `<!-- NAME:start -->` and `<!-- NAME:end -->`:
// printed, rewritten (--write) or checked (--check: exit 1 when the file's copy is not current).
import fs from 'node:fs';
import { join } from 'node:path';

/**
 * @param {{ root: string, doc: string, marker: string, script: string, content: string, argv: string[] }} o
 */
export function generatedSection({ root, doc, marker, script, content, argv }) {
  const write = argv.includes('--write');
  const check = argv.includes('--check');
  if (!write && !check) {
    process.stdout.write(`${content}\n`);
    return;
  }
  const start = `<!-- ${marker}:start -->`;
  const end = `<!-- ${marker}:end -->`;
  const path = join(root, doc);
  const text = fs.readFileSync(path, 'utf8');
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) {
    process.stderr.write(`${script}: ${doc} has no ${start} … ${end}\n`);
    process.exit(1);
  }
  const next = `${text.slice(0, a + start.length)}\n${content}\n${text.slice(b)}`;
  if (check) {
    if (next !== text) {
      process.stderr.write(`${script}: ${doc} is out of date: run node scripts/${script}.mjs --write\n`);
      process.exit(1);
    }
    process.stderr.write(`${script}: ${doc} is current\n`);
  } else {
    fs.writeFileSync(path, next);
    process.stderr.write(`${script}: ${doc} updated\n`);
  }
}
