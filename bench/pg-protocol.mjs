// Where a PostgreSQL backend transaction's time goes: the shape of state/pg/store.ts's transaction,
// in bare SQL, against variants of it, by N processes each writing one journal entry (about 1 KB)
// and its task row per transaction, every commit durable unless the variant says otherwise.
//   store      BEGIN + SET LOCAL + advisory lock (one round trip); catch-up read of the entries
//              written since this process last looked, with clock_timestamp(); record (entry and
//              task row); COMMIT: four round trips, the last three under the lock.
//   store-async  the same with synchronous_commit off: what is left without the WAL flush.
//   two-trips  lock + catch-up in one round trip, record + COMMIT in another: two round trips.
//   one-trip   one call of a function that takes the lock, checks the journal's head is where this
//              process planned from (else returns what it missed, to plan again) and records: the lock
//              is held only on the server, from the call to the commit.
//   one-trip-flush  one-trip with the commit made without waiting for the disk while the lock is held,
//              then a durable flush outside it (FLUSH_SQL of state/pg/store.ts): what the
//              optimistic hot path does.
//   lock-always  the lock taken by every transaction in one call, with no head check: each is recorded as
//              the next entry whatever its number (what record_at_head does when nothing conflicts),
//              committed without waiting for the disk, then flushed outside the lock.
//   lock-always-durable  the same with the commit waiting for the disk while the lock is held.
//   try-lock   lock-always with pg_try_advisory_xact_lock, tried again at once when it is held.
//   no-lock    record with the sequence number taken from a sequence, no lock (readers would have to
//              wait for gaps to close): a ceiling, like the SKIP LOCKED reference.
// Not part of `npm run bench`: `node bench/pg-protocol.mjs [variant,…] [processes,…] [seconds]` prints
// one JSON line per variant and process count. Each variant runs in a schema of its own, dropped after.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PG_BENCH_URL } from './pg-reference.mjs';

const VARIANTS = [
  'store',
  'store-async',
  'two-trips',
  'one-trip',
  'one-trip-flush',
  'lock-always',
  'lock-always-durable',
  'try-lock',
  'no-lock',
];
const ENTRY = JSON.stringify({ pad: 'x'.repeat(1000) });

const SETUP = (schema) => `
  CREATE SCHEMA "${schema}";
  SET search_path = "${schema}";
  CREATE TABLE journal (seq bigint PRIMARY KEY, at timestamptz NOT NULL, entry json NOT NULL);
  CREATE TABLE tasks (id text PRIMARY KEY, rev bigint NOT NULL, doc json NOT NULL);
  CREATE SEQUENCE journal_seq;
  CREATE FUNCTION record(p_seq bigint, p_entry text, p_id text) RETURNS void LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO journal (seq, at, entry) VALUES (p_seq, clock_timestamp(), p_entry::json);
    INSERT INTO tasks (id, rev, doc) VALUES (p_id, p_seq, p_entry::json)
      ON CONFLICT (id) DO UPDATE SET rev = excluded.rev, doc = excluded.doc;
  END $$;
  CREATE FUNCTION record_head(p_entry text, p_id text, p_try boolean) RETURNS bigint LANGUAGE plpgsql AS $$
  DECLARE
    head bigint;
  BEGIN
    IF p_try THEN
      IF NOT pg_try_advisory_xact_lock(1, hashtext('${schema}')) THEN
        RETURN NULL;
      END IF;
    ELSE
      PERFORM pg_advisory_xact_lock(1, hashtext('${schema}'));
    END IF;
    SELECT coalesce(max(seq), 0) INTO head FROM journal;
    PERFORM record(head + 1, p_entry, p_id);
    RETURN head + 1;
  END $$;
  CREATE FUNCTION record_at(expected bigint, p_entry text, p_id text) RETURNS text[] LANGUAGE plpgsql AS $$
  DECLARE
    head bigint;
  BEGIN
    PERFORM pg_advisory_xact_lock(1, hashtext('${schema}'));
    SELECT coalesce(max(seq), 0) INTO head FROM journal;
    IF head <> expected THEN
      RETURN ARRAY(SELECT entry::text FROM journal WHERE seq > expected ORDER BY seq);
    END IF;
    PERFORM record(expected + 1, p_entry, p_id);
    RETURN NULL;
  END $$;`;

async function connect(schema) {
  const client = new pg.Client({
    connectionString: PG_BENCH_URL,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** One process, connected: transactions of `variant` until the deadline; resolves with how many. */
async function worker(client, { schema, variant, id, deadline }) {
  if (variant === 'store-async') await client.query('SET synchronous_commit = off');
  const lock = `SELECT pg_advisory_xact_lock(1, hashtext('${schema}'))`;
  let seen = 0;
  let n = 0;
  const task = `T-${id}`;
  while (Date.now() < deadline) {
    if (variant === 'store' || variant === 'store-async') {
      await client.query(`BEGIN; SET LOCAL lock_timeout = '15000ms'; ${lock}`);
      const { rows } = await client.query(
        'SELECT clock_timestamp() AS now, ARRAY(SELECT entry::text FROM journal WHERE seq > $1 ORDER BY seq) AS lines',
        [seen],
      );
      seen += rows[0].lines.length + 1;
      await client.query('SELECT record($1, $2, $3)', [seen, ENTRY, task]);
      await client.query('COMMIT');
    } else if (variant === 'two-trips') {
      const results = await client.query(
        `BEGIN; ${lock}; SELECT clock_timestamp() AS now, ARRAY(SELECT entry::text FROM journal WHERE seq > ${seen} ORDER BY seq) AS lines`,
      );
      seen += results.at(-1).rows[0].lines.length + 1;
      await client.query(`SELECT record(${seen}, '${ENTRY}', '${task}'); COMMIT`);
    } else if (variant === 'lock-always' || variant === 'lock-always-durable' || variant === 'try-lock') {
      const durable = variant === 'lock-always-durable';
      for (;;) {
        const results = await client.query(
          `BEGIN; ${durable ? '' : 'SET LOCAL synchronous_commit = off; '}SELECT record_head('${ENTRY}', '${task}', ${variant === 'try-lock'}) AS seq; COMMIT`,
        );
        if (results.find((r) => r.command === 'SELECT').rows[0].seq !== null) break;
      }
      if (!durable) await client.query("SELECT pg_logical_emit_message(true, 'dreamos', '')");
    } else if (variant === 'one-trip' || variant === 'one-trip-flush') {
      const flush = variant === 'one-trip-flush';
      for (;;) {
        const results = await client.query(
          `${flush ? 'BEGIN; SET LOCAL synchronous_commit = off; ' : ''}SELECT record_at(${seen}, '${ENTRY}', '${task}') AS missed${flush ? '; COMMIT' : ''}`,
        );
        const missed = (Array.isArray(results) ? results.find((r) => r.command === 'SELECT') : results)
          .rows[0].missed;
        if (missed === null) break;
        seen += missed.length;
      }
      if (flush) await client.query("SELECT pg_logical_emit_message(true, 'dreamos', '')");
      seen += 1;
    } else {
      await client.query("SELECT record(nextval('journal_seq'), $1, $2)", [ENTRY, task]);
    }
    n += 1;
  }
  return n;
}

async function runCase(variant, processes, seconds) {
  const schema = `bench_proto_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = await connect();
  await admin.query(SETUP(schema));
  try {
    const children = Array.from({ length: processes }, (_, id) =>
      fork(fileURLToPath(import.meta.url), ['--worker', JSON.stringify({ schema, variant, id })]),
    );
    const message = (child, type) =>
      new Promise((resolve, reject) => {
        child.on('message', (msg) => msg.type === type && resolve(msg));
        child.once('exit', (code) => code !== 0 && reject(new Error(`worker exited ${code}`)));
      });
    // Connected first, then released together: connecting is not timed.
    await Promise.all(children.map((child) => message(child, 'ready')));
    const counting = children.map((child) => message(child, 'count'));
    const deadline = Date.now() + seconds * 1000;
    for (const child of children) child.send({ type: 'go', deadline });
    const counts = (await Promise.all(counting)).map((msg) => msg.n);
    const total = counts.reduce((a, b) => a + b, 0);
    return { variant, processes, seconds, transactions: total, perSecond: Math.round(total / seconds) };
  } finally {
    await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
    await admin.end();
  }
}

if (process.argv[2] === '--worker') {
  const config = JSON.parse(process.argv[3]);
  const client = await connect(config.schema);
  const go = new Promise((resolve) => process.on('message', (msg) => msg.type === 'go' && resolve(msg)));
  process.send({ type: 'ready' });
  const { deadline } = await go;
  const n = await worker(client, { ...config, deadline });
  await client.end();
  process.send({ type: 'count', n });
  process.exit(0);
} else {
  const variants = (process.argv[2] ?? VARIANTS.join(',')).split(',');
  const processes = (process.argv[3] ?? '1,4,16').split(',').map(Number);
  const seconds = Number(process.argv[4] ?? 3);
  for (const variant of variants) {
    for (const p of processes)
      process.stdout.write(`${JSON.stringify(await runCase(variant, p, seconds))}\n`);
  }
}
