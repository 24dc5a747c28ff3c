/**
 * Checkpoints beyond their schema: which one a run of a task starts from, the hand-over of a task's
 * last checkpoint to whichever agent runs it after `task retry --from-checkpoint`, and checkpoints
 * saved from the command line (`dreamos checkpoint save`). Planners here are pure; no I/O.
 *
 * Which checkpoint a run gets (resumeCheckpoint):
 * - the agent's own latest checkpoint of the task that the work itself reported (a `::dreamos`
 *   line, `checkpoint save`, an llm context reset), in preference to the steps the loop records
 *   for itself (start, resume, interrupted, done, failed), which carry only progress;
 * - an operator retry of a failed or cancelled task starts over: checkpoints from before it are
 *   ignored, unless the retry handed one over (`--from-checkpoint`), which then goes to whichever
 *   agent takes the task next.
 */

import { agentCommit, gitHead } from '../agents/platform/git.js';
import { taskTree } from '../agents/platform/task-git.js';
import type { Plan, StateView } from '../state/backend.js';
import { Checkpoint, type Task } from '../state/schemas.js';
import { type AgentConfig, OPERATOR } from './config.js';
import { invalidInput, notFound } from './errors.js';
import { type Ctx, planRetry } from './lifecycle/index.js';
import { type CheckpointInput, planCheckpoint } from './orchestrator/plans.js';
import { cut, oneLine } from './sanitize.js';
import type { Workspace } from './workspace.js';

/** Steps the agent loop records on its own: they say where the loop was, not where the work was. */
export const LOOP_STEPS: ReadonlySet<string> = new Set(['start', 'resume', 'interrupted', 'done', 'failed']);

/** The step of the operator's hand-over record (held in the operator's checkpoint list). */
export const HANDOVER_STEP = 'handover';

/** The schema's limits, for text that comes from driven programs and models. */
const MAX_STEP = 500;
const MAX_SUMMARY = 50_000;
const MAX_SESSION_ID = 200;
const MAX_DATA_BYTES = 64 * 1024;
/** Deeper data would overflow the stack of the code that serialises it (JSON.stringify recurses). */
const MAX_DATA_DEPTH = 512;

/** How deeply `value` nests (a scalar is 0), counted without recursion and only up to `max` + 1. */
export function nestingDepth(value: unknown, max: number): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item !== 'object' || item === null) continue;
    deepest = Math.max(deepest, depth + 1);
    if (deepest > max) return deepest;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return deepest;
}

const dataTooDeep = (data: unknown) => nestingDepth(data, MAX_DATA_DEPTH) > MAX_DATA_DEPTH;

const reported = (c: Checkpoint) => !LOOP_STEPS.has(c.step ?? '');

/** When the operator last sent the task back from failed or cancelled: earlier checkpoints are stale. */
function restartedAt(task: Task | undefined): string {
  const history = task?.history ?? [];
  for (let i = history.length - 1; i >= 0; i--) {
    const h = history[i]!;
    if (h.from === 'failed' || h.from === 'cancelled') return h.at;
  }
  return '';
}

/** The checkpoint a hand-over record carries, or null when it carries none that validates. */
export function handedOver(record: Checkpoint): Checkpoint | null {
  const parsed = Checkpoint.safeParse(record.data?.checkpoint);
  return parsed.success ? parsed.data : null;
}

/** The checkpoint a run of `taskId` by `agentId` starts from, or null for a fresh start. */
export function resumeCheckpoint(view: StateView, agentId: string, taskId: string): Checkpoint | null {
  const since = restartedAt(view.task(taskId));
  const ofTask = (list: readonly Checkpoint[]) => list.filter((c) => c.task === taskId && c.at >= since);
  const handover = ofTask(view.checkpoints(OPERATOR)).at(-1);
  // After a hand-over only what this agent recorded since counts as its own.
  const own = ofTask(view.checkpoints(agentId)).filter((c) => !handover || c.rev > handover.rev);
  const latest = own.filter(reported).at(-1) ?? (handover ? handedOver(handover) : null);
  return latest ?? own.filter((c) => c.step !== 'start').at(-1) ?? null;
}

/**
 * The last checkpoint of a task, whichever agent saved it (hand-overs count as the checkpoint they
 * carry): the latest one its work reported, else the latest the loop recorded after a start.
 */
export function lastCheckpointOfTask(
  view: StateView,
  agentIds: readonly string[],
  taskId: string,
): Checkpoint | null {
  const all: Array<{ order: number; checkpoint: Checkpoint }> = [];
  for (const id of agentIds)
    for (const c of view.checkpoints(id)) if (c.task === taskId) all.push({ order: c.rev, checkpoint: c });
  for (const c of view.checkpoints(OPERATOR)) {
    const carried = c.task === taskId ? handedOver(c) : null;
    if (carried) all.push({ order: c.rev, checkpoint: carried });
  }
  all.sort((a, b) => a.order - b.order);
  const pick = (ok: (c: Checkpoint) => boolean) => all.filter((e) => ok(e.checkpoint)).at(-1)?.checkpoint;
  return pick(reported) ?? pick((c) => c.step !== 'start') ?? null;
}

/**
 * `task retry ID --from-checkpoint`: the retry and the hand-over of the task's last checkpoint, in one
 * change. The hand-over is kept in the operator's checkpoint list (bounded like every agent's), so it
 * waits for whichever agent takes the task, however busy the agent that saved it has been since.
 */
export function planRetryFromCheckpoint(
  ctx: Ctx,
  id: string,
  agentIds: readonly string[],
  why?: string,
): Plan<Task> {
  const source = lastCheckpointOfTask(ctx.view, agentIds, id);
  if (!source) throw notFound(`${id} has no checkpoint to resume from (retry it without --from-checkpoint)`);
  const retry = planRetry(ctx, id, why ?? `retried by the operator from checkpoint ${source.id}`);
  const handover = planCheckpoint(ctx, OPERATOR, {
    task: id,
    step: HANDOVER_STEP,
    progress: source.progress,
    data: { checkpoint: source },
  });
  return {
    change: {
      ...retry.change!,
      checkpoints: handover.change!.checkpoints!,
      counters: handover.change!.counters!,
    },
    result: retry.result,
  };
}

/**
 * A checkpoint reported by a driven program or a model, held to the schema's limits so that it is
 * recorded rather than refused: long text is cut, a session id too long to be one and data too large
 * to journal are left out.
 */
export function boundCheckpoint(input: CheckpointInput): CheckpointInput {
  const { step, summary, sessionId, data, progress, ...rest } = input;
  const dataFits =
    data !== undefined && !dataTooDeep(data) && Buffer.byteLength(JSON.stringify(data)) <= MAX_DATA_BYTES;
  return {
    ...rest,
    ...(progress !== undefined && progress !== null && Number.isFinite(progress)
      ? { progress: Math.min(1, Math.max(0, progress)) }
      : { progress: null }),
    ...(step !== undefined ? { step: cut(oneLine(step), MAX_STEP) } : {}),
    ...(summary !== undefined ? { summary: cut(summary, MAX_SUMMARY) } : {}),
    ...(sessionId !== undefined && sessionId.length <= MAX_SESSION_ID ? { sessionId } : {}),
    ...(dataFits ? { data } : {}),
  };
}

/**
 * A checkpoint with what its agent's context adds where the caller did not say: the commit of the
 * agent's working folder and the last mail it had (its mailbox position).
 */
export async function withAgentContext<
  I extends { gitCommit?: string; mailboxPosition?: string; task?: string | null },
>(ws: Workspace, agent: AgentConfig, input: I): Promise<I> {
  // A task on its own branch: the commit of its worktree says where its work stands.
  const code = input.task ? ws.view.task(input.task)?.code : undefined;
  const gitCommit =
    input.gitCommit ??
    (code ? await gitHead(taskTree(ws.home, input.task!)) : await agentCommit(ws.home, agent));
  const mailboxPosition = input.mailboxPosition ?? ws.view.mailbox(agent.id).at(-1)?.id;
  return {
    ...input,
    ...(gitCommit ? { gitCommit } : {}),
    ...(mailboxPosition ? { mailboxPosition } : {}),
  };
}

export interface SaveInput {
  task: string | null;
  step?: string;
  progress?: number;
  summary?: string;
  sessionId?: string;
  data?: Record<string, unknown>;
  gitCommit?: string;
  mailboxPosition?: string;
}

/** Checks a checkpoint given on the command line: clear refusals instead of silent cuts. */
export function checkSaveInput(input: SaveInput): SaveInput {
  if (input.step !== undefined && input.step.length > MAX_STEP)
    throw invalidInput(`--step is at most ${MAX_STEP} characters`);
  if (input.step !== undefined && oneLine(input.step) !== input.step)
    throw invalidInput(
      '--step is one line of text, without control characters or leading or trailing spaces',
    );
  if (input.summary !== undefined && input.summary.length > MAX_SUMMARY)
    throw invalidInput(`--summary is at most ${MAX_SUMMARY} characters`);
  if (input.sessionId !== undefined && (input.sessionId.length > MAX_SESSION_ID || input.sessionId === ''))
    throw invalidInput(`--session-id is 1 to ${MAX_SESSION_ID} characters`);
  if (input.progress !== undefined && !(input.progress >= 0 && input.progress <= 1))
    throw invalidInput(`--progress is a number from 0 to 1, got ${input.progress}`);
  if (input.data !== undefined && dataTooDeep(input.data))
    throw invalidInput(`--data nests deeper than ${MAX_DATA_DEPTH} levels`);
  if (input.data !== undefined && Buffer.byteLength(JSON.stringify(input.data)) > MAX_DATA_BYTES)
    throw invalidInput(`--data is at most ${MAX_DATA_BYTES} bytes of JSON`);
  return input;
}
