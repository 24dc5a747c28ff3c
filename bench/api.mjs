// API read figures (docs/performance.md): `GET /api/v1/tasks?limit=50` on a 10,000-task board at 50
// connections, through `dreamos serve` with a token, beside two node:http servers in processes of
// their own: `bare` answers the same page as a hand-written server would, reading the board through
// the library and making its JSON again whenever the board has moved on, as the API does (the bar
// is against it); `static` answers the very bytes the API gave, read once at its start: the ceiling
// of an HTTP server on this machine, for the record. They take turns, best of BENCH_REPEATS
// (default 3), each for BENCH_API_SECONDS (default 5), with autocannon in this process.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import autocannon from 'autocannon';

const TASKS = 10_000;
const CONNECTIONS = 50;
const BARS = { ratioToBare: 0.5, p99Ms: 20 };

/** A child process's first stdout line, parsed as JSON. */
function firstLine(child) {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const end = out.indexOf('\n');
      if (end >= 0) resolve(JSON.parse(out.slice(0, end)));
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before it listened`)));
  });
}

function load(url, headers, seconds) {
  return autocannon({ url, connections: CONNECTIONS, duration: seconds, headers });
}

export async function benchApi({ root, repeats = 3, seconds = 5 } = {}) {
  const dir = fs.mkdtempSync(join(os.tmpdir(), 'dreamos-api-bench-'));
  const bin = join(root, 'bin', 'dreamos.js');
  const dreamos = (...args) => spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: 'utf8' });
  const children = [];
  try {
    dreamos('init');
    const tasks = Array.from({ length: TASKS }, (_, i) => ({
      title: `task ${i}`,
      prompt: `do step ${i} of the work`,
      tags: ['bench'],
    }));
    fs.writeFileSync(join(dir, 'tasks.json'), JSON.stringify(tasks));
    dreamos('task', 'import', 'tasks.json');
    const token = JSON.parse(dreamos('token', 'create', '--scope', 'read', '--json').stdout).token;
    const headers = { authorization: `Bearer ${token}` };

    const serve = spawn(process.execPath, [bin, 'serve', '--listen', '127.0.0.1:0', '--json'], { cwd: dir });
    children.push(serve);
    const { origin } = await firstLine(serve);
    const path = '/api/v1/tasks?limit=50';
    const body = await (await fetch(`${origin}${path}`, { headers })).text();
    fs.writeFileSync(join(dir, 'body.json'), body);
    fs.writeFileSync(
      join(dir, 'static.mjs'),
      `import fs from 'node:fs';
import http from 'node:http';
const body = fs.readFileSync(process.argv[2]);
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
`,
    );
    fs.writeFileSync(
      join(dir, 'bare.mjs'),
      `import http from 'node:http';
import { openWorkspace } from ${JSON.stringify(pathToFileURL(join(root, 'dist', 'index.js')).href)};
const ws = await openWorkspace({ home: process.argv[2], readOnly: true });
// The page is made again only when the board has moved on, as the API does.
let seq = -1;
let body = '';
const server = http.createServer((req, res) => {
  ws.refresh();
  if (ws.view.seq !== seq) {
    seq = ws.view.seq;
    const tasks = ws.listTasks();
    const items = tasks.slice(0, 50);
    body = JSON.stringify({ items, total: tasks.length, limit: 50, offset: 0, nextCursor: items.at(-1).id });
  }
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
`,
    );
    const servers = {};
    for (const [name, arg] of [
      ['static', join(dir, 'body.json')],
      ['bare', join(dir, '.dreamos')],
    ]) {
      const child = spawn(process.execPath, [join(dir, `${name}.mjs`), arg]);
      children.push(child);
      servers[name] = `http://127.0.0.1:${(await firstLine(child)).port}/`;
    }

    // A short run of each first: the figures are of warm code.
    await load(`${origin}${path}`, headers, 1);
    for (const url of Object.values(servers)) await load(url, {}, 1);
    const runs = { api: [], bare: [], static: [] };
    for (let i = 0; i < repeats; i++) {
      runs.api.push(await load(`${origin}${path}`, headers, seconds));
      runs.bare.push(await load(servers.bare, {}, seconds));
      runs.static.push(await load(servers.static, {}, seconds));
    }
    const best = (list) => list.reduce((x, y) => (y.requests.average > x.requests.average ? y : x));
    const figures = (r) => ({
      requestsPerSecond: r.requests.average,
      p50Ms: r.latency.p50,
      p99Ms: r.latency.p99,
    });
    const api = best(runs.api);
    const errors = runs.api.reduce((n, r) => n + r.errors + r.non2xx, 0);
    const ratio = api.requests.average / best(runs.bare).requests.average;
    return {
      request: `GET ${path} on ${TASKS.toLocaleString('en-US')} tasks, ${CONNECTIONS} connections, best of ${repeats} × ${seconds} s`,
      api: { ...figures(api), errors },
      bare: figures(best(runs.bare)),
      static: figures(best(runs.static)),
      ratioToBare: {
        value: Math.round(ratio * 1000) / 1000,
        bar: `>= ${BARS.ratioToBare}`,
        pass: ratio >= BARS.ratioToBare && errors === 0,
      },
      p99: { value: api.latency.p99, unit: 'ms', bar: `< ${BARS.p99Ms}`, pass: api.latency.p99 < BARS.p99Ms },
    };
  } finally {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
