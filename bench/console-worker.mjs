// The console bench's child process (see bench/console.mjs). Modes:
//   prepare N            a workspace of N ready tasks, 8 of them claimed by the 8 agents
//   first-frame HOME     time from this process's start to the console's first frame, and to the
//                        first frame with the workspace in it
//   run HOME SECONDS L   keypress-to-frame latencies and memory over a long run with chatty agents
//   cleanup DIR
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Keyboard, press, quantile, Screen } from './ink-terminal.mjs';

const root = process.env.DREAMOS_BENCH_ROOT;
const dist = (name) => pathToFileURL(join(root, 'dist', name)).href;
const [mode, ...args] = process.argv.slice(2);
const done = (result) => {
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Mount the console as `dreamos console --attach` does; resolve with when its first frames came. */
async function render(home) {
  const { mountConsole } = await import(dist('console.js'));
  const stdout = new Screen();
  const stdin = new Keyboard();
  const when = (text) =>
    new Promise((resolve) => {
      const onFrame = (frame) => {
        if (!frame.includes(text)) return;
        stdout.off('frame', onFrame);
        const cpu = process.cpuUsage();
        resolve({ ms: performance.now(), cpuMs: (cpu.user + cpu.system) / 1000 });
      };
      stdout.on('frame', onFrame);
    });
  const first = when('Dream.OS');
  const full = when('Attention:');
  const { ws, instance } = await mountConsole({ home, attach: true, stdin, stdout, stderr: new Screen() });
  return { ws, stdout, stdin, instance, firstFrameAt: await first, fullFrameAt: await full };
}

function memory() {
  globalThis.gc?.();
  globalThis.gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heapUsed };
}

if (mode === 'prepare') {
  const { initWorkspace } = await import(dist('index.js'));
  const dir = fs.mkdtempSync(join(os.tmpdir(), 'dreamos-bench-console-'));
  const ws = await initWorkspace({ dir });
  const n = Number(args[0]);
  await ws.importTasks(
    Array.from({ length: n }, (_, i) => ({
      title: `bench task ${i + 1}`,
      priority: i % 10 ? 'normal' : 'high',
    })),
  );
  for (const agent of ws.config.agents) await ws.claim(agent.id);
  await ws.close();
  done({ home: ws.home, dir });
} else if (mode === 'first-frame') {
  const { instance, ws, firstFrameAt, fullFrameAt } = await render(args[0]);
  instance.unmount();
  await ws.close();
  done({
    firstFrameMs: firstFrameAt.ms,
    firstFrameCpuMs: firstFrameAt.cpuMs,
    fullFrameMs: fullFrameAt.ms,
    fullFrameCpuMs: fullFrameAt.cpuMs,
  });
} else if (mode === 'cleanup') {
  fs.rmSync(args[0], { recursive: true, force: true });
  done({});
} else if (mode === 'run') {
  const [home, seconds, perSecond] = [args[0], Number(args[1]), Number(args[2])];
  const { stdout, stdin, instance, ws } = await render(home);
  const writer = spawn(
    process.execPath,
    [fileURLToPath(new URL('./console-writer.mjs', import.meta.url)), home, String(perSecond)],
    {
      env: process.env,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let writerOut = '';
  writer.stdout.on('data', (d) => {
    writerOut += d;
  });
  // Live updates: when the frame first shows the k-th task added by the other process.
  const seenAt = [];
  let frames = 0;
  stdout.on('frame', (frame) => {
    frames += 1;
    const seen = /BACKLOG \((\d+)\)|Board backlog (\d+)/.exec(frame);
    const count = Number(seen?.[1] ?? seen?.[2] ?? 0);
    const now = Date.now();
    for (let k = seenAt.length + 1; k <= count; k++) seenAt[k - 1] = now;
  });
  const position = (frame) => Number(/ready (\d+)\/\d+/.exec(frame)?.[1] ?? Number.NaN);
  const names = ws.config.agents.map((a) => a.name);
  const latencies = [];
  // Five seconds on the board (j/k down a column of 10,000), five on the dashboard (j/k across the
  // eight agent panes, their logs streaming), and so on; each switch is a view change.
  let view = 'dashboard'; // where the console starts
  let switchAt = 0;
  let row = 1;
  let agent = 0;
  const step = async (measure) => {
    const samples = [];
    const r = Math.random();
    if (performance.now() >= switchAt) {
      view = view === 'board' ? 'dashboard' : 'board';
      switchAt = performance.now() + 5000;
      samples.push({
        kind: 'view',
        ...(view === 'board'
          ? await press(stdout, stdin, '2', (f) => f.includes('READY ('))
          : await press(stdout, stdin, '1', (f) => f.includes('Attention:'))),
      });
    } else if (view === 'board') {
      const down = row < 3 || r < 0.7;
      row += down ? 1 : -1;
      samples.push({
        kind: 'move',
        ...(await press(stdout, stdin, down ? 'j' : 'k', (f) => position(f) === row)),
      });
    } else {
      const down = agent === 0 || (agent < names.length - 1 && r < 0.5);
      agent += down ? 1 : -1;
      const name = `▶ ${names[agent]}`;
      samples.push({
        kind: 'move',
        ...(await press(stdout, stdin, down ? 'j' : 'k', (f) => f.includes(name))),
      });
    }
    if (measure) latencies.push(...samples);
    await sleep(40 + Math.random() * 60);
  };
  // Warm up: the log tails fill, the JIT settles.
  const warmUntil = performance.now() + 5000;
  while (performance.now() < warmUntil) await step(false);
  const before = memory();
  const framesBefore = frames;
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) await step(true);
  const framesPerSecond = (frames - framesBefore) / seconds;
  writer.kill('SIGTERM');
  await new Promise((resolve) => writer.on('close', resolve));
  instance.unmount();
  await sleep(200);
  const after = memory();
  await ws.close();
  const written = JSON.parse(writerOut.trim() || '{"lines":0,"changes":0,"commits":[]}');
  const live = written.commits.map((at, i) => (seenAt[i] === undefined ? null : Math.max(0, seenAt[i] - at)));
  const shown = live.filter((x) => x !== null);
  const ms = latencies.map((l) => l.ms);
  const cpuMs = latencies.map((l) => l.cpuMs);
  done({
    latencies: ms,
    p50: quantile(ms, 0.5),
    p95: quantile(ms, 0.95),
    max: Math.max(...ms),
    cpuP50: quantile(cpuMs, 0.5),
    cpuP95: quantile(cpuMs, 0.95),
    byKind: Object.fromEntries(
      ['move', 'view'].map((kind) => {
        const of = latencies.filter((l) => l.kind === kind);
        const t = of.map((l) => l.ms);
        const c = of.map((l) => l.cpuMs);
        return [
          kind,
          {
            samples: of.length,
            p50: quantile(t, 0.5),
            p95: quantile(t, 0.95),
            cpuP50: quantile(c, 0.5),
            cpuP95: quantile(c, 0.95),
          },
        ];
      }),
    ),
    before,
    after,
    live: {
      samples: shown.length,
      missed: live.length - shown.length,
      p50: quantile(shown, 0.5),
      p95: quantile(shown, 0.95),
    },
    framesPerSecond,
    linesWritten: written.lines,
    boardChanges: written.changes,
  });
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
