// Live sessions (BENCH_ONLY=pty): a keystroke sent by an attached client until the program's echo
// of it arrives on that client's stream, as `dreamos agent attach` paints it. The program is a
// `pty` agent of a real `dreamos run` (a small raw-mode echo program standing in for an agent CLI);
// the path measured is the attach client's socket, the session server, the pseudo-terminal, the
// program, the headless terminal that parses its output, the filter and back. Reported: p50, p95
// and p99 over KEYS keystrokes sent one at a time, 10 ms apart; the bar is p95 under 30 ms.
//
// `node bench/pty.mjs` prints the figure as JSON; bench/run.mjs calls ptyFigure().

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const KEYS = 300;
const BAR_P95_MS = 30;

const ECHO = `process.stdin.setRawMode(true);
process.stdout.write('ready> ');
process.stdin.on('data', (d) => process.stdout.write(d));`;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const round = (n) => Number(n.toFixed(2));

export async function ptyFigure({ root = ROOT, tmpRoot = os.tmpdir() } = {}) {
  const bin = join(root, 'bin', 'dreamos.js');
  const { connectSession, sessionSocketPath } = await import(
    pathToFileURL(join(root, 'dist', 'index.js')).href
  );
  const dir = fs.mkdtempSync(join(tmpRoot, 'pty-'));
  const cli = (...args) => spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: 'utf8' });
  cli('init');
  const echo = join(dir, 'echo.mjs');
  fs.writeFileSync(echo, ECHO);
  const configFile = join(dir, '.dreamos', 'config.json');
  const config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
  config.agents[0].driver = { kind: 'pty', argv: [process.execPath, echo] };
  fs.writeFileSync(configFile, JSON.stringify(config));
  cli('task', 'add', 'echo keys');
  const orchestrator = spawn(process.execPath, [bin, 'run', '--agents', 'agent-1'], {
    cwd: dir,
    stdio: 'ignore',
  });
  try {
    const socket = sessionSocketPath(join(dir, '.dreamos'), 'agent-1');
    let client = null;
    for (let i = 0; i < 400 && client === null; i++) {
      client = await connectSession(socket, { mode: 'write', stream: 'raw' }).catch(() => null);
      if (client === null) await sleep(50);
    }
    if (client === null) throw new Error('the pty agent never served its session');
    let waiting = null;
    client.subscribe((event) => {
      const data =
        event.type === 'output' ? event.data : event.type === 'screen' ? event.screen.lines.join('') : '';
      if (waiting && data.includes(waiting.key)) {
        waiting.resolve(performance.now());
        waiting = null;
      }
    });
    const latencies = [];
    for (let i = 0; i < KEYS; i++) {
      // Letters only, never one the previous echo ends with.
      const key = String.fromCharCode(97 + (i % 26));
      const echoed = new Promise((resolve) => {
        waiting = { key, resolve };
      });
      const sent = performance.now();
      client.write(key);
      latencies.push((await echoed) - sent);
      await sleep(10);
    }
    client.close();
    const sorted = [...latencies].sort((a, b) => a - b);
    const p95 = pct(sorted, 95);
    return {
      keys: KEYS,
      p50Ms: round(pct(sorted, 50)),
      p95Ms: round(p95),
      p99Ms: round(pct(sorted, 99)),
      bar: `p95 under ${BAR_P95_MS} ms`,
      pass: p95 < BAR_P95_MS,
    };
  } finally {
    orchestrator.kill('SIGTERM');
    await new Promise((resolve) => orchestrator.once('exit', resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${JSON.stringify(await ptyFigure(), null, 2)}\n`);
}
