// What the benches of `dreamos serve` share: starting it on a free port of 127.0.0.1 and stopping it,
// running a `dreamos` command without blocking (fakes answer from the bench's own process), and
// percentiles of the latencies measured.
import { spawn } from 'node:child_process';

/** The p-th percentile (0-100) of values sorted ascending. */
export const percentile = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];

/** Milliseconds to two decimals, for the JSON document. */
export const ms = (value) => Number(value.toFixed(2));

/** p50 and p99 of some latencies, in milliseconds. */
export function spread(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50Ms: ms(percentile(sorted, 50)), p99Ms: ms(percentile(sorted, 99)), samples: sorted.length };
}

/** `dreamos ARGS` in `cwd`, without blocking this process; resolves with its exit code and stderr. */
export function run(bin, args, cwd, env = process.env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd, env });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

/** `dreamos serve --json` in `dir`; resolves once it listens, with the child, its origin and its API's url. */
export function serve(bin, dir, env = process.env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'serve', '--listen', '127.0.0.1:0', '--json'], {
      cwd: dir,
      env,
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.stdout.on('data', (d) => {
      stdout += d;
      if (!stdout.includes('\n')) return;
      const { origin, url } = JSON.parse(stdout.split('\n')[0]);
      resolve({ child, origin, url });
    });
    child.on('close', (code) => reject(new Error(`serve exited ${code}: ${stderr.trim().slice(0, 300)}`)));
  });
}

/** Stop a child with SIGTERM and wait for it to end. */
export async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.removeAllListeners('close');
  const closed = new Promise((resolve) => child.once('close', resolve));
  child.kill('SIGTERM');
  await closed;
}
