// The SQLite reference: the same claim-then-complete loop on one row per task (better-sqlite3, WAL,
// synchronous=FULL, busy_timeout for several processes). Claim and complete are one transaction each.
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { nextMessage } from './workers.mjs';

const { file, warmupFile, agent, leaseSeconds } = JSON.parse(process.argv[2]);

const now = () => performance.timeOrigin + performance.now();

function open(path) {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 15000');
  return db;
}

/** The claim and complete transactions on one database. */
function statements(db) {
  const expire = db.prepare(
    "UPDATE tasks SET status = 'ready', agent = NULL, lease_owner = NULL, lease_expires = NULL, stalls = stalls + 1, ready_since = @now, updated_at = @now WHERE status = 'working' AND lease_expires < @now",
  );
  const pick = db.prepare(
    "SELECT id FROM tasks WHERE status = 'ready' ORDER BY priority, ready_since, id LIMIT 1",
  );
  const take = db.prepare(
    "UPDATE tasks SET status = 'working', agent = @agent, lease_owner = @agent, lease_expires = @expires, attempts = attempts + 1, updated_at = @now WHERE id = @id AND status = 'ready'",
  );
  const finish = db.prepare(
    "UPDATE tasks SET status = 'done', lease_owner = NULL, lease_expires = NULL, completions = completions + 1, updated_at = @now WHERE id = @id AND status = 'working' AND lease_owner = @agent",
  );

  const claimTx = db.transaction(() => {
    const at = Date.now();
    expire.run({ now: at });
    const row = pick.get();
    if (!row) return null;
    const changed = take.run({ id: row.id, agent, expires: at + leaseSeconds * 1000, now: at }).changes;
    if (changed !== 1) throw new Error(`claim of ${row.id} changed ${changed} rows`);
    return row.id;
  });
  const completeTx = db.transaction((id) => {
    const changed = finish.run({ id, agent, now: Date.now() }).changes;
    if (changed !== 1) throw new Error(`complete of ${id} changed ${changed} rows`);
  });
  return { claimTx, completeTx };
}

function cycles({ claimTx, completeTx }, deadline) {
  const done = [];
  let claimMs = 0;
  let completeMs = 0;
  const start = now();
  while (now() < deadline) {
    const t0 = now();
    const id = claimTx.immediate();
    const t1 = now();
    claimMs += t1 - t0;
    if (id === null) break;
    completeTx.immediate(id);
    completeMs += now() - t1;
    done.push(id);
  }
  return { start, end: now(), done, claimMs, completeMs };
}

try {
  if (warmupFile) {
    const warm = open(warmupFile);
    process.send({ type: 'warm-ready' });
    const { deadline } = await nextMessage('warm');
    cycles(statements(warm), deadline);
    process.send({ type: 'warm-done' });
    await nextMessage('warm-close');
    warm.close();
  }
  const db = open(file);
  const tx = statements(db);
  process.send({ type: 'ready' });
  const { deadline } = await nextMessage('go');
  const result = cycles(tx, deadline);
  process.send({ type: 'result', ...result });
  await nextMessage('close');
  db.close();
  process.exit(0);
} catch (error) {
  process.send({ type: 'error', message: String(error?.stack ?? error) });
  process.exit(1);
}
