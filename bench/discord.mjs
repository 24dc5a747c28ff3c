// The Discord commands' figure: `dreamos serve` (the real command, on 127.0.0.1) receives signed
// interactions one after another, as Discord sends them: `/dreamos status` (answered at once) and
// `/dreamos task add` (deferred, its answer sent to a fake Discord API on 127.0.0.1), in turn.
// Reported: interaction received → acknowledged, p50 and p99 over both kinds (Discord's limit is 3 s).
// Each deferred answer is awaited before the next interaction, so the load stays one at a time.
//
// `node bench/discord.mjs` prints the figure as JSON; bench/run.mjs may call discordFigure().

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ms, percentile, run, serve, stop } from './serving.mjs';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const APP_ID = '100000000000000001';
const USER = '200000000000000002';
const WARMUP = 10;

/** A fake Discord API: resolves the waiter of each follow-up's interaction token. */
async function fakeDiscord() {
  const waiters = new Map();
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const token = /\/webhooks\/\d+\/([^/]+)\/messages\/@original$/.exec(req.url ?? '')?.[1];
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"1"}');
      if (token) {
        waiters.get(decodeURIComponent(token))?.();
        waiters.delete(decodeURIComponent(token));
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${server.address().port}/api/v10`,
    followUp: (token) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('a deferred answer never reached Discord')), 10_000);
        waiters.set(token, () => {
          clearTimeout(timer);
          resolve();
        });
      }),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

function signed(keys, payload) {
  const body = JSON.stringify(payload);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = crypto.sign(null, Buffer.from(timestamp + body), keys.privateKey).toString('hex');
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-signature-ed25519': signature,
      'x-signature-timestamp': timestamp,
    },
  };
}

function interaction(i) {
  const add = i % 2 === 0;
  const sub = add
    ? [
        {
          name: 'task',
          type: 2,
          options: [
            { name: 'add', type: 1, options: [{ name: 'title', type: 3, value: `Bench task ${i}` }] },
          ],
        },
      ]
    : [{ name: 'status', type: 1, options: [] }];
  return {
    id: String(300000000000000000n + BigInt(i)),
    type: 2,
    application_id: APP_ID,
    token: `bench-token-${i}`,
    data: { id: '1', name: 'dreamos', type: 1, options: sub },
    member: { user: { id: USER } },
  };
}

/**
 * The figure: { ackP50Ms, ackP99Ms, samples }. `root`: the checkout whose `bin/` and `dist/` are
 * measured (built); `interactions`: how many are timed, after a warm-up.
 */
export async function discordFigure({ root = ROOT, interactions = 200, tmpRoot = os.tmpdir() } = {}) {
  const bin = join(root, 'bin', 'dreamos.js');
  const dir = fs.mkdtempSync(join(tmpRoot, 'discord-hook-'));
  const keys = crypto.generateKeyPairSync('ed25519');
  const publicKey = Buffer.from(keys.publicKey.export({ format: 'jwk' }).x, 'base64url').toString('hex');
  const discord = await fakeDiscord();
  let serving = null;
  try {
    const init = await run(bin, ['init'], dir);
    if (init.code !== 0) throw new Error(`init exited ${init.code}: ${init.stderr.trim()}`);
    const file = join(dir, '.dreamos', 'config.json');
    const config = JSON.parse(fs.readFileSync(file, 'utf8'));
    config.discord = {
      applicationId: APP_ID,
      publicKey,
      apiBase: discord.base,
      users: { [USER]: ['admin'] },
    };
    fs.writeFileSync(file, JSON.stringify(config, null, 2));
    serving = await serve(bin, dir);

    const acks = [];
    for (let i = 1; i <= WARMUP + interactions; i++) {
      const payload = interaction(i);
      const { body, headers } = signed(keys, payload);
      const followed = i % 2 === 0 ? discord.followUp(payload.token) : null;
      const start = performance.now();
      const response = await fetch(`${serving.origin}/hooks/discord`, { method: 'POST', headers, body });
      const answer = await response.json();
      const ack = performance.now() - start;
      const expected = i % 2 === 0 ? 5 : 4;
      if (response.status !== 200 || answer.type !== expected)
        throw new Error(
          `interaction ${i} answered ${response.status} ${JSON.stringify(answer).slice(0, 200)}`,
        );
      await followed;
      if (i > WARMUP) acks.push(ack);
    }
    acks.sort((a, b) => a - b);
    return { ackP50Ms: ms(percentile(acks, 50)), ackP99Ms: ms(percentile(acks, 99)), samples: acks.length };
  } finally {
    if (serving) await stop(serving.child);
    await discord.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  process.stdout.write(`${JSON.stringify(await discordFigure(), null, 2)}\n`);
