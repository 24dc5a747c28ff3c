// The console's diff view on a big diff (issue 14: "the diff view's first frame for a 5,000-line
// diff under 200 ms"), for bench/console.mjs or alone: `node bench/console-diff.mjs` prints one JSON
// document. A git repository in a temporary folder gets a code task whose scripted agent writes
// 5,000 changed lines over 10 files (`dreamos run --until-idle` takes it to review); a fresh
// process mounts the console on it as `dreamos console --attach` does, opens the review view, and
// times `d` (git diff read, parsed, first page drawn) until the frame that shows the diff, 7 times
// (esc and `d` again: each opening reads and parses the diff anew). Bar: median under 200 ms.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
export const DIFF_BAR_MS = 200;
const LINES = 5000;
const FILES = 10;
const OPENS = 7;

/** The repository, its workspace and one task in review with a LINES-line diff. */
export function prepare(root) {
  const dir = fs.mkdtempSync(join(os.tmpdir(), 'dreamos-bench-diff-'));
  const env = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', NODE_ENV: 'production' };
  const id = ['-c', 'user.name=bench', '-c', 'user.email=bench@example.com'];
  const git = (...args) => execFileSync('git', [...id, ...args], { cwd: dir, env, stdio: 'pipe' });
  const cli = (...args) =>
    execFileSync(process.execPath, [join(root, 'bin', 'dreamos.js'), ...args], {
      cwd: dir,
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  git('init', '-q', '-b', 'main');
  fs.writeFileSync(join(dir, '.gitignore'), '.dreamos/\n');
  git('add', '--all');
  git('commit', '-q', '-m', 'first');
  cli('init', '--driver', 'shell');
  const file = join(dir, '.dreamos', 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8'));
  config.agents = [
    {
      id: 'coder',
      name: 'coder',
      role: 'coder',
      driver: { kind: 'command', argv: ['sh', '-c', '{prompt}'] },
    },
  ];
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  const per = LINES / FILES;
  const script = Array.from(
    { length: FILES },
    (_, i) => `seq -f 'line %g of a changed file' 1 ${per} > f${i}.txt`,
  ).join(' && ');
  const task = JSON.parse(
    cli('task', 'add', 'A big change', '--prompt', script, '--role', 'coder', '--json'),
  );
  cli('run', '--until-idle');
  return { dir, home: join(dir, '.dreamos'), id: task.id };
}

function child(root, home, id) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [fileURLToPath(import.meta.url), '--open', root, home, id], {
      env: { ...process.env, NODE_ENV: 'production', GIT_CONFIG_GLOBAL: '/dev/null' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    // Ink restores the cursor on stderr at exit: pass on only readable text.
    p.stderr.on('data', (d) => {
      const text = String(d).replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');
      if (text.trim()) process.stderr.write(text);
    });
    p.on('error', reject);
    p.on('close', (code) =>
      code === 0
        ? resolve(JSON.parse(out.trim().split('\n').pop()))
        : reject(new Error(`diff bench exited ${code}`)),
    );
  });
}

/** In the child: mount the console, open the review view, time `d` until the diff shows. */
async function open(root, home, id) {
  const { Keyboard, Screen } = await import('./ink-terminal.mjs');
  const { performance } = await import('node:perf_hooks');
  const { pathToFileURL } = await import('node:url');
  const { mountConsole } = await import(pathToFileURL(join(root, 'dist', 'console.js')).href);
  const stdout = new Screen();
  const stdin = new Keyboard();
  const press = (key, text) =>
    new Promise((resolve, reject) => {
      const start = performance.now();
      const cpu = cpuNow();
      const timer = setTimeout(() => reject(new Error(`no frame with ${text} after ${key}`)), 20_000);
      const onFrame = (frame) => {
        if (!frame.includes(text)) return;
        clearTimeout(timer);
        stdout.off('frame', onFrame);
        resolve({ ms: performance.now() - start, cpuMs: cpuNow() - cpu });
      };
      stdout.on('frame', onFrame);
      stdin.write(key);
    });
  const { ws, instance } = await mountConsole({ home, attach: true, stdin, stdout, stderr: new Screen() });
  await press('6', id);
  const times = [];
  for (let i = 0; i < OPENS; i++) {
    times.push(await press('d', `${FILES} files changed, +${LINES}`));
    await press('\u001b', 'Review:');
  }
  instance.unmount();
  await ws.close();
  process.stdout.write(`${JSON.stringify({ times })}\n`);
  process.exit(0);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/**
 * CPU time (ms) of this process and of its finished children (git): what the wall time would be on
 * an idle core. The children's part is in clock ticks (Linux, /proc; 0 elsewhere).
 */
function cpuNow() {
  const own = process.cpuUsage();
  let children = 0;
  try {
    const fields = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
    children = ((Number(fields[13]) + Number(fields[14])) * 1000) / 100;
  } catch {
    // not Linux: the console's own time only
  }
  return (own.user + own.system) / 1000 + children;
}

/** @param {{ root?: string }} options root: the folder holding the build (bin/, dist/) to measure. */
export async function benchDiffView(options = {}) {
  const root = options.root ?? ROOT;
  const { dir, home, id } = prepare(root);
  try {
    const { times } = await child(root, home, id);
    const ms = median(times.map((t) => t.ms));
    const r = (n) => Number(n.toFixed(1));
    return {
      lines: LINES,
      files: FILES,
      ms: r(ms),
      cpuMs: r(median(times.map((t) => t.cpuMs))),
      runs: times.map((t) => r(t.ms)),
      loadAverage: os.loadavg().map(r),
      bar: DIFF_BAR_MS,
      pass: ms < DIFF_BAR_MS,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--open') await open(process.argv[3], process.argv[4], process.argv[5]);
else if (process.argv[1] === fileURLToPath(import.meta.url))
  process.stdout.write(`${JSON.stringify(await benchDiffView(), null, 2)}\n`);
