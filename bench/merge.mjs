// The merge queue's figure: 20 code tasks in a git repository, each changing its own file, approved by
// policy `auto` with a trivial gate (`true`), merged end to end by one `dreamos merge run` (the real
// command, as CI runs it). Reported: merges per minute, and the queue's own time per merge without the
// gate: the command's wall time less the time each gate task took from its creation to its end (its
// board entry's history), divided by the merges. Bar: under 1 s per merge.
//
// `node bench/merge.mjs` prints the figure as JSON; bench/run.mjs calls mergeFigure().

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const TASKS = 20;
const BAR_SECONDS = 1;
const GIT_ID = ['-c', 'user.name=bench', '-c', 'user.email=bench@example.com'];

function dreamos(bin, args, cwd, input) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd,
      env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

async function must(bin, args, cwd, input) {
  const r = await dreamos(bin, args, cwd, input);
  if (r.code !== 0)
    throw new Error(`dreamos ${args.join(' ')} exited ${r.code}: ${r.stderr.trim().slice(0, 300)}`);
  return r;
}

/** { mergesPerMinute, queueSecondsPerMerge: { value, bar, pass }, … } */
export async function mergeFigure({ bin = join(ROOT, 'bin', 'dreamos.js'), tmpRoot = os.tmpdir() } = {}) {
  const dir = fs.mkdtempSync(join(tmpRoot, 'merge-'));
  const git = (...args) => execFileSync('git', [...GIT_ID, ...args], { cwd: dir, encoding: 'utf8' }).trim();
  try {
    git('init', '-q', '-b', 'main');
    fs.writeFileSync(join(dir, '.gitignore'), '.dreamos/\n');
    fs.writeFileSync(join(dir, 'README'), 'bench\n');
    git('add', '--all');
    git('commit', '-q', '-m', 'first');
    await must(bin, ['init', '--driver', 'shell'], dir);
    const file = join(dir, '.dreamos', 'config.json');
    const config = JSON.parse(fs.readFileSync(file, 'utf8'));
    config.agents = [
      {
        id: 'coder',
        name: 'coder',
        role: 'coder',
        driver: { kind: 'command', argv: ['sh', '-c', '{prompt}'] },
      },
      { id: 'tester', name: 'tester', role: 'testing', driver: { kind: 'shell', shell: '/bin/sh' } },
    ];
    config.policies = { ...config.policies, review: { policy: 'auto', gate: 'true' } };
    fs.writeFileSync(file, JSON.stringify(config, null, 2));
    const tasks = Array.from({ length: TASKS }, (_, i) => ({
      title: `Change file ${i}`,
      prompt: `echo ${i} > file-${i}.txt`,
      role: 'coder',
    }));
    await must(bin, ['task', 'import', '-'], dir, JSON.stringify(tasks));
    await must(bin, ['run', '--until-idle'], dir);
    const queued = JSON.parse((await must(bin, ['merge', 'status', '--json'], dir)).stdout).queued.length;
    if (queued !== TASKS) throw new Error(`${queued} tasks queued, not ${TASKS}`);

    const start = performance.now();
    const run = await must(bin, ['merge', 'run', '--json'], dir);
    const wallSeconds = (performance.now() - start) / 1000;
    const outcomes = JSON.parse(run.stdout);
    const merged = outcomes.filter((o) => o.outcome === 'merged').length;
    if (merged !== TASKS) throw new Error(`${merged} of ${TASKS} tasks merged`);
    const onMain = git('rev-list', '--count', 'main');
    if (Number(onMain) !== TASKS + 1) throw new Error(`main has ${onMain} commits, not ${TASKS + 1}`);

    const gates = JSON.parse(
      (await must(bin, ['task', 'list', '--tag', 'merge-gate', '--json'], dir)).stdout,
    );
    const gateSeconds = gates.reduce((sum, t) => {
      const end = t.history.findLast((h) => h.to === 'done');
      return sum + (end ? (Date.parse(end.at) - Date.parse(t.createdAt)) / 1000 : 0);
    }, 0);
    const perMerge = (wallSeconds - gateSeconds) / TASKS;
    return {
      tasks: TASKS,
      wallSeconds: Number(wallSeconds.toFixed(3)),
      mergesPerMinute: Math.round((TASKS / wallSeconds) * 60),
      gateSecondsPerMerge: Number((gateSeconds / TASKS).toFixed(3)),
      queueSecondsPerMerge: {
        value: Number(perMerge.toFixed(3)),
        bar: BAR_SECONDS,
        pass: perMerge < BAR_SECONDS,
        note: 'the command wall time less each gate task from its creation to its end, per merge (includes one process start)',
      },
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  process.stdout.write(`${JSON.stringify(await mergeFigure(), null, 2)}\n`);
