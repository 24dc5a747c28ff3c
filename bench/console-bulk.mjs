// The console's figures for acting on many tasks (docs/performance.md), for `npm run bench` or alone:
// `node bench/console-bulk.mjs` prints one JSON document. It measures the build in dist/.
//
// - keypress to frame while marked: the console on a 10,000-task board with 500 tasks marked
//   (`:mark tag:picked`); j/k down the ready column, the time from the key to the frame that shows
//   the cursor on its new row, and the CPU time the console used meanwhile (the latency on an idle
//   core). The same keys before anything is marked are recorded beside it. Bar: p95 under 50 ms.
// - bulk retry: `:retry failed` on 1,000 failed tasks, confirmed with `y`; the time from `y` to the
//   frame that says they changed (one journal entry), and whether a frame showed the progress line
//   before it. Bar: under 2 s, with the progress shown.
//
// The console runs in a child process (the worker mode of this file), so the bench process's own
// event loop does not blur the figures.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Keyboard, press, quantile, Screen } from './ink-terminal.mjs';

/** Keys on a 10,000-task board with 500 marks: 5 s before giving up. */
const pressKey = (screen, keyboard, key, expect, timeoutMs = 5000) =>
  press(screen, keyboard, key, expect, timeoutMs);

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const BARS = { keyToFrameP95Ms: 50, bulkRetryMs: 2000 };
const TASKS = 10_000;
const FAILED = 1_000;
const MARKED = 500;
const KEYS = 300;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function type(keyboard, text) {
  for (const ch of text) {
    keyboard.write(ch);
    await sleep(15);
  }
}

/** 10,000 tasks: 1,000 failed, 500 of the ready ones tagged to be marked. */
async function prepare(dist) {
  const { initWorkspace } = await import(dist('index.js'));
  const dir = fs.mkdtempSync(join(os.tmpdir(), 'dreamos-bench-bulk-'));
  const ws = await initWorkspace({ dir });
  const tasks = await ws.importTasks(
    Array.from({ length: TASKS }, (_, i) => ({
      title: `bench task ${i + 1}`,
      priority: i % 10 ? 'normal' : 'high',
      tags: i >= FAILED && i < FAILED + MARKED ? ['picked'] : [],
    })),
  );
  // The failed ones, as one change (how they failed does not matter to a retry).
  const at = new Date().toISOString();
  await ws.apply(({ view, by }) => {
    const failed = tasks.slice(0, FAILED).map((t) => {
      const task = view.task(t.id);
      return {
        ...task,
        status: 'failed',
        attempts: 1,
        updatedAt: at,
        history: [...task.history, { from: task.status, to: 'failed', by, at, why: 'bench' }],
      };
    });
    return { change: { op: 'fail', by, tasks: failed }, result: null };
  });
  await ws.close();
  return { home: ws.home, dir };
}

async function work(root) {
  const dist = (name) => pathToFileURL(join(root, 'dist', name)).href;
  const { home, dir } = await prepare(dist);
  try {
    const { mountConsole } = await import(dist('console.js'));
    const stdout = new Screen();
    const stdin = new Keyboard();
    const full = new Promise((resolve) => {
      const on = (f) => {
        if (!f.includes('Attention:')) return;
        stdout.off('frame', on);
        resolve();
      };
      stdout.on('frame', on);
    });
    const { ws, instance } = await mountConsole({ home, attach: true, stdin, stdout, stderr: new Screen() });
    await full;
    await pressKey(stdout, stdin, '2', (f) => f.includes('READY ('));
    const position = (frame) => Number(/ready (\d+)\/\d+/.exec(frame)?.[1] ?? Number.NaN);
    let row = 1;
    /** j/k down the ready column: the latencies after a warm-up. */
    const keys = async (count) => {
      const out = [];
      for (let i = 0; i < count; i++) {
        const down = row < 3 || Math.random() < 0.7;
        row += down ? 1 : -1;
        const sample = await pressKey(stdout, stdin, down ? 'j' : 'k', (f) => position(f) === row);
        if (i >= 20) out.push(sample);
        await sleep(20 + Math.random() * 30);
      }
      return out;
    };
    // The same keys with nothing marked, for comparison, then with 500 marked.
    const unmarked = await keys(KEYS / 2);
    await pressKey(stdout, stdin, ':', (f) => f.includes('Commands'));
    await type(stdin, 'mark tag:picked');
    await pressKey(stdout, stdin, '\r', (f) => f.includes(`${MARKED} marked`));
    const latencies = await keys(KEYS);

    await pressKey(stdout, stdin, ':', (f) => f.includes('Commands'));
    await type(stdin, 'retry failed');
    await pressKey(stdout, stdin, '\r', (f) => f.includes(`Retry: ${FAILED} tasks?`));
    const seqBefore = ws.view.seq;
    let progressAt = null;
    const start = performance.now();
    const onProgress = (f) => {
      if (progressAt === null && f.includes(`retry: ${FAILED} tasks…`))
        progressAt = performance.now() - start;
    };
    stdout.on('frame', onProgress);
    const { ms: bulkMs } = await pressKey(
      stdout,
      stdin,
      'y',
      (f) => f.includes(`retry: ${FAILED} tasks changed in one step`),
      30_000,
    );
    stdout.off('frame', onProgress);
    ws.refresh();
    const { entries } = await ws.history.tail(5);
    const entriesWritten = entries.filter((e) => e.seq > seqBefore).length;
    instance.unmount();
    await ws.close();
    return {
      latencies,
      unmarked,
      bulkMs,
      progressAt,
      entriesWritten,
      retried: entries.at(-1)?.tasks?.length ?? 0,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchConsoleBulk(options = {}) {
  const root = options.root ?? ROOT;
  const out = await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--worker', root], {
      env: { ...process.env, NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let text = '';
    child.stdout.on('data', (d) => {
      text += d;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(text.trim().split('\n').pop())) : reject(new Error(`exit ${code}`)),
    );
  });
  const r = (n) => Number(n.toFixed(1));
  const figures = (samples) => {
    const ms = samples.map((s) => s.ms);
    const cpu = samples.map((s) => s.cpuMs);
    return {
      samples: samples.length,
      p50Ms: r(quantile(ms, 0.5)),
      p95Ms: r(quantile(ms, 0.95)),
      maxMs: r(Math.max(...ms)),
      // CPU time the console used between the key and its frame (the latency on an idle core).
      cpuP50Ms: r(quantile(cpu, 0.5)),
      cpuP95Ms: r(quantile(cpu, 0.95)),
    };
  };
  const marked = figures(out.latencies);
  return {
    board: TASKS,
    marked: MARKED,
    keyToFrameWhileMarked: {
      ...marked,
      bar: BARS.keyToFrameP95Ms,
      pass: marked.p95Ms < BARS.keyToFrameP95Ms,
    },
    // The same keys before anything was marked, for comparison.
    keyToFrameUnmarked: figures(out.unmarked),
    bulkRetry: {
      tasks: FAILED,
      ms: r(out.bulkMs),
      progressShownAtMs: out.progressAt === null ? null : r(out.progressAt),
      journalEntries: out.entriesWritten,
      tasksInEntry: out.retried,
      bar: BARS.bulkRetryMs,
      pass: out.bulkMs < BARS.bulkRetryMs && out.progressAt !== null && out.entriesWritten === 1,
    },
    loadAverage: os.loadavg().map(r),
  };
}

if (process.argv[2] === '--worker') {
  const result = await work(process.argv[3]);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${JSON.stringify(await benchConsoleBulk(), null, 2)}\n`);
}
