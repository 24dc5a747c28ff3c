// The PostgreSQL reference's worker (bench/pg-reference.mjs): bare SQL on one connection, in the
// schema it is given. A claim is one transaction (pick the first ready task by priority then age,
// skipping rows other workers hold; make it working under a lease; journal it), a completion another
// (make it done; journal it). synchronous_commit is on: a commit returns once its WAL is flushed.
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { nextMessage } from './workers.mjs';

const { url, schema, warmupSchema, agent, leaseSeconds } = JSON.parse(process.argv[2]);

const now = () => performance.timeOrigin + performance.now();

async function open(inSchema) {
  const client = new pg.Client({ connectionString: url, options: `-c search_path=${inSchema}` });
  await client.connect();
  await client.query('SET synchronous_commit = on');
  return client;
}

const PICK = {
  name: 'pick',
  text: "SELECT id FROM tasks WHERE status = 'ready' ORDER BY priority, ready_since LIMIT 1 FOR UPDATE SKIP LOCKED",
};
const TAKE = `UPDATE tasks SET status = 'working', lease_owner = $2,
    lease_expires = now() + make_interval(secs => $3::float8),
    doc = doc || jsonb_build_object('status', 'working', 'agent', $2::text, 'updatedAt', now(),
      'attempts', (doc->>'attempts')::int + 1,
      'lease', jsonb_build_object('owner', $2::text, 'expiresAt', now() + make_interval(secs => $3::float8)))
  WHERE id = $1 AND status = 'ready'`;
const FINISH = `UPDATE tasks SET status = 'done', lease_owner = NULL, lease_expires = NULL,
    doc = doc || jsonb_build_object('status', 'done', 'lease', null, 'updatedAt', now())
  WHERE id = $1 AND status = 'working' AND lease_owner = $2`;
const JOURNAL = 'INSERT INTO journal (op, body) SELECT $2, doc FROM tasks WHERE id = $1';

async function transaction(client, work) {
  await client.query('BEGIN');
  try {
    const value = await work();
    await client.query('COMMIT');
    return value;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

function claim(client) {
  return transaction(client, async () => {
    const { rows } = await client.query(PICK);
    if (rows.length === 0) return null;
    const { id } = rows[0];
    const taken = await client.query({ name: 'take', text: TAKE, values: [id, agent, leaseSeconds] });
    if (taken.rowCount !== 1) throw new Error(`claim of ${id} changed ${taken.rowCount} rows`);
    await client.query({ name: 'journal', text: JOURNAL, values: [id, 'claim'] });
    return id;
  });
}

function complete(client, id) {
  return transaction(client, async () => {
    const finished = await client.query({ name: 'finish', text: FINISH, values: [id, agent] });
    if (finished.rowCount !== 1) throw new Error(`complete of ${id} changed ${finished.rowCount} rows`);
    await client.query({ name: 'journal', text: JOURNAL, values: [id, 'complete'] });
  });
}

async function cycles(client, deadline) {
  const done = [];
  let claimMs = 0;
  let completeMs = 0;
  const start = now();
  while (now() < deadline) {
    const t0 = now();
    const id = await claim(client);
    const t1 = now();
    claimMs += t1 - t0;
    if (id === null) break;
    await complete(client, id);
    completeMs += now() - t1;
    done.push(id);
  }
  return { start, end: now(), done, claimMs, completeMs };
}

try {
  if (warmupSchema) {
    const warm = await open(warmupSchema);
    process.send({ type: 'warm-ready' });
    const { deadline } = await nextMessage('warm');
    await cycles(warm, deadline);
    process.send({ type: 'warm-done' });
    await nextMessage('warm-close');
    await warm.end();
  }
  const client = await open(schema);
  process.send({ type: 'ready' });
  const { deadline } = await nextMessage('go');
  const result = await cycles(client, deadline);
  process.send({ type: 'result', ...result });
  await nextMessage('close');
  await client.end();
  process.exit(0);
} catch (error) {
  process.send({ type: 'error', message: String(error?.stack ?? error) });
  process.exit(1);
}
