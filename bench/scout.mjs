// The scout's figure: 10 RSS sources of 500 items each, served by a local fake feed server, read by
// one `dreamos scout run` (the real command, as a cron job runs it), parsed, matched, deduplicated
// and turned into 5,000 tasks. Reported: the command's wall time and items per second; then the same
// run again, which must make nothing (every item seen), for the record.
//
// `node bench/scout.mjs` prints the figure as JSON; bench/run.mjs calls scoutFigure().

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const SOURCES = 10;
const ITEMS = 500;

const feedOf = (source) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>bench ${source}</title><link>http://127.0.0.1/</link><description>bench</description>\n${Array.from(
    { length: ITEMS },
    (_, i) =>
      `<item><title>Story ${i} of feed ${source}</title><guid>${source}-${i}</guid><link>https://example.com/${source}/${i}</link><description>Some text about item ${i}, long enough to look like a summary of a story in a feed.</description></item>`,
  ).join('\n')}\n</channel></rss>\n`;

/** `dreamos ARGS` in `cwd`, without blocking this process (the feed server answers meanwhile). */
function dreamos(bin, args, cwd) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function timedRun(bin, dir) {
  const start = performance.now();
  const r = await dreamos(bin, ['scout', 'run', '--json'], dir);
  const seconds = (performance.now() - start) / 1000;
  if (r.code !== 0) throw new Error(`scout run exited ${r.code}: ${r.stderr.trim().slice(0, 300)}`);
  const run = JSON.parse(r.stdout);
  return {
    seconds,
    items: run.sources.reduce((n, s) => n + s.items, 0),
    made: run.sources.reduce((n, s) => n + s.made.length, 0),
  };
}

/**
 * The figure: { wallSeconds, itemsPerSecond } of the first run, with what it read and made, and the
 * second run's time. `bin`: the dreamos command to run (default: this checkout's); `tmpRoot`: where
 * the workspace is made (removed afterwards).
 */
export async function scoutFigure({ bin = join(ROOT, 'bin', 'dreamos.js'), tmpRoot = os.tmpdir() } = {}) {
  const feeds = Array.from({ length: SOURCES }, (_, i) => feedOf(i));
  const server = http.createServer((req, res) => {
    const i = Number(/^\/feed\/(\d+)$/.exec(req.url ?? '')?.[1]);
    if (!(i >= 0 && i < SOURCES)) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/rss+xml' }).end(feeds[i]);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  const dir = fs.mkdtempSync(join(tmpRoot, 'scout-'));
  try {
    const init = await dreamos(bin, ['init'], dir);
    if (init.code !== 0) throw new Error(`init exited ${init.code}: ${init.stderr.trim()}`);
    const file = join(dir, '.dreamos', 'config.json');
    const config = JSON.parse(fs.readFileSync(file, 'utf8'));
    config.scout = {
      sources: Array.from({ length: SOURCES }, (_, i) => ({
        id: `feed-${i}`,
        kind: 'rss',
        url: `${base}/feed/${i}`,
        maxTasksPerRun: ITEMS,
      })),
    };
    fs.writeFileSync(file, JSON.stringify(config, null, 2));

    const first = await timedRun(bin, dir);
    if (first.items !== SOURCES * ITEMS || first.made !== SOURCES * ITEMS)
      throw new Error(
        `the scout read ${first.items} items and made ${first.made} tasks, not ${SOURCES * ITEMS}`,
      );
    const again = await timedRun(bin, dir);
    if (again.made !== 0) throw new Error(`a second run made ${again.made} tasks from items already seen`);
    return {
      wallSeconds: Number(first.seconds.toFixed(3)),
      itemsPerSecond: Math.round(first.items / first.seconds),
      sources: SOURCES,
      items: first.items,
      tasks: first.made,
      rerun: { wallSeconds: Number(again.seconds.toFixed(3)), tasks: again.made },
    };
  } finally {
    await new Promise((resolve) => server.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  process.stdout.write(`${JSON.stringify(await scoutFigure(), null, 2)}\n`);
