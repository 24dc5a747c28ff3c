// Module hooks for record-modules.mjs: append each resolved ES module URL to BENCH_MODULE_LOG.
import { appendFileSync } from 'node:fs';

const log = process.env.BENCH_MODULE_LOG;

export async function resolve(specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context);
  if (log) appendFileSync(log, `esm:${result.url}\n`);
  return result;
}
