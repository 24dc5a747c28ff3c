/** How every command speaks: `--json` puts machine output on stdout and human messages on stderr. */
import { DreamError, type ErrorCode } from './errors.js';
import { jsonText, oneLine } from './sanitize.js';

export interface OutputOptions {
  json?: boolean;
}

export function emit(options: OutputOptions, data: unknown, human: () => string): void {
  if (options.json) process.stdout.write(`${jsonText(data, 2)}\n`);
  else {
    const text = human();
    if (text) process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }
}

/** A message for the person at the terminal; never mixed into machine output. */
export function say(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** One line on stderr, stripped of control sequences (a message may quote user input); JSON on stdout with --json. */
export function reportError(error: unknown, json: boolean): number {
  if (error instanceof DreamError) {
    if (json) process.stdout.write(`${JSON.stringify(error.toJSON())}\n`);
    process.stderr.write(`dreamos: ${oneLine(error.message, 1000)}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  const code: ErrorCode = 'E_INTERNAL';
  if (json) process.stdout.write(`${JSON.stringify({ error: { code, message, exitCode: 1 } })}\n`);
  process.stderr.write(`dreamos: ${oneLine(message, 1000)}\n`);
  if (process.env.DREAMOS_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  return 1;
}

/** "1 open alert", "2 open alerts". */
export const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length)));
  return rows
    .map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '))
    .join('\n');
}
