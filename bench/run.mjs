// `npm run bench`: the figures of docs/performance.md (state and CLI), each beside its reference from the same run.
// Progress goes to stderr; stdout gets one JSON document at the end.
//
// State: claim-then-complete cycles per second, every transition durable before it is acknowledged,
// with 1 and 4 processes on boards of 1,000 and 10,000 ready tasks, each case on a fresh workspace and
// time-boxed (BENCH_SECONDS, default 3) or until the board is empty, best of BENCH_REPEATS (default 3);
// the two board sizes of a process count take turns, run by run, so that their ratio is like for like.
// The rate is the steady state: the processes first run the same loop for BENCH_WARMUP_SECONDS
// (default 2; 0 turns it off) on a warm-up store they share, so that the figure is that of code V8 has
// compiled, as in a long-running orchestrator, not of a process compiling as it goes. One more run by
// fresh processes per case is reported as `cold`, for the record.
// The Dream.OS processes open the workspace as any library user does: several of them share one
// writer (state/writer/); BENCH_SHARE=0 makes each write for itself, for comparison. The process
// that was the writer during the warm-up starts the measured run first, so it is elected again and
// the writer's code is compiled too (bench/workers.mjs); the others follow within milliseconds.
// Reference: the same loop on SQLite (better-sqlite3, WAL, synchronous=FULL), run alternately with it.
// After each run every acknowledged completion is checked against the final state (read through the
// library, and the journal for archived tasks), the journal is checked for double claims and
// completions, and `doctor` must be clean.
//
// CLI: median wall time of `dreamos task list --json` on a 1,000-task workspace against a bare
// `node -e 0` (the bar), with the code cache bin/dreamos.js keeps (written by the first run, as for
// any user) and, for the record, without it; and whether ink or react are bundled into the CLI or
// loaded by it (recorded by a module hook).
//
// API reads (BENCH_ONLY=api): `GET /api/v1/tasks?limit=50` through `dreamos serve` on 10,000 tasks at
// 50 connections, beside a bare node:http server doing the same work (bench/api.mjs).
//
// Events (BENCH_ONLY=events, or api): a change made by another process until its event arrives on the
// event stream, and until its first webhook delivery attempt (bench/api-events.mjs).
// GitHub (BENCH_ONLY=github): signed issue deliveries to `POST /hooks/github` until the 202, and
// until the task is in the journal (bench/github.mjs).
// Discord (BENCH_ONLY=discord): signed interactions to `POST /hooks/discord` until acknowledged
// (bench/discord.mjs).
// Live sessions (BENCH_ONLY=pty): a keystroke from an attached client until the program's echo is
// back on its stream (bench/pty.mjs).
// The console with live sessions (BENCH_ONLY=console-pty): 8 `pty` agents printing 200 lines/s each
// on the dashboard's panes; keypress → frame, and the console's RSS over the run (bench/console-pty.mjs).
// Scout (BENCH_ONLY=scout): 10 RSS sources of 500 items through one `dreamos scout run` (bench/scout.mjs).
// Merge (BENCH_ONLY=merge): 20 code tasks approved by policy, merged by one `dreamos merge run` with a
// trivial gate: merges per minute and the queue's own time per merge, gate excluded (bench/merge.mjs).
// PostgreSQL (BENCH_ONLY=pg, or pg-cycles, pg-pickup, pg-recovery for one part): claim-then-complete
// cycles through the library on a workspace whose state is in PostgreSQL, beside the bare-SQL
// reference (bench/pg-reference.mjs), the two taking turns, with 1, 4 and 16 processes on 1,000 and
// 10,000 tasks, best of the repeats, every run on fresh schemas checked for lost and duplicated
// transitions; then the pickup latency from one host to another's `dreamos run`, and the time until a
// killed host's leased tasks are claimed again (bench/pg-dreamos.mjs). Skipped, with one line, when
// the server does not answer.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { spawnWorkers } from './workers.mjs';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const CASE_SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
/** Each measured run is preceded by this much of the same loop, by the same processes, on a store of its own. */
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const WARMUP_BOARD = 2000;
/** BENCH_SHARE=0: each Dream.OS process writes for itself (no shared writer), for comparison. */
const SHARE = process.env.BENCH_SHARE !== '0';
/** e.g. BENCH_ONLY=10000x1,1000x4 runs those state cases only (and skips the CLI unless it names `cli`). */
const ONLY = process.env.BENCH_ONLY?.split(',');
const BOARDS = [1000, 10_000];
const PROCESSES = [1, 4];
const CLI_RUNS = 10;
const BARS = { ratioToSqlite: 0.25, scale10kTo1k: 0.7, cliRatio: 2.5 };

const tmpRoot = fs.mkdtempSync(join(os.tmpdir(), 'dreamos-bench-'));
const cleanup = () => fs.rmSync(tmpRoot, { recursive: true, force: true });
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    cleanup();
    process.exit(130);
  });
}

/**
 * The bench runs a private copy of the build (dist, bin, package.json; node_modules linked), so that a
 * rebuild of dist/ while the bench runs cannot change or remove the code under test.
 */
function snapshotBuild() {
  const app = join(tmpRoot, 'app');
  if (!fs.existsSync(join(ROOT, 'dist', 'cli.cjs')) || !fs.existsSync(join(ROOT, 'dist', 'index.js')))
    throw new Error(
      'dist/ is not built: run `node scripts/build.mjs` (or `npm run bench`, which builds first)',
    );
  fs.cpSync(join(ROOT, 'dist'), join(app, 'dist'), {
    recursive: true,
    filter: (src) => !src.endsWith('.map') && !src.startsWith(join(ROOT, 'dist', 'types')),
  });
  fs.cpSync(join(ROOT, 'bin'), join(app, 'bin'), { recursive: true });
  fs.copyFileSync(join(ROOT, 'package.json'), join(app, 'package.json'));
  fs.symlinkSync(join(ROOT, 'node_modules'), join(app, 'node_modules'), 'dir');
  return app;
}

const APP = snapshotBuild();
const DIST_INDEX = pathToFileURL(join(APP, 'dist', 'index.js')).href;
const BIN = join(APP, 'bin', 'dreamos.js');
const { initWorkspace, openWorkspace, doctor } = await import(DIST_INDEX);

const log = (message) => process.stderr.write(`bench: ${message}\n`);
const round = (n, digits = 2) => (Number.isFinite(n) ? Number(n.toFixed(digits)) : null);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

/** The board: mostly normal tasks, every tenth high, so the planner's priority order is exercised. */
const taskInputs = (n) =>
  Array.from({ length: n }, (_, i) => ({
    title: `bench task ${i + 1}`,
    prompt: `do bench step ${i + 1}`,
    priority: i % 10 === 0 ? 'high' : 'normal',
  }));

// ------------------------------------------------------------------ Dream.OS

/** Pristine stores, made once per board size; every run gets a fresh copy of one. */
const templates = new Map();

function freshCopy(key, template) {
  const dir = fs.mkdtempSync(join(tmpRoot, `${key}-`));
  fs.cpSync(template, dir, { recursive: true });
  return dir;
}

async function dreamosWorkspace(board) {
  const key = `dreamos-${board}`;
  if (!templates.has(key)) {
    const dir = fs.mkdtempSync(join(tmpRoot, `template-${key}-`));
    const ws = await initWorkspace({ dir });
    const tasks = await ws.importTasks(taskInputs(board));
    await ws.close();
    templates.set(key, { dir, ids: tasks.map((t) => t.id) });
  }
  const { dir: template, ids } = templates.get(key);
  const dir = freshCopy(key, template);
  return { dir, home: join(dir, '.dreamos'), ids };
}

/**
 * Every acknowledged completion must be `done` in the final state, with exactly one working→done in
 * its history; the journal must hold exactly one claim and one completion of each task.
 */
async function verifyDreamos(home, ids, acked) {
  const ws = await openWorkspace({ home });
  const view = new Map(ws.listTasks().map((t) => [t.id, t]));
  await ws.close();
  // The journal: every version of every task, in order (archived tasks live on only here).
  const claims = new Map();
  const completions = new Map();
  const last = new Map();
  const journalDir = join(home, 'journal');
  for (const name of fs
    .readdirSync(journalDir)
    .filter((n) => /^\d{6}\.jsonl$/.test(n))
    .sort()) {
    for (const line of fs.readFileSync(join(journalDir, name), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const entry = JSON.parse(line);
      for (const { task } of entry.tasks ?? []) {
        const before = last.get(task.id);
        if (task.status === 'working' && before?.status !== 'working')
          claims.set(task.id, (claims.get(task.id) ?? 0) + 1);
        if (task.status === 'done') completions.set(task.id, (completions.get(task.id) ?? 0) + 1);
        last.set(task.id, task);
      }
    }
  }
  const ackCount = new Map();
  for (const id of acked) ackCount.set(id, (ackCount.get(id) ?? 0) + 1);
  let lost = 0;
  let duplicated = 0;
  let unacknowledged = 0;
  let done = 0;
  let archived = 0;
  let missing = 0;
  for (const id of ids) {
    const inView = view.get(id);
    if (!inView && last.get(id)) archived += 1;
    const final = inView ?? last.get(id);
    if (!final) {
      missing += 1;
      continue;
    }
    const historyDone = final.history.filter((h) => h.from === 'working' && h.to === 'done').length;
    const isDone = final.status === 'done';
    if (isDone) done += 1;
    const acks = ackCount.get(id) ?? 0;
    if (acks > 0 && !isDone) lost += 1;
    if (isDone && acks === 0) unacknowledged += 1;
    if (acks > 1 || historyDone > 1 || (claims.get(id) ?? 0) > 1 || (completions.get(id) ?? 0) > 1)
      duplicated += 1;
  }
  return { done, lost: lost + missing, duplicated, unacknowledged, archived, tasksInView: view.size };
}

async function runDreamos(board, processes, { warm, withDoctor }) {
  const { home, ids } = await dreamosWorkspace(board);
  const warmupHome = warm ? (await dreamosWorkspace(WARMUP_BOARD)).home : undefined;
  const result = await spawnWorkers(
    join(ROOT, 'bench', 'worker-dreamos.mjs'),
    Array.from({ length: processes }, (_, i) => ({
      home,
      warmupHome,
      agent: `agent-${i + 1}`,
      distIndex: DIST_INDEX,
      share: SHARE,
    })),
    CASE_SECONDS,
    {
      warmupSeconds: warm ? WARMUP_SECONDS : 0,
      // Only a warm-up can tell which process to elect; cold runs start all at once.
      lead: warm && processes > 1 && SHARE,
    },
  );
  const check = await verifyDreamos(home, ids, result.done);
  if (!withDoctor) return { ...summarise(result), ...check };
  const started = performance.now();
  const report = await doctor({ home });
  const doctorMs = performance.now() - started;
  return { ...summarise(result), ...check, doctorOk: report.ok, doctorMs: round(doctorMs, 0) };
}

// ------------------------------------------------------------------ SQLite

function sqliteDatabase(board) {
  const key = `sqlite-${board}`;
  if (!templates.has(key)) templates.set(key, { dir: sqliteTemplate(board) });
  return join(freshCopy(key, templates.get(key).dir), 'tasks.db');
}

function sqliteTemplate(board) {
  const dir = fs.mkdtempSync(join(tmpRoot, `template-sqlite-${board}-`));
  const file = join(dir, 'tasks.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`
    CREATE TABLE tasks (
      id INTEGER PRIMARY KEY,
      title TEXT NOT NULL,
      prompt TEXT,
      priority INTEGER NOT NULL,
      status TEXT NOT NULL,
      agent TEXT,
      lease_owner TEXT,
      lease_expires INTEGER,
      attempts INTEGER NOT NULL DEFAULT 0,
      stalls INTEGER NOT NULL DEFAULT 0,
      completions INTEGER NOT NULL DEFAULT 0,
      ready_since INTEGER NOT NULL,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    );
    CREATE INDEX tasks_ready ON tasks (status, priority, ready_since, id);
    CREATE INDEX tasks_lease ON tasks (status, lease_expires);
  `);
  const insert = db.prepare(
    `INSERT INTO tasks (id, title, prompt, priority, status, ready_since, created_at, updated_at)
     VALUES (@id, @title, @prompt, @priority, 'ready', @at, @at, @at)`,
  );
  const at = Date.now();
  db.transaction(() => {
    taskInputs(board).forEach((t, i) => {
      insert.run({
        id: i + 1,
        title: t.title,
        prompt: t.prompt,
        priority: t.priority === 'high' ? 1 : 2,
        at,
      });
    });
  })();
  db.close();
  return dir;
}

function verifySqlite(file, board, acked) {
  const db = new Database(file, { readonly: true });
  const rows = db.prepare('SELECT id, status, completions FROM tasks').all();
  db.close();
  const ackCount = new Map();
  for (const id of acked) ackCount.set(id, (ackCount.get(id) ?? 0) + 1);
  let lost = board - rows.length;
  let duplicated = 0;
  let unacknowledged = 0;
  let done = 0;
  for (const row of rows) {
    const acks = ackCount.get(row.id) ?? 0;
    if (row.status === 'done') done += 1;
    if (acks > 0 && row.status !== 'done') lost += 1;
    if (row.status === 'done' && acks === 0) unacknowledged += 1;
    if (acks > 1 || row.completions > 1) duplicated += 1;
  }
  return { done, lost, duplicated, unacknowledged };
}

async function runSqlite(board, processes, { warm }) {
  const file = sqliteDatabase(board);
  const warmupFile = warm ? sqliteDatabase(WARMUP_BOARD) : undefined;
  const result = await spawnWorkers(
    join(ROOT, 'bench', 'worker-sqlite.mjs'),
    Array.from({ length: processes }, (_, i) => ({
      file,
      warmupFile,
      agent: `agent-${i + 1}`,
      leaseSeconds: 900,
    })),
    CASE_SECONDS,
    { warmupSeconds: warm ? WARMUP_SECONDS : 0 },
  );
  return { ...summarise(result), ...verifySqlite(file, board, result.done) };
}

/** How the workspace's shared writer (state/writer/) took part in a run, for the log. */
function sharedSummary(run) {
  const writer = run.writer?.find((w) => w?.role === 'writer');
  if (!writer || writer.served === 0) return '';
  return ` (shared writer: ${writer.served} requests from the other processes, in ${writer.batches} batches)`;
}

function summarise({ start, end, done, claimMs, completeMs, writer }) {
  const seconds = (end - start) / 1000;
  return {
    rate: round(done.length / seconds, 1),
    cycles: done.length,
    seconds: round(seconds, 3),
    claimMsPerCycle: round(claimMs / Math.max(1, done.length), 3),
    completeMsPerCycle: round(completeMs / Math.max(1, done.length), 3),
    ...(writer ? { writer } : {}),
  };
}

// ------------------------------------------------------------------ CLI

function wallMs(args, cwd, env = {}) {
  const started = process.hrtime.bigint();
  const child = spawnSync(process.execPath, args, {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, ...env },
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (child.status !== 0)
    throw new Error(`node ${args.join(' ')} exited ${child.status}: ${child.stderr.slice(0, 500)}`);
  return { ms, stdout: child.stdout };
}

/** Which of ink and react a run of the CLI loads, and which modules it loads from node_modules. */
function loadedModules(args, cwd) {
  const file = join(tmpRoot, `modules-${process.hrtime.bigint()}.log`);
  const child = spawnSync(
    process.execPath,
    ['--import', pathToFileURL(join(ROOT, 'bench', 'record-modules.mjs')).href, ...args],
    { cwd, encoding: 'utf8', env: { ...process.env, BENCH_MODULE_LOG: file }, maxBuffer: 64 * 1024 * 1024 },
  );
  const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
  const packages = new Set(
    lines.map((l) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(l)?.[1]).filter((p) => p !== undefined),
  );
  return { status: child.status, modules: lines.length, packages: [...packages].sort() };
}

/** The packages bundled into the CLI (dist/cli.cjs), as the build recorded them from esbuild's metafile. */
function bundledPackages() {
  return JSON.parse(fs.readFileSync(join(APP, 'dist', 'cli.packages.json'), 'utf8'));
}

async function runCli() {
  const dir = fs.mkdtempSync(join(tmpRoot, 'cli-'));
  const ws = await initWorkspace({ dir });
  await ws.importTasks(taskInputs(1000));
  await ws.close();
  const list = [BIN, 'task', 'list', '--json'];
  const bare = ['-e', '0'];
  // Warm the file cache, and check the output once.
  const first = wallMs(list, dir);
  const listed = JSON.parse(first.stdout);
  if (!Array.isArray(listed) || listed.length !== 1000)
    throw new Error(
      `task list --json printed ${Array.isArray(listed) ? listed.length : typeof listed} tasks`,
    );
  wallMs(bare, dir);
  const listMs = [];
  const bareMs = [];
  const uncachedMs = [];
  for (let i = 0; i < CLI_RUNS; i++) {
    bareMs.push(wallMs(bare, dir).ms);
    listMs.push(wallMs(list, dir).ms);
    uncachedMs.push(wallMs(list, dir, { DREAMOS_NO_CODE_CACHE: '1' }).ms);
  }
  // Whether the timed runs used the code cache (the first run above wrote it if it was missing).
  const report = spawnSync(process.execPath, list, {
    cwd: dir,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, DREAMOS_CODE_CACHE_REPORT: '1' },
  });
  const codeCache = /code cache (\w+)/.exec(report.stderr)?.[1] ?? 'unknown';
  const loaded = loadedModules(list, dir);
  // A positive control: the same hook must see ink and react when they are imported.
  const control = loadedModules(['--input-type=module', '-e', "await import('ink')"], ROOT);
  const bundled = bundledPackages();
  const ratio = median(listMs) / median(bareMs);
  const inkOrReact = (pkgs) => pkgs.filter((p) => p === 'ink' || p === 'react' || p === 'react-dom');
  const hookWorks = inkOrReact(control.packages).length >= 2;
  const loadedUi = inkOrReact(loaded.packages);
  return {
    taskListJson: {
      medianMs: round(median(listMs), 1),
      runsMs: listMs.map((m) => round(m, 1)),
      tasks: listed.length,
      codeCache,
      withoutCodeCache: {
        medianMs: round(median(uncachedMs), 1),
        ratio: round(median(uncachedMs) / median(bareMs), 3),
      },
    },
    bareNode: { medianMs: round(median(bareMs), 1), runsMs: bareMs.map((m) => round(m, 1)) },
    ratio: { value: round(ratio, 3), bar: `< ${BARS.cliRatio}`, pass: ratio < BARS.cliRatio },
    inkReactLoaded: {
      value: loadedUi,
      packagesLoaded: loaded.packages,
      modulesLoaded: loaded.modules,
      bundledIntoCli: bundled,
      hookControl: { sawInkAndReact: hookWorks, packages: inkOrReact(control.packages) },
      bar: 'none loaded (and the hook sees them when they are)',
      pass: loaded.status === 0 && hookWorks && loadedUi.length === 0 && inkOrReact(bundled).length === 0,
    },
  };
}

// ------------------------------------------------------------------ main

/**
 * The floor under every durable store: appends of a 1 KB line, each followed by fdatasync. Measured at
 * the start and the end; when it is low the disk is busy with other work and the figures mean little.
 */
function appendFsyncRate(seconds = 0.5) {
  const file = join(tmpRoot, `fsync-${process.hrtime.bigint()}.log`);
  const fd = fs.openSync(file, 'a');
  const line = Buffer.from(`${'x'.repeat(1023)}\n`);
  const started = performance.now();
  let n = 0;
  while (performance.now() - started < seconds * 1000) {
    fs.writeSync(fd, line);
    fs.fdatasyncSync(fd);
    n++;
  }
  const rate = n / ((performance.now() - started) / 1000);
  fs.closeSync(fd);
  fs.rmSync(file);
  return round(rate, 0);
}

const benchStarted = performance.now();
const fsyncBefore = appendFsyncRate();
log(`bare append + fdatasync: ${fsyncBefore}/s`);

/** Best of the repeats (the run least disturbed by other load), with every run's figures kept. */
function combine(runs) {
  const best = runs.reduce((a, b) => (b.rate > a.rate ? b : a));
  const sum = (key) => runs.reduce((total, r) => total + (r[key] ?? 0), 0);
  return {
    rate: best.rate,
    rates: runs.map((r) => r.rate),
    lost: sum('lost'),
    duplicated: sum('duplicated'),
    ...(runs[0].doctorOk !== undefined ? { doctorOk: runs.every((r) => r.doctorOk !== false) } : {}),
    runs,
  };
}

const selected = [];
for (const board of BOARDS) {
  for (const processes of PROCESSES) {
    if (!ONLY || ONLY.includes(`${board}x${processes}`))
      selected.push({ board, processes, dreamosRuns: [], sqliteRuns: [] });
  }
}
const warm = WARMUP_SECONDS > 0;
// The board sizes of one process count take turns, repeat by repeat, as Dream.OS and SQLite do:
// the 10,000/1,000 ratio then compares runs made seconds apart, not a minute apart (this machine's
// disk and neighbours change the rates by a third from one minute to the next).
for (const processes of PROCESSES) {
  const group = selected.filter((c) => c.processes === processes);
  for (let r = 0; r < REPEATS; r++) {
    for (const { board, dreamosRuns, sqliteRuns } of group) {
      log(
        `state: ${board} tasks, ${processes} process(es), run ${r + 1}/${REPEATS}${warm ? ' (warmed up)' : ''}`,
      );
      dreamosRuns.push(await runDreamos(board, processes, { warm, withDoctor: r === 0 }));
      sqliteRuns.push(await runSqlite(board, processes, { warm }));
      log(
        `  Dream.OS ${dreamosRuns.at(-1).rate}/s, SQLite ${sqliteRuns.at(-1).rate}/s${sharedSummary(dreamosRuns.at(-1))}`,
      );
    }
  }
}

const cases = [];
for (const { board, processes, dreamosRuns, sqliteRuns } of selected) {
  const dreamos = combine(dreamosRuns);
  const sqlite = combine(sqliteRuns);
  const ratio = dreamos.rate / sqlite.rate;
  // For the record: one run by fresh processes (no warm-up), checked like the others.
  let cold = null;
  if (warm) {
    log(`state: ${board} tasks, ${processes} process(es), cold run`);
    const d = await runDreamos(board, processes, { warm: false, withDoctor: false });
    const q = await runSqlite(board, processes, { warm: false });
    log(`  Dream.OS ${d.rate}/s, SQLite ${q.rate}/s`);
    cold = {
      rate: d.rate,
      sqliteRate: q.rate,
      ratioToSqlite: round(d.rate / q.rate, 3),
      dreamos: d,
      sqlite: q,
    };
  }
  cases.push({
    board,
    processes,
    rate: dreamos.rate,
    sqliteRate: sqlite.rate,
    ratioToSqlite: {
      value: round(ratio, 3),
      bar: `>= ${BARS.ratioToSqlite}`,
      pass: ratio >= BARS.ratioToSqlite,
    },
    cold,
    integrity: {
      lost: dreamos.lost + (cold?.dreamos.lost ?? 0),
      duplicated: dreamos.duplicated + (cold?.dreamos.duplicated ?? 0),
      doctorOk: dreamos.doctorOk,
      sqliteLost: sqlite.lost,
      sqliteDuplicated: sqlite.duplicated,
      bar: 'lost = duplicated = 0, doctor clean',
      pass: dreamos.lost === 0 && dreamos.duplicated === 0 && dreamos.doctorOk,
    },
    dreamos,
    sqlite,
  });
}
for (const c of cases) {
  if (c.board === BOARDS[0]) continue;
  const small = cases.find((s) => s.board === BOARDS[0] && s.processes === c.processes);
  if (!small) continue;
  const ratio = c.rate / small.rate;
  c.scale10kTo1k = {
    value: round(ratio, 3),
    sqlite: round(c.sqliteRate / small.sqliteRate, 3),
    bar: `>= ${BARS.scale10kTo1k}`,
    pass: ratio >= BARS.scale10kTo1k,
  };
}

let cli = null;
if (!ONLY || ONLY.includes('cli')) {
  log('cli: task list --json vs node -e 0…');
  cli = await runCli();
  log(`  ${cli.taskListJson.medianMs} ms vs ${cli.bareNode.medianMs} ms`);
}

// Dispatch and the console, each from its own module.
let dispatch = null;
if (!ONLY || ONLY.includes('dispatch')) {
  log('dispatch: add-to-start latency and idle orchestrator CPU');
  const { benchDispatch } = await import('./dispatch.mjs');
  dispatch = await benchDispatch({ root: APP });
  log(`  median ${dispatch.addToStartMs.median} ms, idle ${dispatch.idleOrchestratorCore.value} % of a core`);
}
// API reads through `dreamos serve`, beside a bare node:http server (bench/api.mjs).
let apiFigures = null;
if (!ONLY || ONLY.includes('api')) {
  log('api: GET /api/v1/tasks?limit=50 on 10,000 tasks at 50 connections vs bare node:http');
  const { benchApi } = await import('./api.mjs');
  apiFigures = await benchApi({
    root: APP,
    repeats: REPEATS,
    seconds: Number(process.env.BENCH_API_SECONDS ?? 5),
  });
  log(
    `  ${Math.round(apiFigures.api.requestsPerSecond)} req/s (p99 ${apiFigures.api.p99Ms} ms) vs ${Math.round(apiFigures.bare.requestsPerSecond)} bare (${apiFigures.ratioToBare.value}), ${Math.round(apiFigures.static.requestsPerSecond)} static`,
  );
}
// Events: a change by another process until its SSE event, and until its first webhook attempt.
let eventFigures = null;
if (!ONLY || ONLY.includes('api') || ONLY.includes('events')) {
  log('events: change by another process → SSE event, → first webhook attempt');
  const { benchEvents } = await import('./api-events.mjs');
  eventFigures = await benchEvents({ root: APP });
  log(
    `  stream p50 ${eventFigures.stream.p50Ms} ms, p99 ${eventFigures.stream.p99Ms} ms; webhook p50 ${eventFigures.webhook.p50Ms} ms, p99 ${eventFigures.webhook.p99Ms} ms`,
  );
}
// The scout: 10 feeds of 500 items through one `dreamos scout run` (bench/scout.mjs).
let scoutFigures = null;
if (!ONLY || ONLY.includes('scout')) {
  log('scout: 10 RSS sources × 500 items into tasks');
  const { scoutFigure } = await import('./scout.mjs');
  scoutFigures = await scoutFigure({ bin: BIN, tmpRoot });
  log(`  ${scoutFigures.wallSeconds} s, ${scoutFigures.itemsPerSecond} items/s`);
}
// The merge queue: 20 code tasks merged end to end by one `dreamos merge run` (bench/merge.mjs).
let mergeFigures = null;
if (!ONLY || ONLY.includes('merge')) {
  log('merge: 20 code tasks, policy auto, gate `true`, through one `dreamos merge run`');
  const { mergeFigure } = await import('./merge.mjs');
  mergeFigures = await mergeFigure({ bin: BIN, tmpRoot });
  log(
    `  ${mergeFigures.mergesPerMinute} merges/min, queue ${mergeFigures.queueSecondsPerMerge.value} s per merge (bar < ${mergeFigures.queueSecondsPerMerge.bar} s)`,
  );
}
// GitHub: signed deliveries through `dreamos serve` until the 202, and until the task is in the journal.
let githubFigures = null;
if (!ONLY || ONLY.includes('github')) {
  log('github: signed issue deliveries → 202, → task in the journal');
  const { githubFigure } = await import('./github.mjs');
  githubFigures = await githubFigure({ root: APP, tmpRoot });
  log(
    `  202 p50 ${githubFigures.ackP50Ms} ms, p99 ${githubFigures.ackP99Ms} ms; task p99 ${githubFigures.toTaskP99Ms} ms`,
  );
}
// Discord: signed interactions through `dreamos serve` until Discord would have its answer.
let discordFigures = null;
if (!ONLY || ONLY.includes('discord')) {
  log('discord: signed interactions → acknowledgement');
  const { discordFigure } = await import('./discord.mjs');
  discordFigures = await discordFigure({ root: APP, tmpRoot });
  log(`  p50 ${discordFigures.ackP50Ms} ms, p99 ${discordFigures.ackP99Ms} ms`);
}
// Live sessions: a keystroke from an attached client until its echo is back on that client's stream.
let ptyFigures = null;
if (!ONLY || ONLY.includes('pty')) {
  log('pty: keystroke → echoed on the attached screen');
  const { ptyFigure } = await import('./pty.mjs');
  ptyFigures = await ptyFigure({ root: APP, tmpRoot });
  log(`  p50 ${ptyFigures.p50Ms} ms, p95 ${ptyFigures.p95Ms} ms, p99 ${ptyFigures.p99Ms} ms`);
}
// The console with eight live screens: keypress → frame, and its memory over the run.
let consolePtyFigures = null;
if (!ONLY || ONLY.includes('console-pty')) {
  log('console-pty: keypress → frame with 8 pty agents at 200 lines/s each on the dashboard, memory');
  const { consolePtyFigure } = await import('./console-pty.mjs');
  consolePtyFigures = await consolePtyFigure({ root: APP, tmpRoot });
  const { keyToFrame: k, rss } = consolePtyFigures;
  log(`  p50 ${k.p50Ms} ms, p95 ${k.p95Ms} ms; RSS ${rss.startMB} → ${rss.endMB} MB (peak ${rss.peakMB})`);
}
let consoleFigures = null;
if (!ONLY || ONLY.includes('console')) {
  log('console: first frame, keypress latency with 10,000 tasks and chatty agents, memory');
  const { benchConsole } = await import('./console.mjs');
  consoleFigures = await benchConsole({ root: APP });
}
let consoleBulkFigures = null;
if (!ONLY || ONLY.includes('console') || ONLY.includes('console-bulk')) {
  log('console: keys with 500 of 10,000 tasks marked, a bulk retry of 1,000 failed tasks');
  const { benchConsoleBulk } = await import('./console-bulk.mjs');
  consoleBulkFigures = await benchConsoleBulk({ root: APP });
}

// PostgreSQL: the backend through the library beside the bare-SQL reference (bench/pg-reference.mjs),
// by 1, 4 and 16 processes, then pickup latency and recovery after a killed host (bench/pg-dreamos.mjs).
const PG_BARS = { rate: 2000, ratioToReference: 0.7, pickupP50: 5, pickupP99: 20, recoveryAfterLease: 10 };
const pgPart = (part) => !ONLY || ONLY.includes('pg') || ONLY.includes(`pg-${part}`);
let pgFigures = null;
if (pgPart('cycles') || pgPart('pickup') || pgPart('recovery')) {
  const { pgReference, pgServer, PG_BENCH_URL, PG_TASKS, PG_WORKERS, redactUrl } = await import(
    './pg-reference.mjs'
  );
  const { pgDreamosCycles, pgPickup, pgRecovery } = await import('./pg-dreamos.mjs');
  const server = await pgServer();
  if (!server) {
    const line = `PostgreSQL at ${redactUrl(PG_BENCH_URL)} did not answer: pg figures skipped`;
    log(`pg: ${line}`);
    pgFigures = { skipped: line };
  } else {
    log(
      `pg: PostgreSQL ${server.version}, fsync ${server.fsync}, synchronous_commit ${server.synchronousCommit}`,
    );
    const pgCases = [];
    if (pgPart('cycles')) {
      for (const tasks of PG_TASKS) {
        for (const workers of PG_WORKERS) {
          const referenceRuns = [];
          const dreamosRuns = [];
          // The same processes each writing for itself, as on as many hosts (no shared writer).
          const hostRuns = [];
          // The reference and the library take turns, run by run, so that their ratio is like for like.
          for (let r = 0; r < REPEATS; r++) {
            referenceRuns.push(
              await pgReference({ workers, tasks, seconds: CASE_SECONDS, warmupSeconds: WARMUP_SECONDS }),
            );
            const cycles = {
              lib: { initWorkspace },
              distIndex: DIST_INDEX,
              benchDir: join(ROOT, 'bench'),
              tmpRoot,
              taskInputs,
              url: PG_BENCH_URL,
              workers,
              tasks,
              seconds: CASE_SECONDS,
              warmupSeconds: WARMUP_SECONDS,
            };
            dreamosRuns.push(await pgDreamosCycles(cycles));
            if (workers > 1) hostRuns.push(await pgDreamosCycles({ ...cycles, share: false }));
            log(
              `  pg ${tasks} tasks, ${workers} process(es), run ${r + 1}/${REPEATS}: Dream.OS ${dreamosRuns.at(-1).rate}/s${sharedSummary(dreamosRuns.at(-1))}, reference ${referenceRuns.at(-1).rate}/s${workers > 1 ? `, one process per host ${hostRuns.at(-1).rate}/s` : ''} (load ${os.loadavg()[0].toFixed(1)})`,
            );
          }
          const reference = combine(referenceRuns);
          const dreamos = combine(dreamosRuns);
          const perHost = hostRuns.length > 0 ? combine(hostRuns) : null;
          const ratio = dreamos.rate / reference.rate;
          pgCases.push({
            tasks,
            workers,
            rate: dreamos.rate,
            referenceRate: reference.rate,
            rateBar: { bar: `>= ${PG_BARS.rate}`, pass: dreamos.rate >= PG_BARS.rate },
            ratioToReference: {
              value: round(ratio, 3),
              bar: `>= ${PG_BARS.ratioToReference}`,
              pass: ratio >= PG_BARS.ratioToReference,
            },
            integrity: {
              lost: dreamos.lost + (perHost?.lost ?? 0),
              duplicated: dreamos.duplicated + (perHost?.duplicated ?? 0),
              referenceLost: reference.lost,
              referenceDuplicated: reference.duplicated,
              bar: 'lost = duplicated = 0',
              pass:
                dreamos.lost === 0 &&
                dreamos.duplicated === 0 &&
                (perHost?.lost ?? 0) === 0 &&
                (perHost?.duplicated ?? 0) === 0 &&
                reference.lost === 0 &&
                reference.duplicated === 0,
            },
            dreamos,
            reference,
            // Not a bar: the processes as on as many hosts, each writing for itself, for comparison.
            ...(perHost
              ? {
                  onePerHost: {
                    rate: perHost.rate,
                    ratioToReference: round(perHost.rate / reference.rate, 3),
                    lost: perHost.lost,
                    duplicated: perHost.duplicated,
                  },
                }
              : {}),
          });
        }
      }
    }
    const hosts = { lib: { initWorkspace }, bin: BIN, tmpRoot, url: PG_BENCH_URL };
    let pickup = null;
    if (pgPart('pickup')) {
      log('pg: pickup, a task added on host A → started by `dreamos run` on host B');
      pickup = await pgPickup({ ...hosts, p50Bar: PG_BARS.pickupP50, p99Bar: PG_BARS.pickupP99 });
      log(`  p50 ${pickup.p50Ms} ms, p99 ${pickup.p99Ms} ms over ${pickup.picked} tasks`);
    }
    let recovery = null;
    if (pgPart('recovery')) {
      log('pg: recovery, host A killed while holding leased tasks → claimed again by host B');
      recovery = await pgRecovery({ ...hosts, afterLeaseBar: PG_BARS.recoveryAfterLease });
      log(`  ${recovery.seconds} s (lease ${recovery.leaseSeconds} s)`);
    }
    pgFigures = {
      server,
      url: redactUrl(PG_BENCH_URL),
      unit: 'claim-and-complete cycles per second',
      cases: pgCases,
      pickup,
      recovery,
      loadAverage: os.loadavg().map((l) => round(l, 2)),
    };
  }
}

const fsyncAfter = appendFsyncRate();
const SLOW_FSYNC = 1000;
const checks = [
  ...cases.flatMap((c) => [
    { figure: `state ${c.board}/${c.processes}p ratio to SQLite`, pass: c.ratioToSqlite.pass },
    { figure: `state ${c.board}/${c.processes}p lost/duplicated`, pass: c.integrity.pass },
    ...(c.scale10kTo1k ? [{ figure: `state ${c.processes}p 10k/1k`, pass: c.scale10kTo1k.pass }] : []),
  ]),
  ...(cli
    ? [
        { figure: 'cli ratio to node -e 0', pass: cli.ratio.pass },
        { figure: 'cli ink/react not loaded', pass: cli.inkReactLoaded.pass },
      ]
    : []),
  ...(dispatch
    ? [
        { figure: 'dispatch add-to-start median', pass: dispatch.addToStartMs.pass },
        { figure: 'dispatch idle orchestrator CPU', pass: dispatch.idleOrchestratorCore.pass },
      ]
    : []),
  ...(apiFigures
    ? [
        { figure: 'api reads ratio to bare node:http', pass: apiFigures.ratioToBare.pass },
        { figure: 'api reads p99', pass: apiFigures.p99.pass },
      ]
    : []),
  ...(eventFigures
    ? [
        { figure: 'events: change → SSE event p99', pass: eventFigures.stream.pass },
        { figure: 'events: change → first webhook attempt p99', pass: eventFigures.webhook.pass },
      ]
    : []),
  ...(mergeFigures
    ? [{ figure: 'merge queue time per merge', pass: mergeFigures.queueSecondsPerMerge.pass }]
    : []),
  ...(githubFigures ? [{ figure: 'github delivery → 202 p99', pass: githubFigures.ackP99Ms <= 200 }] : []),
  ...(discordFigures
    ? [{ figure: 'discord interaction → acknowledged p99', pass: discordFigures.ackP99Ms <= 500 }]
    : []),
  ...(pgFigures?.cases ?? []).flatMap((c) => [
    { figure: `pg ${c.tasks}/${c.workers}p lost/duplicated`, pass: c.integrity.pass },
    { figure: `pg ${c.tasks}/${c.workers}p rate`, pass: c.rateBar.pass },
    { figure: `pg ${c.tasks}/${c.workers}p ratio to reference`, pass: c.ratioToReference.pass },
  ]),
  ...(pgFigures?.pickup ? [{ figure: 'pg pickup latency', pass: pgFigures.pickup.pass }] : []),
  ...(pgFigures?.recovery
    ? [{ figure: 'pg recovery after a killed host', pass: pgFigures.recovery.pass }]
    : []),
  ...(ptyFigures ? [{ figure: 'pty keystroke → echo p95', pass: ptyFigures.pass }] : []),
  ...(consolePtyFigures
    ? [
        { figure: 'console-pty keypress → frame p95', pass: consolePtyFigures.keyToFrame.pass },
        { figure: 'console-pty RSS flat', pass: consolePtyFigures.rss.pass },
      ]
    : []),
  ...Object.entries(consoleFigures ?? {})
    .filter(([, v]) => v && typeof v === 'object' && 'pass' in v)
    .map(([k, v]) => ({ figure: `console ${k}`, pass: v.pass })),
  ...Object.entries(consoleBulkFigures ?? {})
    .filter(([, v]) => v && typeof v === 'object' && 'pass' in v)
    .map(([k, v]) => ({ figure: `console ${k}`, pass: v.pass })),
];

const document = {
  bench: 'dreamos SPEC §8: state, CLI, dispatch and console',
  at: new Date().toISOString(),
  machine: {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    tmpdir: os.tmpdir(),
    loadAverage: os.loadavg().map((l) => round(l, 2)),
    appendFdatasyncPerSecond: { start: fsyncBefore, end: fsyncAfter },
    ...(Math.min(fsyncBefore, fsyncAfter) < SLOW_FSYNC
      ? {
          warning: `a bare append + fdatasync ran below ${SLOW_FSYNC}/s: the disk is busy with other work, so disk latency dominates both engines and the state figures are not representative`,
        }
      : {}),
  },
  method: {
    caseSeconds: CASE_SECONDS,
    repeats: REPEATS,
    warmupSeconds: WARMUP_SECONDS,
    rate: 'steady state: best of the repeats; each run on a fresh store, until the time box ends or the board is empty, by processes that first ran the same loop for warmupSeconds on a warm-up store they share (a 2,000-task board), as a long-running orchestrator has; the shared writer of the warm-up starts first and is the writer again',
    cold: 'one more run per case by fresh processes (no warm-up), for the record: it includes V8 compiling the code while it runs',
    sharedWriter: SHARE ? 'on, as for any library user' : 'off (BENCH_SHARE=0)',
  },
  state: { unit: 'claim-and-complete cycles per second', cases },
  cli,
  dispatch,
  api: apiFigures,
  console: consoleFigures,
  consoleBulk: consoleBulkFigures,
  events: eventFigures,
  scout: scoutFigures,
  merge: mergeFigures,
  github: githubFigures,
  discord: discordFigures,
  pty: ptyFigures,
  consolePty: consolePtyFigures,
  pg: pgFigures,
  failed: checks.filter((c) => !c.pass).map((c) => c.figure),
  pass: checks.every((c) => c.pass),
  benchSeconds: round((performance.now() - benchStarted) / 1000, 1),
};
const json = `${JSON.stringify(document, null, 2)}\n`;
// `npm run bench` prints npm's banner on stdout too; BENCH_OUT=file keeps a clean copy.
if (process.env.BENCH_OUT) fs.writeFileSync(process.env.BENCH_OUT, json);
process.stdout.write(json);
