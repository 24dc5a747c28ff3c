// The console with live sessions (BENCH_ONLY=console-pty): 8 `pty` agents of a real `dreamos run`,
// each running a program that prints 200 lines/s, while the console (in its own process, as
// `dreamos console --attach` mounts it) shows their live screens in its dashboard panes. A key (j/k
// across the eight panes) is written to the console's input and the time until the frame that shows
// its effect is taken, as bench/console.mjs does. Bar: p95 under 50 ms. Memory: the console
// process's RSS sampled every second over the run (BENCH_CONSOLE_SECONDS, default 60), after a
// 5 s warm-up: start, end and peak; "flat" is taken as the console bench's bar, growth under 64 MB.
//
// `node bench/console-pty.mjs` prints the figure as JSON; bench/run.mjs calls consolePtyFigure().

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Keyboard, press, quantile, Screen } from './ink-terminal.mjs';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const AGENTS = 8;
const LINES_PER_SECOND = 200;
const BAR_P95_MS = 50;
const BAR_RSS_GROWTH_MB = 64;

// 200 lines a second, in ten bursts of 20, each line different (a counter and the time).
const CHATTY = `let n = 0;
process.stdout.write('working\\r\\n');
setInterval(() => {
  let out = '';
  for (let i = 0; i < ${LINES_PER_SECOND / 10}; i++) out += 'line ' + (++n) + ' of the build at ' + Date.now() + ': compiling module ' + (n % 97) + '\\r\\n';
  process.stdout.write(out);
}, 100);`;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const r1 = (n) => Number(n.toFixed(1));
const mb = (bytes) => r1(bytes / 2 ** 20);

export async function consolePtyFigure({ root = ROOT, tmpRoot = os.tmpdir(), seconds } = {}) {
  const runSeconds = seconds ?? Number(process.env.BENCH_CONSOLE_SECONDS ?? 60);
  const bin = join(root, 'bin', 'dreamos.js');
  const dir = fs.mkdtempSync(join(tmpRoot, 'console-pty-'));
  const cli = (...args) => spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: 'utf8' });
  cli('init');
  const chatty = join(dir, 'chatty.mjs');
  fs.writeFileSync(chatty, CHATTY);
  const configFile = join(dir, '.dreamos', 'config.json');
  const config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
  const agents = config.agents.slice(0, AGENTS);
  for (const agent of agents) agent.driver = { kind: 'pty', argv: [process.execPath, chatty] };
  fs.writeFileSync(configFile, JSON.stringify(config));
  // One task for each agent (a role names an agent by its id too).
  for (const agent of agents) cli('task', 'add', `chatty ${agent.id}`, '--role', agent.id);
  const orchestrator = spawn(process.execPath, [bin, 'run'], { cwd: dir, stdio: 'ignore' });
  try {
    const sockets = join(dir, '.dreamos', 'sessions');
    for (let i = 0; i < 400; i++) {
      const live = fs.existsSync(sockets) ? fs.readdirSync(sockets).filter((f) => f.endsWith('.sock')) : [];
      if (live.length >= AGENTS) break;
      if (i === 399) throw new Error(`only ${live.length} of ${AGENTS} pty agents served a session`);
      await sleep(50);
    }
    return await worker(root, join(dir, '.dreamos'), runSeconds);
  } finally {
    orchestrator.kill('SIGTERM');
    await new Promise((resolve) => orchestrator.once('exit', resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The console in a child process of its own (`--expose-gc`), so that its memory is its own. */
function worker(root, home, seconds) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--expose-gc', fileURLToPath(import.meta.url), 'worker', home, String(seconds)],
      {
        env: { ...process.env, NODE_ENV: 'production', DREAMOS_BENCH_ROOT: root },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      const text = String(d).replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');
      if (text.trim()) process.stderr.write(text);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`console-pty worker exited with ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()));
      } catch (error) {
        reject(new Error(`console-pty worker printed no result: ${error.message}`));
      }
    });
  });
}

async function runWorker(home, seconds) {
  const dist = (name) => pathToFileURL(join(process.env.DREAMOS_BENCH_ROOT, 'dist', name)).href;
  const { mountConsole } = await import(dist('console.js'));
  const stdout = new Screen();
  const stdin = new Keyboard();
  let liveFrames = 0;
  stdout.on('frame', (frame) => {
    if (frame.includes('of the build')) liveFrames += 1;
  });
  const { ws, instance } = await mountConsole({ home, attach: true, stdin, stdout, stderr: new Screen() });
  const names = ws.config.agents.map((a) => a.name);
  let agent = 0;
  const step = async () => {
    const down = agent === 0 || (agent < names.length - 1 && Math.random() < 0.5);
    agent += down ? 1 : -1;
    const name = `▶ ${names[agent]}`;
    const sample = await press(stdout, stdin, down ? 'j' : 'k', (f) => f.includes(name));
    await sleep(40 + Math.random() * 60);
    return sample;
  };
  // Warm up: the panes connect to their sessions, the JIT settles.
  const warmUntil = performance.now() + 5000;
  while (performance.now() < warmUntil) await step();
  globalThis.gc?.();
  const rss = [process.memoryUsage().rss];
  const sampler = setInterval(() => rss.push(process.memoryUsage().rss), 1000);
  const framesBefore = liveFrames;
  const samples = [];
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) samples.push(await step());
  const latencies = samples.map((s) => s.ms);
  // CPU time this process used meanwhile: what the wall time would be on an idle core.
  const cpu = samples.map((s) => s.cpuMs);
  clearInterval(sampler);
  globalThis.gc?.();
  rss.push(process.memoryUsage().rss);
  const liveFramesPerSecond = (liveFrames - framesBefore) / seconds;
  instance.unmount();
  await ws.close();
  const p95 = quantile(latencies, 0.95);
  const growth = rss.at(-1) - rss[0];
  return {
    agents: AGENTS,
    linesPerSecondPerAgent: LINES_PER_SECOND,
    seconds,
    keyToFrame: {
      samples: latencies.length,
      p50Ms: r1(quantile(latencies, 0.5)),
      p95Ms: r1(p95),
      maxMs: r1(Math.max(...latencies)),
      cpuP50Ms: r1(quantile(cpu, 0.5)),
      cpuP95Ms: r1(quantile(cpu, 0.95)),
      bar: `p95 under ${BAR_P95_MS} ms`,
      pass: p95 < BAR_P95_MS,
    },
    liveFramesPerSecond: r1(liveFramesPerSecond),
    rss: {
      startMB: mb(rss[0]),
      endMB: mb(rss.at(-1)),
      peakMB: mb(Math.max(...rss)),
      growthMB: mb(growth),
      bar: `growth under ${BAR_RSS_GROWTH_MB} MB`,
      pass: growth < BAR_RSS_GROWTH_MB * 2 ** 20,
    },
    loadAverage: os.loadavg().map(r1),
  };
}

if (process.argv[2] === 'worker') {
  const result = await runWorker(process.argv[3], Number(process.argv[4]));
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${JSON.stringify(await consolePtyFigure(), null, 2)}\n`);
}
