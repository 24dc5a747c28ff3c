// `npm start`: open the console on a demo workspace in ./demo (created on first use), with the
// orchestrator running the agents in the same process. Without a terminal (piped, CI) it runs the
// swarm headless instead and prints what the agents do.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const demo = join(root, 'demo');
const bin = join(root, 'bin', 'dreamos.js');
const dreamos = (args, options = {}) =>
  spawnSync(process.execPath, [bin, ...args], { cwd: demo, stdio: 'inherit', ...options });

if (!existsSync(join(demo, '.dreamos', 'config.json'))) {
  mkdirSync(demo, { recursive: true });
  const init = dreamos(['init', '--demo']);
  if (init.status !== 0) process.exit(init.status ?? 1);
}
const interactive = process.stdin.isTTY && process.stdout.isTTY;
const result = interactive ? dreamos(['console']) : dreamos(['run', '--until-idle']);
process.exit(result.status ?? 1);
