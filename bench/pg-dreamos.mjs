// The PostgreSQL backend's figures (bench/run.mjs, BENCH_ONLY=pg), each in schemas of its own, dropped after:
//
// - Cycles: the claim-then-complete loop of the other state figures, through the built library
//   (openWorkspace, claim, complete) by N processes (bench/worker-dreamos.mjs) on a workspace whose
//   state is in PostgreSQL, every commit durable; compared with the bare-SQL reference
//   (bench/pg-reference.mjs) of the same case. The processes open one workspace folder, as a library
//   user's processes on one host do, and so share its writer (state/writer/); with `share: false`
//   each writes for itself, as processes on as many hosts would. After each run every task is checked: done exactly once
//   (one claim and one completion in the journal table), every acknowledged completion done.
// - Pickup: a task added by one process (host A, the library) and started by a `dreamos run` on another
//   workspace folder of the same schema (host B), idle and waiting: the claim's time minus the add's
//   time, both from the task's history, which the database's clock stamps.
// - Recovery: a `dreamos run` (host A) holding leased tasks is killed with its process group (SIGKILL);
//   the time from the kill until another running `dreamos run` (host B, other agents) has claimed them
//   again, beside the lease.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { spawnWorkers } from './workers.mjs';

const round = (n, digits = 2) => (Number.isFinite(n) ? Number(n.toFixed(digits)) : null);
const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];

const newSchema = (what) => `bench_dos_${what}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;

/** Agents that can take any task and run a shell command. */
export const shellAgents = (n, prefix = 'agent') =>
  Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${i + 1}`,
    name: `${prefix} ${i + 1}`,
    role: 'engineer',
    capabilities: ['shell'],
    driver: { kind: 'shell', shell: '/bin/sh' },
  }));

async function connect(url) {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/**
 * A workspace folder (one host) whose state is in `schema`: the first one made creates the schema,
 * the others join it.
 */
async function hostWorkspace(lib, tmpRoot, { url, schema, agents, policies, name }) {
  const dir = fs.mkdtempSync(join(tmpRoot, `pg-${name}-`));
  const ws = await lib.initWorkspace({
    dir,
    backend: 'postgres',
    agents,
    config: { state: { url, schema }, ...(policies ? { policies } : {}) },
  });
  return { dir, home: join(dir, '.dreamos'), ws };
}

/**
 * Every task done exactly once: the final state (tasks and archive tables), and the journal table for
 * every claim and completion of each task. `acked`: the ids whose completion a worker saw acknowledged.
 */
async function verify(client, schema, ids, acked) {
  const claims = new Map();
  const completions = new Map();
  const last = new Map();
  const { rows } = await client.query(`SELECT entry::text AS line FROM "${schema}".journal ORDER BY seq`);
  for (const { line } of rows) {
    const entry = JSON.parse(line);
    for (const { task } of entry.tasks ?? []) {
      const before = last.get(task.id);
      if (task.status === 'working' && before?.status !== 'working')
        claims.set(task.id, (claims.get(task.id) ?? 0) + 1);
      if (task.status === 'done' && before?.status !== 'done')
        completions.set(task.id, (completions.get(task.id) ?? 0) + 1);
      last.set(task.id, task);
    }
  }
  const final = new Map();
  for (const table of ['archive', 'tasks']) {
    const { rows: docs } = await client.query(`SELECT id, doc::text AS doc FROM "${schema}".${table}`);
    for (const row of docs) final.set(row.id, JSON.parse(row.doc));
  }
  const ackCount = new Map();
  for (const id of acked) ackCount.set(id, (ackCount.get(id) ?? 0) + 1);
  let lost = 0;
  let duplicated = 0;
  let unacknowledged = 0;
  let done = 0;
  for (const id of ids) {
    const task = final.get(id);
    if (!task) {
      lost += 1;
      continue;
    }
    const isDone = task.status === 'done';
    if (isDone) done += 1;
    const acks = ackCount.get(id) ?? 0;
    if (acks > 0 && !isDone) lost += 1;
    if (isDone && acks === 0) unacknowledged += 1;
    const historyDone = task.history.filter((h) => h.from === 'working' && h.to === 'done').length;
    if (acks > 1 || historyDone > 1 || (claims.get(id) ?? 0) > 1 || (completions.get(id) ?? 0) > 1)
      duplicated += 1;
  }
  // When the board was emptied, every task must be done (nothing left behind or stuck in working).
  const notDone = ids.length - done;
  return { done, notDone, lost, duplicated, unacknowledged };
}

/**
 * One case of cycles through the library: `workers` processes on `tasks` ready tasks, for `seconds` or
 * until the board is empty, after `warmupSeconds` of the same loop on a 2,000-task board of its own.
 */
export async function pgDreamosCycles({
  lib,
  distIndex,
  benchDir,
  tmpRoot,
  taskInputs,
  url,
  workers,
  tasks,
  seconds = 3,
  warmupSeconds = 0,
  warmupTasks = 2000,
  share = true,
}) {
  const client = await connect(url);
  const schemas = [];
  const agents = shellAgents(Math.max(workers, 1));
  try {
    const make = async (n, what) => {
      const schema = newSchema(what);
      schemas.push(schema);
      const { home, ws } = await hostWorkspace(lib, tmpRoot, { url, schema, agents, name: what });
      const added = await ws.importTasks(taskInputs(n));
      await ws.close();
      return { schema, home, ids: added.map((t) => t.id) };
    };
    const board = await make(tasks, 'run');
    const warm = warmupSeconds > 0 ? await make(warmupTasks, 'warm') : undefined;
    await client.query(`VACUUM ANALYZE "${board.schema}".tasks`);
    const result = await spawnWorkers(
      join(benchDir, 'worker-dreamos.mjs'),
      agents.map((agent) => ({
        home: board.home,
        warmupHome: warm?.home,
        agent: agent.id,
        distIndex,
        share,
      })),
      seconds,
      { warmupSeconds },
    );
    const elapsed = (result.end - result.start) / 1000;
    const cycles = result.done.length;
    const check = await verify(client, board.schema, board.ids, result.done);
    return {
      workers,
      tasks,
      cycles,
      seconds: round(elapsed, 3),
      rate: round(cycles / elapsed, 1),
      claimMsPerCycle: round(result.claimMs / Math.max(1, cycles), 3),
      completeMsPerCycle: round(result.completeMs / Math.max(1, cycles), 3),
      perProcess: result.perProcess,
      ...(result.writer ? { writer: result.writer } : {}),
      emptied: cycles === tasks,
      ...check,
      // Left behind is only a fault when the board was emptied.
      lost: check.lost + (cycles === tasks ? check.notDone : 0),
    };
  } finally {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  }
}

/** `dreamos run` in `dir`, in a process group of its own (so a kill takes its driven programs too). */
function startRun(bin, dir, env = {}) {
  const child = spawn(process.execPath, [bin, 'run', '--json'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, ...env },
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    child,
    exited,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid, signal);
        } catch {}
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {}
      }, 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Until `test()` (read from the database) holds, polling every `everyMs`; false on timeout. */
async function until(test, timeoutMs, everyMs = 20) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await test()) return true;
    await sleep(everyMs);
  }
  return false;
}

async function tasksById(client, schema, ids) {
  const { rows } = await client.query(
    `SELECT doc::text AS doc FROM "${schema}".tasks WHERE id = ANY($1)
     UNION ALL SELECT doc::text FROM "${schema}".archive WHERE id = ANY($1)`,
    [ids],
  );
  return rows.map((r) => JSON.parse(r.doc));
}

/** Have all agents of this workspace's config an orchestrator running them? */
async function agentsRunning(client, schema, ids) {
  const { rows } = await client.query(`SELECT doc::text AS doc FROM "${schema}".agents WHERE id = ANY($1)`, [
    ids,
  ]);
  return rows.length === ids.length && rows.every((r) => JSON.parse(r.doc).runner);
}

/**
 * Pickup latency: host B runs `dreamos run` (its agents idle); host A adds `samples` tasks one at a
 * time, each once the one before was taken, after a random gap within `gapMs`; each is a `true`
 * command. Latency of each: the first claim's
 * time minus the time it became ready, both stamped by the database's clock (millisecond resolution).
 */
export async function pgPickup({
  lib,
  bin,
  tmpRoot,
  url,
  samples = 300,
  gapMs = [10, 50],
  agents = 8,
  p50Bar = 5,
  p99Bar = 20,
}) {
  const client = await connect(url);
  const schema = newSchema('pickup');
  const hostB = await hostWorkspace(lib, tmpRoot, {
    url,
    schema,
    agents: shellAgents(agents, 'b'),
    name: 'pickup-b',
  });
  await hostB.ws.close();
  const hostA = await hostWorkspace(lib, tmpRoot, {
    url,
    schema,
    agents: shellAgents(1, 'a'),
    name: 'pickup-a',
  });
  const run = startRun(bin, hostB.dir);
  try {
    const bIds = shellAgents(agents, 'b').map((a) => a.id);
    if (!(await until(() => agentsRunning(client, schema, bIds), 15_000)))
      throw new Error(`host B's dreamos run did not start its agents: ${run.output().slice(-500)}`);
    await sleep(500);
    const ids = [];
    const status = async (id) =>
      (await client.query(`SELECT status FROM "${schema}".tasks WHERE id = $1`, [id])).rows[0]?.status;
    for (let i = 0; i < samples; i++) {
      const task = await hostA.ws.addTask({ title: `pickup ${i + 1}`, run: 'true' });
      ids.push(task.id);
      // The next task is added once this one is taken: host B has idle agents whenever a task comes.
      await until(async () => (await status(task.id)) !== 'ready', 10_000, 5);
      await sleep(gapMs[0] + Math.random() * (gapMs[1] - gapMs[0]));
    }
    const allDone = await until(
      async () => (await tasksById(client, schema, ids)).every((t) => t.status === 'done'),
      30_000,
      100,
    );
    const latencies = [];
    let missed = 0;
    for (const task of await tasksById(client, schema, ids)) {
      const claimAt = task.history.findIndex((h) => h.to === 'working');
      const ready = task.history
        .slice(0, claimAt < 0 ? task.history.length : claimAt)
        .findLast((h) => h.to === 'ready');
      if (claimAt < 0 || !ready) {
        missed += 1;
        continue;
      }
      latencies.push(Date.parse(task.history[claimAt].at) - Date.parse(ready.at));
    }
    latencies.sort((a, b) => a - b);
    const p50 = quantile(latencies, 0.5);
    const p99 = quantile(latencies, 0.99);
    return {
      samples,
      picked: latencies.length,
      missed,
      allDone,
      agents,
      gapMs,
      p50Ms: p50,
      p90Ms: quantile(latencies, 0.9),
      p99Ms: p99,
      maxMs: latencies.at(-1),
      bar: `p50 <= ${p50Bar} ms, p99 <= ${p99Bar} ms`,
      pass: missed === 0 && p50 <= p50Bar && p99 <= p99Bar,
    };
  } finally {
    await hostA.ws.close();
    await run.stop();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  }
}

/**
 * Recovery: host A's `dreamos run` (agents a-1…a-N) holds N long tasks; host B's `dreamos run` (agents
 * b-1…b-N) is idle. A is killed with its process group; the time from the kill until every one of
 * those tasks is claimed again by B, read from their history (the database's clock; one machine, one
 * clock), against the lease.
 */
export async function pgRecovery({
  lib,
  bin,
  tmpRoot,
  url,
  leaseSeconds = 5,
  heartbeatSeconds = 1,
  tasks = 2,
  afterLeaseBar = 10,
}) {
  const client = await connect(url);
  const schema = newSchema('recovery');
  const policies = { leaseSeconds, heartbeatSeconds };
  const aAgents = shellAgents(tasks, 'a');
  const bAgents = shellAgents(tasks, 'b');
  const hostA = await hostWorkspace(lib, tmpRoot, { url, schema, agents: aAgents, policies, name: 'rec-a' });
  const hostB = await hostWorkspace(lib, tmpRoot, { url, schema, agents: bAgents, policies, name: 'rec-b' });
  await hostB.ws.close();
  const runA = startRun(bin, hostA.dir);
  let runB = null;
  try {
    if (
      !(await until(
        () =>
          agentsRunning(
            client,
            schema,
            aAgents.map((a) => a.id),
          ),
        15_000,
      ))
    )
      throw new Error(`host A's dreamos run did not start its agents: ${runA.output().slice(-500)}`);
    const ids = [];
    for (let i = 0; i < tasks; i++)
      ids.push((await hostA.ws.addTask({ title: `held ${i + 1}`, run: 'sleep 600' })).id);
    await hostA.ws.close();
    const heldByA = async () =>
      (await tasksById(client, schema, ids)).every(
        (t) => t.status === 'working' && t.agent?.startsWith('a-'),
      );
    if (!(await until(heldByA, 15_000)))
      throw new Error(`host A did not take the tasks: ${runA.output().slice(-500)}`);
    runB = startRun(bin, hostB.dir);
    if (
      !(await until(
        () =>
          agentsRunning(
            client,
            schema,
            bAgents.map((a) => a.id),
          ),
        15_000,
      ))
    )
      throw new Error(`host B's dreamos run did not start its agents: ${runB.output().slice(-500)}`);
    // A renews its leases for a while with B running beside it.
    await sleep(1000);
    if (!(await heldByA())) throw new Error('host B took the tasks while host A was alive');
    const before = await tasksById(client, schema, ids);
    const leaseEnds = Math.max(...before.map((t) => Date.parse(t.lease.expiresAt)));
    const killedAt = Date.now();
    await runA.stop('SIGKILL');
    const reclaimed = async () =>
      (await tasksById(client, schema, ids)).every((t) =>
        t.history.some(
          (h, i) => i > 0 && h.to === 'working' && Date.parse(h.at) > killedAt && t.agent?.startsWith('b-'),
        ),
      );
    const ok = await until(reclaimed, (leaseSeconds + 60) * 1000, 50);
    const after = await tasksById(client, schema, ids);
    const times = after.map((t) => {
      const again = t.history.find((h) => h.to === 'working' && Date.parse(h.at) > killedAt);
      return again ? Date.parse(again.at) - killedAt : Number.POSITIVE_INFINITY;
    });
    const seconds = Math.max(...times) / 1000;
    const bar = leaseSeconds + afterLeaseBar;
    return {
      leaseSeconds,
      heartbeatSeconds,
      tasks,
      reclaimed: ok,
      seconds: round(seconds, 2),
      perTaskSeconds: times.map((ms) => round(ms / 1000, 2)),
      leaseLeftAtKillSeconds: round((leaseEnds - killedAt) / 1000, 2),
      how: after.map((t) =>
        t.history
          .filter((h) => Date.parse(h.at) > killedAt)
          .map((h) => `${h.from}→${h.to}${h.why ? ` (${h.why})` : ''}`),
      ),
      bar: `<= lease + ${afterLeaseBar} s (${bar} s)`,
      pass: ok && seconds <= bar,
    };
  } finally {
    await runA.stop('SIGKILL');
    if (runB) await runB.stop();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  }
}
