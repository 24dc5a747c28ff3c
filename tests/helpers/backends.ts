/**
 * The state backends the conformance suite (tests/system/state/backend-conformance.test.ts) runs against,
 * and the invariants it checks, written against the workspace API and `StateBackend` only. A new
 * backend adds one entry to BACKENDS.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { initWorkspace, type OpenOptions, openWorkspace, type Workspace } from '../../src/workspace.js';
import { STORES } from '../../state/paths.js';
import { type Status, storeOf, type Task } from '../../state/schemas.js';
import { type FreshSchema, freshSchema, TEST_PG_URL } from './pg.js';
import { writePolicies } from './workspace.js';

export interface BackendUnderTest {
  /** The name it is registered by in state/backends.ts. */
  name: string;
  /** A fresh workspace in `dir` (which exists), with these policies; returns its home. */
  init(dir: string, policies?: Record<string, unknown>): Promise<string>;
  open(home: string, options?: Pick<OpenOptions, 'actor' | 'share' | 'snapshotEvery'>): Promise<Workspace>;
  /** A server the suite needs (it is skipped, or fails on CI, when that server does not answer). */
  needs?: 'postgres';
  /** Remove what init made outside the workspace folder (a database schema). */
  cleanup?(): Promise<void>;
}

/** The schemas the postgres backend's workspaces were given, dropped by its cleanup. */
const schemas: FreshSchema[] = [];

export const BACKENDS: BackendUnderTest[] = [
  {
    name: 'json',
    async init(dir, policies) {
      const ws = await initWorkspace({ dir, backend: 'json' });
      await ws.close();
      if (policies) writePolicies(ws.home, policies);
      return ws.home;
    },
    open: (home, options = {}) => openWorkspace({ home, share: false, ...options }),
  },
  {
    name: 'postgres',
    needs: 'postgres',
    async init(dir, policies) {
      const fresh = await freshSchema('dreamos_conf');
      schemas.push(fresh);
      const ws = await initWorkspace({
        dir,
        backend: 'postgres',
        config: { state: { url: TEST_PG_URL, schema: fresh.schema } },
      });
      await ws.close();
      if (policies) writePolicies(ws.home, policies);
      return ws.home;
    },
    open: (home, options = {}) => openWorkspace({ home, share: false, ...options }),
    async cleanup() {
      for (const fresh of schemas.splice(0)) await fresh.drop();
    },
  },
];

/** What a board must look like whatever happened to it: each task once, in the store of its status. */
export interface BoardLike {
  inStore(store: (typeof STORES)[number]): Iterable<Task>;
  tasks(): Iterable<Task>;
}

/** Every way the board breaks the task model; empty when it is consistent. */
export function boardProblems(view: BoardLike): string[] {
  const problems: string[] = [];
  const where = new Map<string, string>();
  let count = 0;
  for (const store of STORES) {
    for (const task of view.inStore(store)) {
      count += 1;
      const before = where.get(task.id);
      if (before) problems.push(`${task.id} is in ${before} and in ${store}`);
      where.set(task.id, store);
      if (storeOf(task.status) !== store) problems.push(`${task.id} (${task.status}) is in ${store}`);
      if (task.status === 'working' && (!task.lease || !task.agent))
        problems.push(`${task.id} is working with no lease or agent`);
      if (task.status !== 'working' && task.lease) problems.push(`${task.id} is ${task.status} with a lease`);
    }
  }
  const all = [...view.tasks()];
  if (all.length !== count) problems.push(`the board lists ${all.length} tasks, its stores ${count}`);
  const byId = new Map(all.map((t) => [t.id, t]));
  for (const task of all) {
    if (task.status !== 'ready') continue;
    for (const dep of task.dependsOn) {
      if (byId.get(dep)?.status !== 'done') problems.push(`${task.id} is ready but waits for ${dep}`);
    }
  }
  return problems;
}

/**
 * What the claims of several processes broke: a task claimed twice, a claimed task nobody added, a
 * task left unclaimed. `claims` lists every acknowledged claim, by task id.
 */
export function claimProblems(added: readonly string[], claims: readonly string[]): string[] {
  const problems: string[] = [];
  const times = new Map<string, number>();
  for (const id of claims) times.set(id, (times.get(id) ?? 0) + 1);
  for (const [id, n] of times) {
    if (n > 1) problems.push(`${id} was claimed ${n} times`);
    if (!added.includes(id)) problems.push(`${id} was claimed but never added`);
  }
  for (const id of added) if (!times.has(id)) problems.push(`${id} was never claimed`);
  return problems;
}

/** Tasks with these statuses, by id. */
export function statuses(ws: Workspace): Map<string, Status> {
  ws.refresh();
  return new Map([...ws.view.tasks()].map((t) => [t.id, t.status]));
}

const WORKER = path.join(import.meta.dirname, 'conformance-worker.mjs');

export interface WorkerArgs {
  home: string;
  backend: string;
  agent: string;
  /** `drain`: claim and complete until nothing is left. `churn`: add, claim and complete until killed. */
  mode: 'drain' | 'churn';
  acks: string;
}

export interface Worker {
  child: ReturnType<typeof spawn>;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/** A real process working the board through the built library (dist/), acknowledging each change. */
export function startWorker(args: WorkerArgs): Worker {
  const child = spawn(process.execPath, [WORKER, JSON.stringify(args)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
    (resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })),
  );
  return { child, done };
}

export interface WorkerAck {
  op: 'added' | 'claimed' | 'done';
  id: string;
  title?: string;
  agent: string;
}

/** Every acknowledgement written to these files (a torn last line, from a kill, is left out). */
export function readAcks(files: readonly string[]): WorkerAck[] {
  const acks: WorkerAck[] = [];
  for (const file of files) {
    if (!fs.existsSync(file)) continue;
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      if (!line.endsWith('}')) continue;
      acks.push(JSON.parse(line) as WorkerAck);
    }
  }
  return acks;
}

/** Wait until this file holds at least `n` acknowledgements, or the process has ended. */
export async function acksAtLeast(file: string, n: number, worker: Worker): Promise<void> {
  let ended = false;
  void worker.done.then(() => {
    ended = true;
  });
  while (!ended && readAcks([file]).length < n) await new Promise((resolve) => setTimeout(resolve, 20));
}
