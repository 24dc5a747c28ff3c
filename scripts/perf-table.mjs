// The figures table of docs/performance.md, generated from the JSON documents `npm run bench` writes
// (BENCH_OUT=file). One column per results file, one row per figure any of them measured, each beside
// its bar; a figure outside its bar is marked.
//   node scripts/perf-table.mjs [FILE…]           prints the Markdown table
//   node scripts/perf-table.mjs --write [FILE…]   rewrites it in docs/performance.md between
//                                                 <!-- perf:start --> and <!-- perf:end -->
//   node scripts/perf-table.mjs --check [FILE…]   exits 1 when that table is not the current one
// Without FILE, every bench/results/*.json, in name order (name them <date>-<host>[-part].json).
import fs from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generatedSection } from './generated-section.mjs';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const DOC = join('docs', 'performance.md');
const RESULTS = join('bench', 'results');

const args = process.argv.slice(2);
let files = args.filter((a) => !a.startsWith('--'));
if (files.length === 0) {
  const dir = join(ROOT, RESULTS);
  files = fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((name) => name.endsWith('.json'))
        .sort()
        .map((name) => join(RESULTS, name))
    : [];
}
if (files.length === 0) {
  process.stderr.write(`perf-table: no results: run BENCH_OUT=${RESULTS}/<date>-<host>.json npm run bench\n`);
  process.exit(1);
}
const runs = files.map((file) => ({
  name: basename(file, '.json'),
  path: resolve(ROOT, file),
  doc: JSON.parse(fs.readFileSync(resolve(ROOT, file), 'utf8')),
}));

const num = (n, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ratio = (n) => num(n, 2);
/** A measured value, marked when it is outside its bar. */
const cell = (text, pass) => (pass === false ? `${text} **(outside the bar)**` : text);

/**
 * Each figure: its label, its bar, and how to read it from one results document (undefined when that
 * run did not measure it). Rows follow the order of the bench's own report.
 */
function figures(doc) {
  const rows = [];
  const add = (key, label, bar, value) => rows.push({ key, label, bar, value });
  for (const c of doc.state?.cases ?? []) {
    const procs = c.processes === 1 ? '1 process' : `${c.processes} processes (shared writer)`;
    const cold = c.cold ? ` (cold ${ratio(c.cold.ratioToSqlite)})` : '';
    add(
      `state-${c.board}x${c.processes}`,
      `claim+complete cycles/s, ${num(c.board)} tasks, ${procs}`,
      '≥ 0.25 of SQLite (WAL, synchronous=FULL)',
      cell(
        `${num(c.rate)} vs SQLite ${num(c.sqliteRate)} → ${ratio(c.ratioToSqlite.value)}${cold}`,
        c.ratioToSqlite.pass,
      ),
    );
  }
  for (const c of doc.state?.cases ?? []) {
    if (!c.scale10kTo1k) continue;
    add(
      `scale-${c.processes}`,
      `10,000-task rate / 1,000-task rate, ${c.processes === 1 ? '1 process' : `${c.processes} processes`}`,
      '≥ 0.7',
      cell(`${ratio(c.scale10kTo1k.value)} (SQLite ${ratio(c.scale10kTo1k.sqlite)})`, c.scale10kTo1k.pass),
    );
  }
  const cases = doc.state?.cases ?? [];
  if (cases.length > 0) {
    const lost = cases.reduce((n, c) => n + c.integrity.lost, 0);
    const duplicated = cases.reduce((n, c) => n + c.integrity.duplicated, 0);
    const clean = cases.every((c) => c.integrity.doctorOk !== false);
    add(
      'integrity',
      'lost / duplicated transitions, doctor',
      '0 / 0, clean',
      cell(
        `${lost} / ${duplicated}, ${clean ? 'clean' : 'problems'}`,
        cases.every((c) => c.integrity.pass),
      ),
    );
  }
  const cli = doc.cli;
  if (cli) {
    add(
      'cli',
      `\`dreamos task list --json\` (${num(cli.taskListJson.tasks)} tasks), wall time`,
      '< 2.5 × `node -e 0`',
      cell(
        `${ratio(cli.ratio.value)} × (${num(cli.taskListJson.medianMs)} ms vs ${num(cli.bareNode.medianMs)} ms; ${ratio(cli.taskListJson.withoutCodeCache.ratio)} × without the code cache)`,
        cli.ratio.pass,
      ),
    );
    const loaded = cli.inkReactLoaded;
    const ui = (names) => names.filter((n) => n === 'ink' || n === 'react' || n === 'react-dom');
    const seen = [...new Set([...loaded.value, ...ui(loaded.bundledIntoCli ?? [])])];
    add(
      'cli-ui',
      'ink / react bundled into or loaded by headless commands',
      'none',
      cell(seen.length ? seen.join(', ') : 'none', loaded.pass),
    );
  }
  const dispatch = doc.dispatch;
  if (dispatch) {
    add(
      'dispatch',
      'task added by another process → started on an idle agent',
      '< 100 ms (median)',
      cell(
        `median ${num(dispatch.addToStartMs.median)} ms, p90 ${num(dispatch.addToStartMs.p90)} ms`,
        dispatch.addToStartMs.pass,
      ),
    );
    add(
      'idle',
      'idle orchestrator CPU',
      '< 2 % of a core',
      cell(`${num(dispatch.idleOrchestratorCore.value, 1)} % of a core`, dispatch.idleOrchestratorCore.pass),
    );
  }
  const api = doc.api;
  if (api) {
    add(
      'api-reads',
      '`GET /api/v1/tasks?limit=50`, 10,000 tasks, 50 connections (`dreamos serve`)',
      '≥ 0.5 of bare node:http, p99 < 20 ms',
      cell(
        `${num(api.api.requestsPerSecond)} req/s vs bare ${num(api.bare.requestsPerSecond)} → ${ratio(api.ratioToBare.value)}, p99 ${num(api.api.p99Ms)} ms (static bytes: ${num(api.static.requestsPerSecond)} req/s)`,
        api.ratioToBare.pass && api.p99.pass,
      ),
    );
  }
  const ev = doc.events;
  if (ev) {
    add(
      'events-stream',
      'change by another process → its event on `GET /api/v1/events`',
      'p99 ≤ 100 ms',
      cell(
        `p50 ${num(ev.stream.p50Ms)} ms, p99 ${num(ev.stream.p99Ms)} ms (${ev.stream.samples} events)`,
        ev.stream.pass,
      ),
    );
    add(
      'events-webhook',
      'change by another process → first webhook attempt',
      'p99 ≤ 1 s',
      cell(
        `p50 ${num(ev.webhook.p50Ms)} ms, p99 ${num(ev.webhook.p99Ms)} ms (${ev.webhook.samples} events)`,
        ev.webhook.pass,
      ),
    );
  }
  const gh = doc.github;
  if (gh)
    add(
      'github',
      'signed GitHub delivery → 202, → task in the journal (`dreamos serve`)',
      '202 p99 ≤ 200 ms',
      cell(
        `202 p50 ${num(gh.ackP50Ms, 1)} ms, p99 ${num(gh.ackP99Ms, 1)} ms; task p99 ${num(gh.toTaskP99Ms, 1)} ms (${gh.samples} deliveries)`,
        gh.ackP99Ms <= 200,
      ),
    );
  const dc = doc.discord;
  if (dc)
    add(
      'discord',
      'signed Discord interaction → acknowledged (`dreamos serve`)',
      'p99 ≤ 500 ms',
      cell(
        `p50 ${num(dc.ackP50Ms, 1)} ms, p99 ${num(dc.ackP99Ms, 1)} ms (${dc.samples} interactions)`,
        dc.ackP99Ms <= 500,
      ),
    );
  const scout = doc.scout;
  if (scout)
    add(
      'scout',
      'scout: 10 RSS sources × 500 items into tasks (`dreamos scout run`)',
      '',
      `${num(scout.wallSeconds, 2)} s, ${num(scout.itemsPerSecond)} items/s`,
    );
  const con = doc.console;
  if (con) {
    add('frame', 'console first frame', '< 1 s', cell(`${num(con.firstFrame.ms)} ms`, con.firstFrame.pass));
    add(
      'full-frame',
      `console first frame showing agents and a ${num(con.board)}-task board`,
      '< 1 s',
      cell(`${num(con.firstFullFrame.ms)} ms`, con.firstFullFrame.pass),
    );
    add(
      'key',
      `keypress → frame, ${num(con.board)} tasks, ${con.agents} agents × ${con.linesPerSecondPerAgent} lines/s`,
      'p95 < 50 ms',
      cell(`p50 ${num(con.keyToFrame.p50Ms)} ms, p95 ${num(con.keyToFrame.p95Ms)} ms`, con.keyToFrame.pass),
    );
    add(
      'live',
      'change by another process shown in the console',
      'p95 < 200 ms, none missed',
      cell(`p95 ${num(con.liveUpdate.p95Ms)} ms, ${con.liveUpdate.missed} missed`, con.liveUpdate.pass),
    );
    const sign = (n) => (n < 0 ? `−${num(-n, 1)}` : `+${num(n, 1)}`);
    add(
      'memory',
      `console memory over ${con.memory.seconds} s`,
      'heap < +16 MB, RSS < +64 MB',
      cell(
        `heap ${sign(con.memory.heapGrowthMB)} MB, RSS ${sign(con.memory.rssGrowthMB)} MB`,
        con.memory.pass,
      ),
    );
  }
  if (con?.diffView)
    add(
      'diff-view',
      `diff view's first frame, ${num(con.diffView.lines)}-line diff (\`d\` → frame)`,
      '< 200 ms',
      cell(`${num(con.diffView.ms)} ms`, con.diffView.pass),
    );
  const bulk = doc.consoleBulk;
  if (bulk) {
    add(
      'bulk-keys',
      `keypress → frame, ${num(bulk.board)} tasks, ${num(bulk.marked)} marked`,
      'p95 < 50 ms',
      cell(
        `p50 ${num(bulk.keyToFrameWhileMarked.p50Ms)} ms, p95 ${num(bulk.keyToFrameWhileMarked.p95Ms)} ms`,
        bulk.keyToFrameWhileMarked.pass,
      ),
    );
    add(
      'bulk-retry',
      `bulk retry of ${num(bulk.bulkRetry.tasks)} failed tasks, confirmed → done`,
      '< 2 s, progress shown',
      cell(
        `${num(bulk.bulkRetry.ms)} ms (progress at ${num(bulk.bulkRetry.progressShownAtMs)} ms, ${bulk.bulkRetry.journalEntries} journal entry)`,
        bulk.bulkRetry.pass,
      ),
    );
  }
  const merge = doc.merge;
  if (merge)
    add(
      'merge',
      `merge queue, ${merge.tasks} code tasks (\`dreamos merge run\`): own time per merge`,
      '< 1 s',
      cell(
        `${num(merge.queueSecondsPerMerge.value, 3)} s (${num(merge.mergesPerMinute)} merges/min)`,
        merge.queueSecondsPerMerge.pass,
      ),
    );
  const pty = doc.pty;
  if (pty)
    add(
      'pty-echo',
      'keystroke → echoed on an attached `pty` session',
      'p95 < 30 ms',
      cell(`p50 ${num(pty.p50Ms, 1)} ms, p95 ${num(pty.p95Ms, 1)} ms`, pty.pass),
    );
  const cp = doc.consolePty;
  if (cp) {
    add(
      'pty-keys',
      `keypress → frame, ${cp.agents} \`pty\` agents × ${num(cp.linesPerSecondPerAgent)} lines/s`,
      'p95 < 50 ms',
      cell(`p50 ${num(cp.keyToFrame.p50Ms)} ms, p95 ${num(cp.keyToFrame.p95Ms)} ms`, cp.keyToFrame.pass),
    );
    add(
      'pty-memory',
      `console RSS over ${cp.seconds} s with live screens (start → end, peak)`,
      'RSS < +64 MB',
      cell(`${num(cp.rss.startMB)} → ${num(cp.rss.endMB)} MB, peak ${num(cp.rss.peakMB)} MB`, cp.rss.pass),
    );
  }
  const pgDoc = doc.pg;
  if (pgDoc?.skipped) add('pg-skipped', 'PostgreSQL backend', '', pgDoc.skipped);
  for (const c of pgDoc?.cases ?? []) {
    if (c.rate === undefined) continue;
    const procs = c.workers === 1 ? '1 process' : `${c.workers} processes`;
    add(
      `pg-${c.tasks}x${c.workers}`,
      `PostgreSQL: claim+complete cycles/s, ${num(c.tasks)} tasks, ${procs}`,
      '≥ 2,000, and ≥ 0.7 of bare SQL (SKIP LOCKED)',
      cell(
        `${num(c.rate)} vs bare SQL ${num(c.referenceRate)} → ${ratio(c.ratioToReference.value)}${
          c.onePerHost
            ? ` (each process writing for itself, as on ${c.workers} hosts: ${num(c.onePerHost.rate)} → ${ratio(c.onePerHost.ratioToReference)})`
            : ''
        }`,
        c.rateBar.pass && c.ratioToReference.pass,
      ),
    );
  }
  const pgCases = (pgDoc?.cases ?? []).filter((c) => c.rate !== undefined);
  if (pgCases.length > 0) {
    const lost = pgCases.reduce((n, c) => n + c.integrity.lost, 0);
    const duplicated = pgCases.reduce((n, c) => n + c.integrity.duplicated, 0);
    add(
      'pg-integrity',
      'PostgreSQL: lost / duplicated transitions',
      '0 / 0',
      cell(
        `${lost} / ${duplicated}`,
        pgCases.every((c) => c.integrity.pass),
      ),
    );
  }
  if (pgDoc?.pickup) {
    const p = pgDoc.pickup;
    add(
      'pg-pickup',
      `PostgreSQL: task added on one host → started by \`dreamos run\` on another (${p.samples} tasks)`,
      'p50 ≤ 5 ms, p99 ≤ 20 ms',
      cell(`p50 ${num(p.p50Ms)} ms, p99 ${num(p.p99Ms)} ms${p.missed ? `, ${p.missed} missed` : ''}`, p.pass),
    );
  }
  if (pgDoc?.recovery) {
    const r = pgDoc.recovery;
    add(
      'pg-recovery',
      `PostgreSQL: host killed → its leased tasks claimed by another host (lease ${r.leaseSeconds} s, heartbeat ${r.heartbeatSeconds} s)`,
      '≤ lease + 10 s',
      cell(r.reclaimed ? `${num(r.seconds, 1)} s` : 'not reclaimed', r.pass),
    );
  }
  return rows;
}

function machine(doc) {
  const m = doc.machine;
  const fsync = m.appendFdatasyncPerSecond;
  return [
    { key: 'when', label: 'measured', bar: '', value: doc.at.slice(0, 16).replace('T', ' ') },
    {
      key: 'machine',
      label: 'machine',
      bar: '',
      value: `${m.cpus} × ${m.cpuModel ?? 'cpu'}, Node ${m.node.replace(/^v/, '')}`,
    },
    { key: 'load', label: 'load average (1, 5, 15 min)', bar: '', value: m.loadAverage.join(', ') },
    {
      key: 'fsync',
      label: 'bare append + fdatasync per second (start, end)',
      bar: '',
      value: `${num(fsync.start)}, ${num(fsync.end)}${m.warning ? ' **(disk busy: state figures not representative)**' : ''}`,
    },
  ];
}

const perRun = runs.map((run) => new Map([...machine(run.doc), ...figures(run.doc)].map((r) => [r.key, r])));
const order = [];
for (const rows of perRun) {
  for (const [key, row] of rows) if (!order.some((r) => r.key === key)) order.push(row);
}
const cellText = (text) => text.replaceAll('|', '\\|');
const table = [
  `| figure | bar | ${runs.map((r) => `\`${r.name}\``).join(' | ')} |`,
  `| --- | --- | ${runs.map(() => '---').join(' | ')} |`,
  ...order.map(
    (row) =>
      `| ${cellText(row.label)} | ${cellText(row.bar)} | ${perRun.map((rows) => cellText(rows.get(row.key)?.value ?? '—')).join(' | ')} |`,
  ),
].join('\n');
const sources = `Generated by \`node scripts/perf-table.mjs --write\` from ${runs
  .map((r) => `[\`${r.name}\`](${relative(join(ROOT, 'docs'), r.path).split('\\').join('/')})`)
  .join(', ')}; a dash: not measured in that run.`;
const section = `${table}\n\n${sources}`;

generatedSection({
  root: ROOT,
  doc: DOC,
  marker: 'perf',
  script: 'perf-table',
  content: section,
  argv: process.argv,
});
