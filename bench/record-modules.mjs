// Preload (`node --import ./bench/record-modules.mjs ...`): records every module the process loads into
// the file named by BENCH_MODULE_LOG. ES modules are seen by a resolve hook (it runs on the loader
// thread), CommonJS modules are read from require.cache when the process exits.
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const log = process.env.BENCH_MODULE_LOG;
if (log) {
  register('./resolve-hook.mjs', import.meta.url);
  const require = createRequire(import.meta.url);
  process.on('exit', () => {
    const urls = Object.keys(require.cache).map((path) => `cjs:${path}`);
    if (urls.length > 0) appendFileSync(log, `${urls.join('\n')}\n`);
  });
}
