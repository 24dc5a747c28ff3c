// The GitHub hook's figures: `dreamos serve` (the real command, on 127.0.0.1) receives signed
// `issues` deliveries one after another, as GitHub sends them. Reported: delivery → 202 (p50, p99),
// and delivery → the task visible in the journal to another reader of the workspace (p99). The hook
// makes the task before it answers, so the second is the first plus the reader's catching up.
//
// `node bench/github.mjs` prints the figures as JSON; bench/run.mjs may call githubFigure().

import { createHmac, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ms, percentile, run, serve, stop } from './serving.mjs';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const SECRET = 'bench secret';
const REPO = 'bench/repo';
const WARMUP = 10;

function signedDelivery(number) {
  const body = JSON.stringify({
    action: 'opened',
    issue: {
      number,
      title: `Bench issue ${number}`,
      body: 'Something to do, described in a paragraph or two as an issue would be.',
      html_url: `https://github.com/${REPO}/issues/${number}`,
      labels: [],
    },
    repository: { full_name: REPO },
  });
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'issues',
      'x-github-delivery': randomUUID(),
      'x-hub-signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
    },
  };
}

/**
 * The figures: { ackP99Ms, ackP50Ms, toTaskP99Ms, samples }. `root`: the checkout whose `bin/` and
 * `dist/` are measured (built); `deliveries`: how many are timed, after a warm-up.
 */
export async function githubFigure({ root = ROOT, deliveries = 200, tmpRoot = os.tmpdir() } = {}) {
  const bin = join(root, 'bin', 'dreamos.js');
  const { openWorkspace } = await import(pathToFileURL(join(root, 'dist', 'index.js')).href);
  const dir = fs.mkdtempSync(join(tmpRoot, 'github-hook-'));
  let serving = null;
  let reader = null;
  try {
    const init = await run(bin, ['init'], dir);
    if (init.code !== 0) throw new Error(`init exited ${init.code}: ${init.stderr.trim()}`);
    const file = join(dir, '.dreamos', 'config.json');
    const config = JSON.parse(fs.readFileSync(file, 'utf8'));
    config.github = { repos: [REPO], poll: false };
    fs.writeFileSync(file, JSON.stringify(config, null, 2));
    serving = await serve(bin, dir, { ...process.env, DREAMOS_GITHUB_WEBHOOK_SECRET: SECRET });
    reader = await openWorkspace({ home: join(dir, '.dreamos'), readOnly: true });

    const acks = [];
    const toTask = [];
    for (let i = 1; i <= WARMUP + deliveries; i++) {
      const { body, headers } = signedDelivery(i);
      const start = performance.now();
      const response = await fetch(`${serving.origin}/hooks/github`, { method: 'POST', headers, body });
      const ack = performance.now() - start;
      const answer = await response.json();
      if (response.status !== 202 || answer.outcome !== 'created')
        throw new Error(`delivery ${i} answered ${response.status} ${JSON.stringify(answer).slice(0, 200)}`);
      const deadline = Date.now() + 10_000;
      for (;;) {
        reader.refresh();
        if (reader.view.dedupe(`gh:${REPO}#${i}`)) break;
        if (Date.now() > deadline) throw new Error(`the task of delivery ${i} never appeared`);
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (i > WARMUP) {
        acks.push(ack);
        toTask.push(performance.now() - start);
      }
    }
    acks.sort((a, b) => a - b);
    toTask.sort((a, b) => a - b);
    return {
      ackP99Ms: ms(percentile(acks, 99)),
      ackP50Ms: ms(percentile(acks, 50)),
      toTaskP99Ms: ms(percentile(toTask, 99)),
      samples: acks.length,
    };
  } finally {
    await reader?.close();
    if (serving) await stop(serving.child);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  process.stdout.write(`${JSON.stringify(await githubFigure(), null, 2)}\n`);
