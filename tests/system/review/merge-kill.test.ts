/**
 * The merge queue killed at random instants (SIGKILL, during rebases, gates and ref updates): the
 * base branch only ever holds whole merges, no task is lost or merged twice, and a restarted queue
 * finishes the work. Each task makes two commits, so a base left in the middle of a merge would show.
 */
import { spawn } from 'node:child_process';
import { afterEach, expect, it } from 'vitest';
import { openWorkspace } from '../../../src/workspace.js';
import type { Task } from '../../../state/schemas.js';
import { type CodeRepo, codeRepo, GIT_ID } from '../../helpers/code-repo.js';
import { BIN } from '../../helpers/workspace.js';

let repo: CodeRepo | undefined;
afterEach(() => {
  repo?.cleanup();
  repo = undefined;
});

const TASKS = 20;
const KILLS = 32;

/** A seeded random source: a failing run can be repeated with the seed it printed. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** The merge queue's subjects on main since the first commit, oldest first. */
function mainSubjects(r: CodeRepo, first: string): string[] {
  const out = r.git('log', '--first-parent', '--reverse', '--format=%s', `${first}..main`);
  return out === '' ? [] : out.split('\n');
}

/** Main holds whole merges only: each task's two commits together, once, its file whole. */
function checkBase(r: CodeRepo, first: string, ids: readonly string[]): string[] {
  const subjects = mainSubjects(r, first);
  expect(subjects.length % 2, subjects.join('\n')).toBe(0);
  const merged: string[] = [];
  for (let i = 0; i < subjects.length; i += 2) {
    const id = /^part 1 of (T-\w+)$/.exec(subjects[i]!)?.[1];
    expect(id, subjects.join('\n')).toBeDefined();
    expect(subjects[i + 1]).toBe(`${id}: Change`);
    merged.push(id!);
  }
  expect(new Set(merged).size).toBe(merged.length);
  const files = r
    .git('ls-tree', '--name-only', 'main')
    .split('\n')
    .filter((f) => f.startsWith('f-'));
  expect(files.sort()).toEqual(merged.map((id) => `f-${id}.txt`).sort());
  for (const id of merged) expect(r.git('show', `main:f-${id}.txt`)).toBe('1\n2');
  expect(merged.every((id) => ids.includes(id))).toBe(true);
  return merged;
}

/** `merge run`, and when it said its first step (it works from then on). */
function startQueue(r: CodeRepo) {
  const child = spawn(process.execPath, [BIN, 'merge', 'run'], {
    cwd: r.dir,
    env: { ...process.env, ...r.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const working = new Promise<void>((resolve) => child.stderr.once('data', () => resolve()));
  return { child, exited, working };
}

it(`survives ${KILLS} SIGKILLs of the merge queue at random instants`, async () => {
  const seed = Number(process.env.DREAMOS_KILL_SEED ?? Date.now() % 1_000_000);
  const random = lcg(seed);
  repo = codeRepo({ agents: ['coder-1', 'coder-2'], review: { policy: 'auto', gate: 'sleep 0.1' } });
  const first = repo.git('rev-parse', 'main');
  const commit = `git ${GIT_ID.join(' ')} commit -q -m "part 1 of $DREAMOS_TASK_ID"`;
  const script = `echo 1 > "f-$DREAMOS_TASK_ID.txt" && git add --all && ${commit} && echo 2 >> "f-$DREAMOS_TASK_ID.txt"`;
  const ids: string[] = [];
  /** Another TASKS code tasks, worked by the agents until each waits for review. */
  const batch = (r: CodeRepo) => {
    const inputs = Array.from({ length: TASKS }, () => ({ title: 'Change', prompt: script, role: 'coder' }));
    const imported = r.run('task', 'import', '-', '--json', { input: JSON.stringify(inputs) });
    const added = (JSON.parse(imported.stdout) as Task[]).map((t) => t.id);
    expect(added).toHaveLength(TASKS);
    const run = r.run('run', '--until-idle');
    expect(run.code, run.stderr).toBe(0);
    // Besides the new tasks, review lists only an earlier one whose merge a kill cut short after
    // the base took it (its next queue run records it).
    const listed = r.json<{ id: string; stage: string }[]>('review', 'list');
    expect(listed.filter((i) => added.includes(i.id))).toHaveLength(TASKS);
    for (const item of listed.filter((i) => !added.includes(i.id)))
      expect(item.stage, item.id).toBe('merging');
    ids.push(...added);
  };
  batch(repo);

  let kills = 0;
  for (let round = 0; kills < KILLS && round < KILLS * 6; round++) {
    // A fast queue can merge every task before the kills are done: then there is more work.
    if (checkBase(repo, first, ids).length === ids.length) batch(repo);
    const { child, exited, working } = startQueue(repo);
    // A random instant once the queue works: in a rebase, a gate or a ref update.
    const delay = random() * 600;
    const timer = working.then(() => new Promise<'timer'>((r) => setTimeout(() => r('timer'), delay)));
    const ended = await Promise.race([exited, timer]);
    if (ended === 'timer') {
      child.kill('SIGKILL');
      kills++;
    }
    await exited;
    const merged = checkBase(repo, first, ids);
    // Read in this process: a CLI per round would double the campaign's time.
    const ws = await openWorkspace({ home: repo.home, readOnly: true });
    const byId = new Map(ids.map((id) => [id, ws.view.task(id)]));
    await ws.close();
    for (const id of ids) {
      const task = byId.get(id);
      expect(['review', 'done'], `${id} lost (seed ${seed})`).toContain(task?.status);
      if (task!.status === 'done') expect(merged, `seed ${seed}`).toContain(id);
      // Merged but not yet recorded: only when killed after the base moved.
      else if (merged.includes(id)) expect(task!.code?.merge?.step, `${id} (seed ${seed})`).toBe('update');
    }
  }
  expect(kills, `seed ${seed}`).toBeGreaterThanOrEqual(KILLS);

  // A queue run to its end finishes whatever the kills left.
  const last = repo.run('merge', 'run', '--json');
  expect(last.code, `${last.stderr} (seed ${seed})`).toBe(0);
  expect(checkBase(repo, first, ids).sort()).toEqual([...ids].sort());
  const done = repo.json<Task[]>('task', 'list', '--status', 'done').filter((t) => ids.includes(t.id));
  expect(done).toHaveLength(ids.length);
  expect(done.every((t) => t.code?.stage === 'merged')).toBe(true);
  expect(repo.json<{ queued: unknown[]; merging: unknown }>('merge', 'status')).toMatchObject({
    queued: [],
    merging: null,
  });
  expect(repo.git('status', '--porcelain')).toBe('');
}, 120_000);
