/**
 * `dreamos review list|show|approve|reject`, `dreamos merge status|run` and
 * `dreamos worktree list|prune`: code tasks' review, the merge queue and the worktrees (docs/review.md).
 */
import type { Command } from 'commander';
import { ExitCode } from '../errors.js';
import { emit, plural, say, table } from '../output.js';
import type { MergeOutcome, ReviewItem } from '../review/index.js';
import { oneLine } from '../sanitize.js';
import { readWorkspace, withWorkspace } from './common.js';

/** The review engine (git, gates, the merge queue): loaded by these commands only, not at every start. */
const engine = () => import('../review/index.js');

const short = (sha?: string) => sha?.slice(0, 12) ?? '';

function itemRows(items: readonly ReviewItem[]): string {
  return table([
    ['ID', 'STAGE', 'BRANCH', 'BASE', 'AGENT', 'TITLE'],
    ...items.map((i) => [
      i.id,
      i.merge ? `${i.stage}:${i.merge.step}` : i.stage,
      i.branch,
      i.base,
      i.agent ?? '',
      oneLine(i.title, 60),
    ]),
  ]);
}

const bytes = (n: number) =>
  n >= 1024 ** 3
    ? `${(n / 1024 ** 3).toFixed(1)} GB`
    : n >= 1024 ** 2
      ? `${(n / 1024 ** 2).toFixed(1)} MB`
      : `${Math.ceil(n / 1024)} KB`;

function outcomeLine(o: MergeOutcome): string {
  switch (o.outcome) {
    case 'merged':
      return `${o.id} merged (${short(o.commit)})`;
    case 'pr-opened':
      return `${o.id}: pull request ${o.pr}`;
    case 'merge-conflict':
      return `${o.id} conflicts in ${(o.files ?? []).join(', ')}: back to ready`;
    case 'gate-failed':
      return `${o.id}: the gate failed (${o.gate}): back to ready`;
    default:
      return `${o.id}: ${oneLine(o.text ?? 'error', 200)}`;
  }
}

export function registerReview(program: Command): void {
  const review = program
    .command('review')
    .description('code tasks waiting for review: list, diff, approve, reject');
  review
    .command('list')
    .description('tasks in review: waiting for a reviewer, approved (queued) or being merged')
    .action(async (_o, command: Command) => {
      await readWorkspace(command, async (ws, options) => {
        const items = (await engine()).reviewList(ws);
        emit(options, items, () => (items.length === 0 ? 'nothing in review' : itemRows(items)));
      });
    });
  review
    .command('show')
    .description("a task's changes since its base commit: files with line counts, then the diff")
    .argument('<id>', 'the task (T-…)')
    .option('--stat', 'only the files and their counts')
    .action(async (id: string, o, command: Command) => {
      await readWorkspace(command, async (ws, options) => {
        const diff = await (await engine()).reviewDiff(ws, id, { stat: o.stat === true });
        emit(options, diff, () => {
          const head = `${diff.id} ${diff.branch} → ${diff.base} (${short(diff.from)}..${short(diff.head)}): ${plural(diff.files.length, 'file')}, +${diff.added} −${diff.removed}`;
          const files = diff.files.map(
            (f) =>
              `  ${f.added === null ? 'bin' : `+${f.added}`}\t${f.removed === null ? '' : `−${f.removed}`}\t${f.path}`,
          );
          return [head, ...files, ...(diff.text ? ['', diff.text] : [])].join('\n');
        });
      });
    });
  review
    .command('approve')
    .description('approve a task waiting for review: it joins the merge queue')
    .argument('<id>', 'the task (T-…)')
    .action(async (id: string, _o, command: Command) => {
      await withWorkspace(command, async (ws, options) => {
        const task = await (await engine()).reviewApprove(ws, id);
        emit(
          options,
          task,
          () => `${task.id} approved: in the merge queue (\`dreamos merge run\` merges it)`,
        );
      });
    });
  review
    .command('reject')
    .description('send a task back to ready on its branch, with a note for its next attempt')
    .argument('<id>', 'the task (T-…)')
    .requiredOption('--note <text>', 'what to change (the next attempt gets it)')
    .action(async (id: string, o, command: Command) => {
      await withWorkspace(command, async (ws, options) => {
        const task = await (await engine()).reviewReject(ws, id, o.note);
        emit(options, task, () => `${task.id} rejected: back to ready on ${task.code?.branch}`);
      });
    });

  const merge = program.command('merge').description('the merge queue: status, run');
  merge
    .command('status')
    .description('the task being merged, the queue, and the tasks waiting for review')
    .action(async (_o, command: Command) => {
      await readWorkspace(command, async (ws, options) => {
        const status = (await engine()).mergeStatus(ws);
        emit(options, status, () => {
          const lines = [
            `mode ${status.mode}, ${status.strategy}, gate ${status.gate ? `\`${oneLine(status.gate, 80)}\`` : 'none'}`,
            status.merging
              ? `merging ${status.merging.id} (${status.merging.merge?.step ?? 'starting'})`
              : 'nothing being merged',
            `${plural(status.queued.length, 'task')} queued, ${status.waiting.length} waiting for review`,
          ];
          const all = [...(status.merging ? [status.merging] : []), ...status.queued, ...status.waiting];
          return all.length ? `${lines.join('\n')}\n${itemRows(all)}` : lines.join('\n');
        });
      });
    });
  merge
    .command('run')
    .description('merge the approved tasks one at a time until the queue is empty (headless, for CI)')
    .option('--pr', 'push each branch and open a pull request with gh instead of merging')
    .action(async (o, command: Command) => {
      await withWorkspace(command, async (ws, options) => {
        const outcomes = await (await engine()).runMergeQueue(ws, {
          ...(o.pr ? { pr: true } : {}),
          onStep: ({ id, step, text }) => {
            if (!options.json && step !== 'done') say(`${id} ${step}: ${oneLine(text, 160)}`);
          },
        });
        emit(options, outcomes, () =>
          outcomes.length === 0 ? 'the merge queue is empty' : outcomes.map(outcomeLine).join('\n'),
        );
        if (outcomes.some((x) => x.outcome === 'merge-conflict')) process.exitCode = ExitCode.conflict;
        else if (outcomes.some((x) => x.outcome === 'gate-failed')) process.exitCode = ExitCode.tasksFailed;
        else if (outcomes.some((x) => x.outcome === 'error')) process.exitCode = ExitCode.error;
      });
    });

  const worktree = program
    .command('worktree')
    .description("the agents' and tasks' git worktrees: list, prune");
  worktree
    .command('list')
    .description('every worktree in .dreamos, its size, and whether it is left over')
    .action(async (_o, command: Command) => {
      await readWorkspace(command, async (ws, options) => {
        const list = (await engine()).worktreeList(ws);
        emit(options, list, () =>
          list.length === 0
            ? 'no worktrees'
            : table([
                ['KIND', 'OWNER', 'STATUS', 'SIZE', 'LEFTOVER', 'PATH'],
                ...list.map((w) => [
                  w.kind,
                  w.owner,
                  w.status ?? '',
                  bytes(w.bytes),
                  w.leftover ? (w.why ?? 'yes') : '',
                  w.path,
                ]),
              ]),
        );
      });
    });
  worktree
    .command('prune')
    .description('remove leftover worktrees, and branches of tasks finished over keepBranchDays ago')
    .option('--dry-run', 'say what would go, remove nothing')
    .action(async (o, command: Command) => {
      await withWorkspace(command, async (ws, options) => {
        const result = await (await engine()).worktreePrune(ws, { dryRun: o.dryRun === true });
        const verb = o.dryRun ? 'would remove' : 'removed';
        emit(options, result, () =>
          [
            `${verb} ${plural(result.removed.length, 'worktree')} (${bytes(result.removed.reduce((n, w) => n + w.bytes, 0))})`,
            ...result.removed.map((w) => `  ${w.path} (${w.why ?? w.kind})`),
            `${o.dryRun ? 'would delete' : 'deleted'} ${plural(result.branches.length, 'branch', 'branches')}`,
            ...result.branches.map((b) => `  ${b}`),
          ].join('\n'),
        );
      });
    });
}
