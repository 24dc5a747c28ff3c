// The PostgreSQL reference: what the PostgreSQL state backend is compared to. The same
// claim-then-complete loop as the other state figures, in bare SQL, by N worker processes
// (bench/worker-pg.mjs), each on its own connection; every commit durable (synchronous_commit on).
//
// Tables, in a schema of the run's own, dropped after it:
//   tasks(id, status, priority, ready_since, lease_owner, lease_expires, doc): doc is the task as the
//     JSON store keeps it (about 1 KB), its status and lease kept in step with the columns;
//   journal(seq, at, op, body): one row per claim and per completion, body the task after it.
// The claim picks the first ready task by priority then age with FOR UPDATE SKIP LOCKED, which the
// index on (status, priority, ready_since) serves.
//
// `pgReference({ workers, tasks })` runs one case for bench/run.mjs (BENCH_ONLY=pg). Run directly,
// `node bench/pg-reference.mjs` prints one JSON line per case: 1, 4 and 16 workers on 1,000 and 10,000
// tasks. The server is DREAMOS_BENCH_PG, else DREAMOS_TEST_PG, else the local one's `test` database.
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { spawnWorkers } from './workers.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));

export const PG_BENCH_URL =
  process.env.DREAMOS_BENCH_PG || process.env.DREAMOS_TEST_PG || 'postgres://postgres@127.0.0.1:5432/test';
export const PG_WORKERS = [1, 4, 16];
export const PG_TASKS = [1000, 10_000];

/** The URL without its password, to print. */
export function redactUrl(url) {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(an unparsable URL)';
  }
}

async function connect(url, timeoutMs = 5000) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** The server's version and the settings that decide whether its commits are durable, or null if it does not answer. */
export async function pgServer(url = PG_BENCH_URL) {
  let client;
  try {
    client = await connect(url, 2000);
  } catch {
    return null;
  }
  try {
    const setting = async (name) => (await client.query(`SHOW ${name}`)).rows[0][name];
    return {
      version: await setting('server_version'),
      fsync: await setting('fsync'),
      synchronousCommit: await setting('synchronous_commit'),
      walSyncMethod: await setting('wal_sync_method'),
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A task document like the JSON store's, padded to about 1 KB with its prompt. */
function taskDoc(i, at) {
  const iso = at.toISOString();
  const doc = {
    id: `T-${String(i + 1).padStart(5, '0')}A`,
    title: `bench task ${i + 1}`,
    prompt: '',
    capabilities: ['shell'],
    priority: i % 10 === 0 ? 'high' : 'normal',
    dependsOn: [],
    resources: [`repo/src/module-${i % 50}.ts`],
    maxAttempts: 3,
    tags: ['bench', 'reference'],
    source: 'import',
    status: 'ready',
    agent: null,
    lease: null,
    attempts: 0,
    stalls: 0,
    notBefore: null,
    result: null,
    history: [
      { from: null, to: 'backlog', by: 'bench', at: iso },
      { from: 'backlog', to: 'ready', by: 'bench', at: iso, why: 'no dependencies' },
    ],
    createdAt: iso,
    updatedAt: iso,
    rev: i + 1,
  };
  const base = JSON.stringify(doc).length;
  doc.prompt = `do bench step ${i + 1}: `.padEnd(Math.max(0, 1024 - base), 'lorem ipsum dolor sit amet ');
  return doc;
}

/** A new schema holding `tasks` ready tasks and an empty journal; returns its name. */
async function makeSchema(client, tasks) {
  const schema = `bench_pg_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const start = Date.now() - tasks;
  const ids = [];
  const priorities = [];
  const since = [];
  const docs = [];
  for (let i = 0; i < tasks; i++) {
    const at = new Date(start + i);
    const doc = taskDoc(i, at);
    ids.push(doc.id);
    priorities.push(doc.priority === 'high' ? 1 : 2);
    since.push(at);
    docs.push(JSON.stringify(doc));
  }
  await client.query(`CREATE SCHEMA "${schema}"`);
  await client.query(`
    CREATE TABLE "${schema}".tasks (
      id text PRIMARY KEY,
      status text NOT NULL,
      priority int NOT NULL,
      ready_since timestamptz,
      lease_owner text,
      lease_expires timestamptz,
      doc jsonb NOT NULL
    );
    CREATE INDEX tasks_ready ON "${schema}".tasks (status, priority, ready_since);
    CREATE TABLE "${schema}".journal (
      seq bigserial PRIMARY KEY,
      at timestamptz NOT NULL DEFAULT now(),
      op text NOT NULL,
      body jsonb NOT NULL
    );
  `);
  await client.query(
    `INSERT INTO "${schema}".tasks (id, status, priority, ready_since, doc)
     SELECT id, 'ready', priority, since, doc
     FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::jsonb[]) AS t(id, priority, since, doc)`,
    [ids, priorities, since, docs],
  );
  await client.query(`VACUUM ANALYZE "${schema}".tasks`);
  return schema;
}

/**
 * Every acknowledged completion must be done, claimed and completed once in the journal; a task done
 * without an acknowledgement, or journaled twice, is counted.
 */
async function verify(client, schema, tasks, acked) {
  const { rows } = await client.query(
    `SELECT t.id, t.status,
       count(*) FILTER (WHERE j.op = 'claim')::int AS claims,
       count(*) FILTER (WHERE j.op = 'complete')::int AS completions
     FROM "${schema}".tasks t LEFT JOIN "${schema}".journal j ON j.body->>'id' = t.id
     GROUP BY t.id, t.status`,
  );
  const ackCount = new Map();
  for (const id of acked) ackCount.set(id, (ackCount.get(id) ?? 0) + 1);
  let lost = tasks - rows.length;
  let duplicated = 0;
  let unacknowledged = 0;
  let done = 0;
  for (const row of rows) {
    const acks = ackCount.get(row.id) ?? 0;
    if (row.status === 'done') done += 1;
    if (acks > 0 && row.status !== 'done') lost += 1;
    if (row.status === 'done' && acks === 0) unacknowledged += 1;
    if (acks > 1 || row.claims > 1 || row.completions > 1) duplicated += 1;
  }
  return { done, lost, duplicated, unacknowledged };
}

const round = (n, digits = 2) => (Number.isFinite(n) ? Number(n.toFixed(digits)) : null);

/**
 * One case: `workers` processes on `tasks` ready tasks, for `seconds` or until the board is empty,
 * after `warmupSeconds` of the same loop on a board of `warmupTasks` of their own (0: none).
 * Resolves with the cycles, the seconds, the rate (cycles/s) and the integrity checks.
 */
export async function pgReference({
  workers,
  tasks,
  url = PG_BENCH_URL,
  seconds = 3,
  warmupSeconds = 0,
  warmupTasks = 2000,
}) {
  const client = await connect(url);
  const schemas = [];
  try {
    const schema = await makeSchema(client, tasks);
    schemas.push(schema);
    const warmupSchema = warmupSeconds > 0 ? await makeSchema(client, warmupTasks) : undefined;
    if (warmupSchema) schemas.push(warmupSchema);
    const result = await spawnWorkers(
      join(HERE, 'worker-pg.mjs'),
      Array.from({ length: workers }, (_, i) => ({
        url,
        schema,
        warmupSchema,
        agent: `agent-${i + 1}`,
        leaseSeconds: 900,
      })),
      seconds,
      { warmupSeconds },
    );
    const elapsed = (result.end - result.start) / 1000;
    const cycles = result.done.length;
    return {
      workers,
      tasks,
      cycles,
      seconds: round(elapsed, 3),
      rate: round(cycles / elapsed, 1),
      claimMsPerCycle: round(result.claimMs / Math.max(1, cycles), 3),
      completeMsPerCycle: round(result.completeMs / Math.max(1, cycles), 3),
      perProcess: result.perProcess,
      ...(await verify(client, schema, tasks, result.done)),
    };
  } finally {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const seconds = Number(process.env.BENCH_SECONDS ?? 3);
  const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
  const server = await pgServer();
  if (!server) {
    process.stderr.write(`PostgreSQL at ${redactUrl(PG_BENCH_URL)} did not answer: pg reference skipped\n`);
    process.exit(1);
  }
  process.stderr.write(`pg reference: PostgreSQL ${server.version}, fsync ${server.fsync}\n`);
  for (const tasks of PG_TASKS) {
    for (const workers of PG_WORKERS) {
      const result = await pgReference({ workers, tasks, seconds, warmupSeconds });
      process.stdout.write(`${JSON.stringify({ bench: 'pg-reference', ...result })}\n`);
    }
  }
}
