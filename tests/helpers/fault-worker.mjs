// A writer process for the state fault suite (tests/system/state/): it opens a workspace through the built
// library and makes random lifecycle transitions as one agent, racing the other workers. After each
// awaited transaction it appends one acknowledgement line to its ack file (appendFileSync, before the
// next operation), so a SIGKILL at any instant leaves only acknowledgements of durable changes.
//
//   node fault-worker.mjs '{"home":…,"agent":"agent-3","acks":"/tmp/…/w3.jsonl","seed":3,"target":260}'
//
// `target`: stop after this many acknowledged transitions (omit it to run until killed).
// Prints "ready" on stdout once the workspace is open.
import fs from 'node:fs';
import { DreamError, openWorkspace } from '../../dist/index.js';

const args = JSON.parse(process.argv[2] ?? '{}');
const { home, agent, acks, seed = 1, target = Number.POSITIVE_INFINITY } = args;
const flushEvery = args.flushEvery ?? 40;
const reopenEvery = args.reopenEvery ?? 90;
const maxOps = args.maxOps ?? Number.POSITIVE_INFINITY;

/** Refusals a racing writer must expect: another process moved the task first. */
const EXPECTED = new Set([
  'E_INVALID_TRANSITION',
  'E_CONFLICT',
  'E_NOT_FOUND',
  'E_NOTHING_TO_CLAIM',
  'E_CYCLE',
]);

// mulberry32: reproducible per worker.
let rngState = seed >>> 0;
function random() {
  rngState = (rngState + 0x6d2b79f5) >>> 0;
  let t = rngState;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (list) => (list.length === 0 ? undefined : list[Math.floor(random() * list.length)]);
const PRIORITIES = ['critical', 'high', 'normal', 'low'];

function log(record) {
  fs.appendFileSync(acks, `${JSON.stringify({ w: agent, pid: process.pid, ...record })}\n`);
}

/** The suite set leases that outlive the run (longLeases): none expires behind a worker's back. */
async function open() {
  return openWorkspace({ home, actor: agent, snapshotEvery: 1_000_000_000 });
}

/** What the shared writer (state/writer/) did in this process, over every time it opened the workspace. */
const shared = { served: 0, asked: 0, recovered: 0, direct: 0 };
async function close() {
  for (const key of Object.keys(shared)) shared[key] += ws.writer?.stats[key] ?? 0;
  await ws.close();
}

let ws = await open();
process.stdout.write('ready\n');

/**
 * Acknowledge one task's new state: the journal seq that holds it (the `rev` of the state the change
 * returned: by the time the view is read, another process may have changed the task again) and its
 * last history entry.
 */
function ack(op, task) {
  log({
    op,
    id: task.id,
    status: task.status,
    seq: task.rev ?? null,
    hist: task.history.length,
    last: task.history[task.history.length - 1],
  });
}

function tasksIn(store) {
  return [...ws.view.inStore(store)];
}

const OPS = [
  ['add', 16],
  ['import', 3],
  ['claim', 24],
  ['complete', 14],
  ['fail', 8],
  ['renew', 7],
  ['cancel', 6],
  ['retry', 7],
  ['promote', 5],
  ['move', 5],
  ['edit', 5],
];
const TOTAL = OPS.reduce((n, [, w]) => n + w, 0);
function chooseOp() {
  let r = random() * TOTAL;
  for (const [op, w] of OPS) {
    r -= w;
    if (r < 0) return op;
  }
  return 'claim';
}

let n = 0;
let acked = 0;
let refused = 0;
let ops = 0;

async function step() {
  ws.refresh();
  const op = chooseOp();
  const mine = () => tasksIn('working').filter((t) => t.agent === agent);
  const live = () => [...tasksIn('backlog'), ...tasksIn('ready'), ...tasksIn('working')];
  switch (op) {
    case 'add': {
      n += 1;
      const dep = random() < 0.1 ? pick(live()) : undefined;
      const task = await ws.addTask({
        title: `${agent} task ${n}`,
        run: 'true',
        priority: pick(PRIORITIES),
        maxAttempts: 1 + Math.floor(random() * 3),
        hold: random() < 0.15,
        ...(dep ? { dependsOn: [dep.id] } : {}),
      });
      ack(op, task);
      return 1;
    }
    case 'import': {
      const tasks = await ws.importTasks(
        [1, 2, 3].map((k) => ({
          title: `${agent} import ${n}-${k}`,
          run: 'true',
          ref: `r${k}`,
          ...(k > 1 ? { dependsOn: [`r${k - 1}`] } : {}),
        })),
      );
      n += 1;
      for (const task of tasks) ack(op, task);
      return 1;
    }
    case 'claim': {
      const task = await ws.claim(agent);
      if (!task) return 0;
      ack(op, task);
      return 1;
    }
    case 'complete':
    case 'fail':
    case 'renew': {
      const target = pick(mine());
      if (!target) return 0;
      const task =
        op === 'complete'
          ? await ws.complete(target.id, { agent, summary: `done by ${agent}` })
          : op === 'fail'
            ? await ws.fail(target.id, { agent, reason: `failed by ${agent}` })
            : await ws.renew(target.id, agent);
      ack(op, task);
      return 1;
    }
    case 'cancel': {
      const target = pick(live());
      if (!target) return 0;
      ack(op, await ws.cancel(target.id, `cancelled by ${agent}`));
      return 1;
    }
    case 'retry': {
      const waiting = tasksIn('ready').filter((t) => t.notBefore);
      const ended = tasksIn('completed').filter((t) => t.status !== 'done');
      const target = pick(random() < 0.5 && waiting.length ? waiting : ended);
      if (!target) return 0;
      ack(op, await ws.retry(target.id));
      return 1;
    }
    case 'promote': {
      const target = pick(tasksIn('backlog'));
      if (!target) return 0;
      ack(op, await ws.promote(target.id));
      return 1;
    }
    case 'move': {
      const working = tasksIn('working');
      const target = random() < 0.6 && working.length ? pick(working) : pick(tasksIn('ready'));
      if (!target) return 0;
      const to = target.status === 'working' ? 'ready' : 'backlog';
      ack(op, await ws.move(target.id, to, `moved by ${agent}`));
      return 1;
    }
    case 'edit': {
      const target = pick(tasksIn('ready').concat(tasksIn('backlog')));
      if (!target) return 0;
      ack(op, await ws.bumpPriority(target.id, random() < 0.5 ? 1 : -1));
      return 1;
    }
  }
  return 0;
}

while (acked < target && ops < maxOps) {
  ops += 1;
  try {
    acked += await step();
  } catch (error) {
    if (error instanceof DreamError && EXPECTED.has(error.code)) refused += 1;
    else {
      log({ unexpected: error?.code ?? error?.name ?? 'Error', message: String(error?.message ?? error) });
      process.exitCode = 1;
    }
  }
  if (ops % flushEvery === 0) await ws.db.flush();
  if (ops % reopenEvery === 0) {
    await close();
    ws = await open();
  }
}
await close();
log({ done: true, acked, refused, ops, shared });
