// Event figures (docs/performance.md), each through a real `dreamos serve` on 127.0.0.1:
// - events: a change made by another process (a library user adding tasks, one every 20 ms) until its
//   event arrives on `GET /api/v1/events`: p50 and p99 of the arrival time minus the entry's journal
//   time (one clock, so the difference is the delay);
// - webhooks: the same, until the first delivery attempt reaches a receiver on loopback that answers
//   200 at once.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { EventSourceParserStream } from 'eventsource-parser/stream';
import { serve, spread, stop } from './serving.mjs';

const BARS = { eventP99Ms: 100, webhookP99Ms: 1000 };
const GAP_MS = 20;

/** Tasks added through the library, from this process (not the server's), one every GAP_MS. */
async function addTasks(root, home, count, tag) {
  const { openWorkspace } = await import(pathToFileURL(join(root, 'dist', 'index.js')).href);
  const ws = await openWorkspace({ home: join(home, '.dreamos') });
  try {
    for (let i = 0; i < count; i++) {
      await ws.addTask({ title: `${tag} ${i}`, tags: [tag], hold: true });
      await sleep(GAP_MS);
    }
  } finally {
    await ws.close();
  }
}

async function streamLatency({ root, bin, home, token, samples }) {
  const { child, url } = await serve(bin, home);
  const controller = new AbortController();
  try {
    const res = await fetch(`${url}/events?types=task.created`, {
      headers: { authorization: `Bearer ${token}` },
      signal: controller.signal,
    });
    if (!res.ok) throw new Error(`events: HTTP ${res.status}`);
    const latencies = [];
    const reading = (async () => {
      const events = res.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
      for await (const event of events) {
        const data = JSON.parse(event.data);
        if (!data.tasks?.[0]?.tags.includes('sse')) continue;
        latencies.push(Date.now() - Date.parse(data.at));
        if (latencies.length === samples) return;
      }
    })().catch((error) => {
      if (!controller.signal.aborted) throw error;
    });
    await addTasks(root, home, samples, 'sse');
    await Promise.race([reading, sleep(10_000)]);
    const figures = spread(latencies);
    return {
      ...figures,
      expected: samples,
      bar: `p99 <= ${BARS.eventP99Ms} ms`,
      pass: latencies.length === samples && figures.p99Ms <= BARS.eventP99Ms,
    };
  } finally {
    controller.abort();
    await stop(child);
  }
}

async function webhookLatency({ root, bin, home, samples }) {
  const latencies = new Map();
  const receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      const id = req.headers['webhook-id'];
      const event = JSON.parse(body).data;
      if (!latencies.has(id) && event?.tasks?.[0]?.tags.includes('hook'))
        latencies.set(id, Date.now() - Date.parse(event.at));
      res.writeHead(200).end();
    });
  });
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const added = spawnSync(
    process.execPath,
    [bin, 'webhook', 'add', `http://127.0.0.1:${receiver.address().port}/hook`, '--events', 'task.created'],
    { cwd: home, encoding: 'utf8' },
  );
  if (added.status !== 0) throw new Error(`webhook add: ${added.stderr}`);
  const { child } = await serve(bin, home);
  try {
    // The dispatcher takes the delivering role within its first look.
    await sleep(1000);
    await addTasks(root, home, samples, 'hook');
    for (let waited = 0; latencies.size < samples && waited < 15_000; waited += 50) await sleep(50);
    const figures = spread([...latencies.values()]);
    return {
      ...figures,
      expected: samples,
      bar: `p99 <= ${BARS.webhookP99Ms} ms`,
      pass: latencies.size === samples && figures.p99Ms <= BARS.webhookP99Ms,
    };
  } finally {
    await stop(child);
    receiver.close();
  }
}

export async function benchEvents({ root, samples = 200 } = {}) {
  const home = fs.mkdtempSync(join(os.tmpdir(), 'dreamos-events-bench-'));
  const bin = join(root, 'bin', 'dreamos.js');
  try {
    const run = (...args) => {
      const r = spawnSync(process.execPath, [bin, ...args], { cwd: home, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`dreamos ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    run('init');
    const token = run('token', 'create', '--scope', 'events').trim();
    return {
      method: `${samples} tasks added by another process, one every ${GAP_MS} ms; arrival minus journal time`,
      stream: await streamLatency({ root, bin, home, token, samples }),
      webhook: await webhookLatency({ root, bin, home, samples }),
    };
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}
