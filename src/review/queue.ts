/**
 * The merge queue: approved code tasks merge into their base one at a time. For each, the branch is
 * rebased (or merged) onto the base's current commit in a scratch worktree, the gate runs on the
 * result, and only then does the base move, by a compare-and-swap update of its ref: the base holds
 * either the commit before a merge or the whole merge, whatever is killed when. Each step is
 * journaled on the task (`code.merge`), so a restarted queue resumes where it was.
 */
import { join } from 'node:path';
import {
  commitOf,
  conflictedFiles,
  git,
  gitOk,
  removeTree,
  repoOf,
  scratchTree,
  taskTree,
} from '../../agents/platform/task-git.js';
import { acquireLock } from '../../state/lock/index.js';
import { workspaceRoot } from '../../state/paths.js';
import { privateDir } from '../../state/safe-files.js';
import type { Task, TaskCode } from '../../state/schemas.js';
import { notFound } from '../errors.js';
import { iso } from '../lifecycle/context.js';
import { planBounce, planMerged, planMergeStep } from '../lifecycle/review.js';
import type { Workspace } from '../workspace.js';
import { type ReviewItem, reviewList } from './api.js';
import { gateTask, runGate } from './gate.js';
import { openPullRequest } from './pull-request.js';
import { cleanWorktrees } from './worktrees.js';

type CodeTask = Task & { code: TaskCode };
type Merge = NonNullable<TaskCode['merge']>;

export type MergeOutcomeKind = 'merged' | 'pr-opened' | 'merge-conflict' | 'gate-failed' | 'error';

export interface MergeOutcome {
  id: string;
  outcome: MergeOutcomeKind;
  /** The base's commit after the merge. */
  commit?: string;
  files?: string[];
  gate?: string;
  pr?: string;
  /** What went wrong, or the gate's failing output. */
  text?: string;
}

export interface MergeRunOptions {
  /** Push and open a pull request instead of moving the base (policies.review.mode `pr`). */
  pr?: boolean;
  /** Told at each step, for progress. */
  onStep?: (step: { id: string; step: Merge['step'] | 'done'; text: string }) => void;
  /** Stop after this many tasks. */
  max?: number;
}

const QUEUE_LOCK_WAIT_MS = 5000;
const COMMITTER = ['-c', 'user.name=dreamos', '-c', 'user.email=merge-queue@dreamos.invalid'];

export interface MergeStatus {
  mode: 'merge' | 'pr';
  strategy: 'rebase' | 'merge';
  gate: string | null;
  /** The task being merged, with its step. */
  merging: ReviewItem | null;
  /** Approved, in merge order. */
  queued: ReviewItem[];
  /** Waiting for a reviewer. */
  waiting: ReviewItem[];
}

export function mergeStatus(ws: Workspace): MergeStatus {
  const items = reviewList(ws);
  const review = ws.config.policies.review;
  return {
    mode: review.mode,
    strategy: review.strategy,
    gate: review.gate ?? null,
    merging: items.find((i) => i.stage === 'merging') ?? null,
    queued: items.filter((i) => i.stage === 'approved'),
    waiting: items.filter((i) => i.stage === 'waiting'),
  };
}

/**
 * Process the queue until it is empty (or `max` tasks): one task at a time, in approval order, a
 * merge left half-way by a killed queue first. Only one queue runs per workspace (a lock).
 */
export async function runMergeQueue(ws: Workspace, options: MergeRunOptions = {}): Promise<MergeOutcome[]> {
  const repo = await repoOf(workspaceRoot(ws.home));
  if (!repo)
    throw notFound(`${workspaceRoot(ws.home)} is not in a git repository: there is nothing to merge`);
  privateDir(ws.paths.locksDir);
  const lock = await acquireLock(join(ws.paths.locksDir, 'merge-queue'), { timeoutMs: QUEUE_LOCK_WAIT_MS });
  const outcomes: MergeOutcome[] = [];
  try {
    // The worktrees of tasks cancelled or archived since the last run go first.
    await cleanWorktrees(ws);
    for (;;) {
      if (options.max !== undefined && outcomes.length >= options.max) break;
      const next = mergeStatus(ws);
      const item = next.merging ?? next.queued[0];
      if (!item) break;
      const task = ws.view.task(item.id) as CodeTask;
      const outcome = await mergeOne(ws, repo, task, options);
      outcomes.push(outcome);
      options.onStep?.({ id: task.id, step: 'done', text: outcome.outcome });
      // The same task would come first again: the operator has to look (its text says why).
      if (outcome.outcome === 'error') break;
    }
  } finally {
    await lock.release();
  }
  return outcomes;
}

const isAncestor = async (repo: string, a: string, b: string) =>
  (await git(['merge-base', '--is-ancestor', a, b], repo)).ok;

async function step(ws: Workspace, id: string, merge: Merge): Promise<void> {
  await ws.apply((ctx) => planMergeStep(ctx, id, merge), 'merge-queue');
}

async function mergeOne(
  ws: Workspace,
  repo: string,
  task: CodeTask,
  options: MergeRunOptions,
): Promise<MergeOutcome> {
  const code = task.code;
  const baseRef = `refs/heads/${code.base}`;
  const tell = (s: Merge['step'], text: string) => options.onStep?.({ id: task.id, step: s, text });
  if (options.pr || ws.config.policies.review.mode === 'pr') {
    const url = await openPullRequest(ws, repo, task).catch((e: Error) => e);
    if (url instanceof Error) return { id: task.id, outcome: 'error', text: url.message };
    await ws.apply((ctx) => planMerged(ctx, task.id, { pr: url }), 'merge-queue');
    await removeTree(repo, taskTree(ws.home, task.id));
    return { id: task.id, outcome: 'pr-opened', pr: url };
  }
  let merge = code.merge;
  for (;;) {
    const onto = await commitOf(repo, baseRef);
    if (!onto) return { id: task.id, outcome: 'error', text: `the base branch ${code.base} is gone` };
    // A merge that reached the base before the queue was killed: record it, never merge it again.
    if (merge?.result && (await isAncestor(repo, merge.result, onto))) {
      await syncCheckout(repo, code.base, merge.onto, merge.result);
      return finish(ws, repo, task, onto);
    }
    if (!merge?.result || merge.onto !== onto) {
      tell('rebase', `bringing ${code.branch} onto ${code.base}`);
      merge = { step: 'rebase', onto, startedAt: iso(new Date()) };
      await step(ws, task.id, merge);
      const rebased = await bringOnto(ws, repo, task, onto);
      if ('files' in rebased) {
        const text = `bringing ${code.branch} onto ${code.base} (${onto.slice(0, 12)}) conflicts in: ${rebased.files.join(', ')}. Bring the branch up to date with ${code.base} (git rebase or merge) and resolve them.`;
        await ws.apply(
          (ctx) =>
            planBounce(
              ctx,
              task.id,
              { reason: 'merge-conflict', text, files: rebased.files },
              'merge-conflict',
            ),
          'merge-queue',
        );
        await removeTree(repo, scratchTree(ws.home, task.id));
        return { id: task.id, outcome: 'merge-conflict', files: rebased.files, text };
      }
      merge = { ...merge, step: 'gate', result: rebased.result };
      await step(ws, task.id, merge);
    }
    const result = merge.result!;
    const command = ws.config.policies.review.gate;
    if (command && merge.step === 'gate') {
      tell('gate', `running the gate: ${command}`);
      const scratch = await ensureScratch(ws, repo, task.id, result);
      const gate = await gateTask(ws, ws.view.task(task.id)!, result, command);
      merge = { ...merge, gate: gate.id };
      await step(ws, task.id, merge);
      const passed = await runGate(ws, gate, scratch, repo);
      if (!passed.ok) {
        const text = `the gate \`${command}\` failed (${gate.id}):\n${passed.output}`;
        await ws.apply(
          (ctx) => planBounce(ctx, task.id, { reason: 'gate-failed', text }, 'gate-failed'),
          'merge-queue',
        );
        await removeTree(repo, scratchTree(ws.home, task.id));
        return { id: task.id, outcome: 'gate-failed', gate: gate.id, text };
      }
    }
    merge = { ...merge, step: 'update' };
    await step(ws, task.id, merge);
    tell('update', `moving ${code.base} to ${result.slice(0, 12)}`);
    const moved = await git(['update-ref', '-m', `dreamos: merge ${task.id}`, baseRef, result, onto], repo);
    if (moved.ok) {
      await syncCheckout(repo, code.base, onto, result);
      return finish(ws, repo, task, result);
    }
    // The base moved meanwhile (someone pushed): start over on the new base. If it did not move,
    // git could not update it (a lock file left by a killed git, permissions): say so.
    if ((await commitOf(repo, baseRef)) === onto)
      return { id: task.id, outcome: 'error', text: `could not move ${code.base}: ${moved.stderr}` };
  }
}

/**
 * The scratch worktree at `commit`: made afresh for a rebase, reused for the gate only when it is
 * there whole (a queue killed while making it leaves a tree that is not).
 */
async function ensureScratch(
  ws: Workspace,
  repo: string,
  id: string,
  commit: string,
  fresh = false,
): Promise<string> {
  const scratch = scratchTree(ws.home, id);
  if (!fresh) {
    const at = await git(['rev-parse', 'HEAD'], scratch);
    const status =
      at.ok && at.stdout.trim() === commit ? await git(['status', '--porcelain'], scratch) : null;
    if (status?.ok && status.stdout === '') return scratch;
  }
  await removeTree(repo, scratch);
  privateDir(join(ws.home, 'merge'));
  await gitOk(['worktree', 'add', '--quiet', '--detach', scratch, commit], repo);
  return scratch;
}

/** The branch brought onto `onto` in the scratch tree: the result, or the conflicting files. */
async function bringOnto(
  ws: Workspace,
  repo: string,
  task: CodeTask,
  onto: string,
): Promise<{ result: string } | { files: string[] }> {
  const head = (await commitOf(repo, `refs/heads/${task.code.branch}`)) ?? task.code.head;
  if (!head) throw new Error(`the branch ${task.code.branch} is gone`);
  const rebase = ws.config.policies.review.strategy === 'rebase';
  const scratch = await ensureScratch(ws, repo, task.id, rebase ? head : onto, true);
  const args = rebase
    ? [...COMMITTER, 'rebase', '--quiet', '--no-autostash', onto]
    : [
        ...COMMITTER,
        'merge',
        '--no-ff',
        '--no-edit',
        '-m',
        `Merge ${task.id}: ${task.title}`.slice(0, 400),
        head,
      ];
  const run = await git(args, scratch);
  if (!run.ok) {
    const files = await conflictedFiles(scratch);
    await git([rebase ? 'rebase' : 'merge', '--abort'], scratch);
    if (files.length === 0) throw new Error(`git ${args[4] ?? 'rebase'}: ${run.stderr.slice(0, 2000)}`);
    return { files };
  }
  return { result: (await gitOk(['rev-parse', 'HEAD'], scratch)).trim() };
}

/**
 * A checkout of the base branch in the repository itself sees the merge in its files too: its index
 * and files move from `from` to `to` (git refuses, and nothing changes, where local edits are in the
 * way: the operator then sees the merge as staged changes to undo with `git reset`).
 */
async function syncCheckout(repo: string, base: string, from: string, to: string): Promise<void> {
  const head = await git(['symbolic-ref', '--quiet', 'HEAD'], repo);
  if (!head.ok || head.stdout.trim() !== `refs/heads/${base}`) return;
  await git(['read-tree', '-m', '-u', from, to], repo);
}

async function finish(ws: Workspace, repo: string, task: CodeTask, commit: string): Promise<MergeOutcome> {
  await ws.apply((ctx) => planMerged(ctx, task.id, { merged: commit }), 'merge-queue');
  await removeTree(repo, scratchTree(ws.home, task.id));
  await removeTree(repo, taskTree(ws.home, task.id));
  return { id: task.id, outcome: 'merged', commit };
}
