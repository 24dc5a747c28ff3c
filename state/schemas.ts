/**
 * zod schemas for every stored object. Each file and each journal entry carries `schemaVersion`;
 * objects inside a file (tasks, alerts) share the version of the file that holds them.
 */
// A namespace import (not `import { z }`) lets the bundler drop the parts of zod never used.
import * as z from 'zod';
import { oneLine } from './text.js';

export const SCHEMA_VERSION = 1 as const;

export const TASK_ID_RE = /^T-[0-9A-Z]{5,10}$/;
export const AGENT_ID_RE = /^[a-z0-9][a-z0-9_-]{0,39}$/;
/**
 * How a task's attempt failed (E_EXIT, E_TIMEOUT, E_SPAWN, E_STALLED, …), kept in `result.errorCode`.
 * An open vocabulary of the task's own, told apart from DreamError's ErrorCode (state/errors.ts),
 * which names why a command failed and maps to its exit status.
 */
export type FailureCode = `E_${string}`;
export const FAILURE_CODE_RE = /^E_[A-Z0-9_]{1,60}$/;
export const isFailureCode = (code: string): code is FailureCode => FAILURE_CODE_RE.test(code);
export const ALERT_ID_RE = /^A-[0-9A-Z]{5,10}$/;
/** A request made through a workspace's shared writer (state/writer/): process, instance, number. */
export const REQUEST_ID_RE = /^[0-9]{1,10}-[0-9a-f]{8}-[0-9]{1,15}$/;
/** Ids (T-, A-, M-, C-) are zero-padded base 36 in capitals: plain string order is the order they were made in. */
export const idOf = (kind: 'T' | 'A' | 'M' | 'C', n: number) =>
  `${kind}-${n.toString(36).toUpperCase().padStart(5, '0')}`;
export const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
/** Printable text on one line: no C0/C1 control characters, no DEL. */
const ONE_LINE_RE = /^[^\u0000-\u001f\u007f-\u009f]*$/;

export const PRIORITIES = ['critical', 'high', 'normal', 'low'] as const;
/** `review`: an attempt on a code task ended well; its branch waits for review and the merge queue. */
export const STATUSES = ['backlog', 'ready', 'working', 'review', 'done', 'failed', 'cancelled'] as const;
export const ALERT_STATUSES = ['open', 'acknowledged', 'resolved'] as const;
/**
 * Where a task came from. 'api' is a library caller that names no source (or the HTTP API);
 * 'webhook', 'discord' and 'scout' are work from outside, which waits for approval unless the
 * workspace's policy says otherwise (docs/decisions/outside-work-approval.md).
 */
export const SOURCES = [
  'cli',
  'console',
  'agent',
  'api',
  'webhook',
  'discord',
  'scout',
  'import',
  'demo',
] as const;

export const TaskId = z.string().regex(TASK_ID_RE, 'a task id looks like T-0001A');
export const AgentId = z
  .string()
  .regex(AGENT_ID_RE, 'an agent id is lowercase letters, digits, - and _ (max 40)');
export const Priority = z.enum(PRIORITIES);
export const Status = z.enum(STATUSES);
export const Source = z.enum(SOURCES);
const Iso = z.string().datetime({ offset: true });
const OneLine = (max: number) =>
  z
    .string()
    .max(max, `at most ${max} characters`)
    .regex(ONE_LINE_RE, 'must not contain control characters or terminal escape sequences');

export const Budget = z.strictObject({
  tokens: z.number().int().positive().optional(),
  usd: z.number().positive().optional(),
  seconds: z.number().positive().optional(),
});

export const Usage = z.strictObject({
  inputTokens: z.number().int().nonnegative().default(0),
  outputTokens: z.number().int().nonnegative().default(0),
  /** Absent when the cost is unknown (a model without a price). */
  usd: z.number().nonnegative().optional(),
});

export const TaskResult = z.strictObject({
  ok: z.boolean(),
  summary: z.string().max(20_000).optional(),
  exitCode: z.number().int().nullable().optional(),
  usage: Usage.optional(),
  log: z.string().max(1000).optional(),
  error: z.string().max(20_000).optional(),
  errorCode: z.string().regex(FAILURE_CODE_RE, 'an error code looks like E_TIMEOUT').optional(),
});

export const HistoryEntry = z.strictObject({
  from: Status.nullable(),
  to: Status,
  by: z.string().max(64),
  at: Iso,
  why: z.string().max(2000).optional(),
});

/**
 * An agent's hold on a working task. `token` is the fencing token of the claim: different for every
 * claim of the task and never going back (docs/decisions/lease-fencing.md); leases written before it
 * existed have none.
 */
export const Lease = z.strictObject({
  owner: AgentId,
  expiresAt: Iso,
  token: z.number().int().positive().optional(),
});
export type Lease = z.infer<typeof Lease>;

/**
 * Whether a task from outside may run: `pending` keeps it in the backlog until someone approves it;
 * `approved` names who did (an actor, or `policy` when the workspace approves that source itself).
 */
export const Approval = z.strictObject({
  status: z.enum(['pending', 'approved']),
  by: z.string().max(64).optional(),
  at: Iso.optional(),
});
export type Approval = z.infer<typeof Approval>;

/** The longest dedupe key (`gh:owner/repo#N`, `scout:<source>:<hash>`, …). */
export const DEDUPE_KEY_MAX = 200;
export const DedupeKey = OneLine(DEDUPE_KEY_MAX).min(1, 'a dedupe key cannot be empty');

const Sha = z.string().regex(/^[0-9a-f]{40}(?:[0-9a-f]{24})?$/, 'a full commit id');

/** Where a code task's branch stands (docs/decisions/review-and-merge.md). */
export const CODE_STAGES = [
  /** On its branch, being worked on (ready or working). */
  'open',
  /** The attempt ended with changes: waits for a reviewer. */
  'waiting',
  /** Approved: in the merge queue. */
  'approved',
  /** The merge queue is merging it (`merge` says how far it got). */
  'merging',
  /** On the base branch. */
  'merged',
  /** Pushed, with a pull request open (the queue's `--pr` mode). */
  'pr-opened',
  /** The attempt changed nothing: done without a merge. */
  'no-changes',
] as const;
export const CodeStage = z.enum(CODE_STAGES);
export type CodeStage = z.infer<typeof CodeStage>;

/** Why a code task came back from review or the queue, for its next attempt and the attention inbox. */
export const CodeBounce = z.strictObject({
  reason: z.enum(['rejected', 'merge-conflict', 'gate-failed']),
  /** The reviewer's note, the conflict's description or the gate's failing output (stripped). */
  text: z.string().max(20_000),
  /** The conflicting files. */
  files: z.array(z.string().max(1000)).max(500).optional(),
  by: z.string().max(64),
  at: Iso,
});
export type CodeBounce = z.infer<typeof CodeBounce>;

/**
 * The code work of a task: its branch `dreamos/<task id>` and worktree `.dreamos/worktrees/<task id>`
 * (named by id only), the base it started from, and its place in review and the merge queue.
 */
export const TaskCode = z.strictObject({
  branch: z.string().regex(/^dreamos\/T-[0-9A-Z]{5,10}$/),
  /** The base branch it merges into. */
  base: z.string().min(1).max(250),
  /** The commit of the base the branch started from: its changes are the diff since. */
  baseCommit: Sha,
  /** The branch's commit when its last attempt ended. */
  head: Sha.optional(),
  stage: CodeStage,
  approvedBy: z.string().max(64).optional(),
  approvedAt: Iso.optional(),
  /** The merge in progress: journaled step by step, so that a restarted queue resumes it. */
  merge: z
    .strictObject({
      step: z.enum(['rebase', 'gate', 'update']),
      /** The base's commit the merge started on: the compare-and-swap's expected value. */
      onto: Sha,
      /** The rebased (or merged) commit: what the base moves to. */
      result: Sha.optional(),
      /** The gate's task (role testing). */
      gate: z.string().regex(TASK_ID_RE).optional(),
      startedAt: Iso,
    })
    .optional(),
  /** The base's commit after the merge. */
  merged: Sha.optional(),
  pr: z.string().max(500).optional(),
  last: CodeBounce.optional(),
});
export type TaskCode = z.infer<typeof TaskCode>;

export const Task = z.strictObject({
  id: TaskId,
  title: OneLine(300).min(1, 'a task needs a title'),
  prompt: z.string().max(200_000).optional(),
  run: z.string().max(20_000).optional(),
  role: AgentId.optional(),
  capabilities: z.array(OneLine(64).min(1)).max(32),
  priority: Priority,
  dependsOn: z.array(TaskId).max(256),
  resources: z.array(OneLine(512).min(1)).max(256),
  maxAttempts: z.number().int().min(1).max(100),
  timeout: z
    .number()
    .positive()
    .max(7 * 24 * 3600)
    .optional(),
  budget: Budget.optional(),
  tags: z.array(OneLine(64).min(1)).max(64),
  source: Source,
  /** Adding a task with a key some task (on the board or archived) already has adds nothing. */
  dedupeKey: DedupeKey.optional(),
  /** Absent for work the operator's own tools add; see Approval. */
  approval: Approval.optional(),
  status: Status,
  agent: AgentId.nullable(),
  lease: Lease.nullable(),
  attempts: z.number().int().nonnegative(),
  stalls: z.number().int().nonnegative(),
  notBefore: Iso.nullable(),
  result: TaskResult.nullable(),
  history: z.array(HistoryEntry),
  createdAt: Iso,
  updatedAt: Iso,
  /** Journal sequence number of the last change to this task. */
  rev: z.number().int().nonnegative(),
  /**
   * Whether it runs on a branch of its own (docs/review.md): false never, true whenever the
   * workspace's policy allows it; absent, its agent decides.
   */
  branch: z.boolean().optional(),
  /** Its code work, for a task run on its own branch (absent for any other). */
  code: TaskCode.optional(),
});
export type Task = z.infer<typeof Task>;
export type Status = z.infer<typeof Status>;
export type Priority = z.infer<typeof Priority>;

/** The drift kinds (rules in src/drift/rules-*.ts; docs/drift.md). */
export const DRIFT_KINDS = [
  'stall',
  'overrun',
  'repeated-failure',
  'context-drift',
  'scope-drift',
  'budget',
] as const;

/**
 * Alerts: what recovery found in the state files, every drift kind, a plugin switched off, a
 * scout source that keeps failing (src/scout/), and journal entries retention deleted before a
 * webhook delivered them (src/webhooks/lost.ts).
 */
export const ALERT_KINDS = [
  'corrupt-state',
  'missing-store',
  'journal-damage',
  ...DRIFT_KINDS,
  /** A plugin refused at start, or switched off after a call threw or hung (src/plugins/). */
  'plugin',
  'source-failing',
  'webhook-lost',
] as const;

export const Alert = z.strictObject({
  id: z.string().regex(ALERT_ID_RE),
  kind: z.enum(ALERT_KINDS),
  severity: z.enum(['info', 'warning', 'critical']),
  status: z.enum(ALERT_STATUSES),
  /** Alerts with the same key are one alert: raising it again bumps `count`. */
  key: z.string().max(300),
  subject: z.string().max(300),
  message: z.string().max(2000),
  evidence: z.record(z.string(), z.unknown()),
  action: z.string().max(500),
  count: z.number().int().positive(),
  createdAt: Iso,
  updatedAt: Iso,
  rev: z.number().int().nonnegative(),
});
export type Alert = z.infer<typeof Alert>;

const Count = z.number().int().nonnegative();
/** The highest number handed out per kind of id (ids are allocated inside the journal lock). */
const Counters = z.strictObject({
  task: Count,
  alert: Count,
  mail: Count.default(0),
  checkpoint: Count.default(0),
});

export const AGENT_STATUSES = ['idle', 'working', 'paused', 'stale', 'stopped'] as const;

/** What an agent is doing now. Written by the orchestrator that runs it (one at a time). */
/** What an agent's program may wait for the operator for. */
export const NEEDS_INPUT_KINDS = ['permission', 'question', 'turn-ended', 'prompt'] as const;

export const AgentState = z.strictObject({
  id: AgentId,
  status: z.enum(AGENT_STATUSES),
  paused: z.boolean(),
  task: TaskId.nullable(),
  heartbeatAt: Iso.nullable(),
  /** The orchestrator process running this agent: an agent runs in one place at a time. */
  runner: z
    .strictObject({ pid: z.number().int().positive(), host: z.string().max(255), startedAt: Iso })
    .nullable(),
  /** The driven process of the current task, so that a restart can find and stop leftovers. */
  child: z
    .strictObject({
      pid: z.number().int().positive(),
      pgid: z.number().int().positive(),
      startedAt: Iso,
      task: TaskId,
    })
    .nullable(),
  progress: z.number().min(0).max(1).nullable(),
  /**
   * The agent's program waits for the operator (a `pty` agent: a permission prompt, a question, its
   * turn ended, an empty prompt), as its screen or its hooks say; null or absent when it does not.
   */
  waiting: z
    .strictObject({
      kind: z.enum(NEEDS_INPUT_KINDS),
      /** What is asked: the lines of the screen that show it, or the tool a permission is for. */
      text: z.string().max(2000),
      task: TaskId,
      since: Iso,
    })
    .nullable()
    .optional(),
  /** Consecutive failed attempts (for repeated-failure drift). */
  failures: Count,
  contextResets: Count,
  updatedAt: Iso,
  rev: Count,
});
export type AgentState = z.infer<typeof AgentState>;

export const MAIL_TYPES = ['directive', 'message', 'assignment', 'status', 'alert', 'broadcast'] as const;
export const DIRECTIVES = ['pause', 'resume', 'cancel', 'reset-context', 'restart'] as const;

export const Mail = z.strictObject({
  id: z.string().regex(/^M-[0-9A-Z]{5,10}$/),
  to: AgentId,
  from: z.string().max(64),
  type: z.enum(MAIL_TYPES),
  directive: z.enum(DIRECTIVES).optional(),
  task: TaskId.optional(),
  body: z.string().max(20_000),
  /** Sending twice with the same key delivers once (at-least-once senders de-duplicate here). */
  dedupeKey: z.string().max(200).optional(),
  createdAt: Iso,
  readAt: Iso.nullable(),
  ackedAt: Iso.nullable(),
  rev: Count,
});
export type Mail = z.infer<typeof Mail>;

export const Checkpoint = z.strictObject({
  id: z.string().regex(/^C-[0-9A-Z]{5,10}$/),
  agent: AgentId,
  task: TaskId.nullable(),
  // Writers clean the step; one recorded before they did is cleaned when read.
  step: z.preprocess((v) => (typeof v === 'string' ? oneLine(v) : v), OneLine(500)).optional(),
  progress: z.number().min(0).max(1).nullable(),
  summary: z.string().max(50_000).optional(),
  /** The last mail this agent had seen. */
  mailboxPosition: z.string().max(20).optional(),
  gitCommit: z.string().max(64).optional(),
  /** The driven program's own session id, when it reports one. */
  sessionId: z.string().max(200).optional(),
  data: z.record(z.string(), z.unknown()).optional(),
  at: Iso,
  rev: Count,
});
export type Checkpoint = z.infer<typeof Checkpoint>;

const TaskPut = z.strictObject({ task: Task });

/**
 * One journal line: a whole state change (a transaction). It records the new state of every
 * object it touches, so replay is idempotent: an object is applied only when its `rev` is older.
 */
export const JournalEntry = z.strictObject({
  schemaVersion: z.literal(SCHEMA_VERSION),
  seq: z.number().int().positive(),
  at: Iso,
  by: z.string().max(64),
  op: z.string().max(64),
  tasks: z.array(TaskPut).optional(),
  /** Ids of completed tasks rolled into archive/. */
  archived: z.array(TaskId).optional(),
  alerts: z.array(Alert).optional(),
  /** The highest task/alert number handed out so far (ids are allocated inside the journal lock). */
  counters: Counters,
  /** Agent runtime state: status, heartbeat, the process running it. */
  agents: z.array(AgentState).optional(),
  /** Mail sent, read or acknowledged. */
  mail: z.array(Mail).optional(),
  checkpoints: z.array(Checkpoint).optional(),
  /** A copy of config.json, journaled on init and on every change made through Dream.OS. */
  config: z.unknown().optional(),
  /**
   * Made by the workspace's shared writer for the process that asked (state/writer/): the
   * request's id and the task it returned, so that after a writer crash the asker can tell whether
   * its change was made, and what it returned.
   */
  req: z.strictObject({ id: z.string().regex(REQUEST_ID_RE), task: TaskId.nullable() }).optional(),
  /** crc32 of the entry serialised without this field. */
  crc: z.string().regex(/^[0-9a-f]{8}$/),
});
export type JournalEntry = z.infer<typeof JournalEntry>;

export const JournalPosition = z.strictObject({
  segment: z.number().int().positive(),
  offset: z.number().int().nonnegative(),
});
export type JournalPosition = z.infer<typeof JournalPosition>;

export const BoardFile = z.strictObject({
  schemaVersion: z.literal(SCHEMA_VERSION),
  store: z.enum(['backlog', 'ready', 'working', 'completed']),
  /** The journal entry this snapshot reflects, and where the journal continues after it. */
  seq: z.number().int().nonnegative(),
  journal: JournalPosition,
  counters: Counters,
  /** crc32 of the serialised tasks: a hand edit of the file is found and the file rebuilt. */
  digest: z.string().regex(/^[0-9a-f]{8}$/),
  tasks: z.array(Task),
});
export type BoardFile = z.infer<typeof BoardFile>;

export const AlertsFile = z.strictObject({
  schemaVersion: z.literal(SCHEMA_VERSION),
  seq: z.number().int().nonnegative(),
  journal: JournalPosition,
  counters: Counters,
  digest: z.string().regex(/^[0-9a-f]{8}$/),
  alerts: z.array(Alert),
});
export type AlertsFile = z.infer<typeof AlertsFile>;

/** agents.json, mailboxes/<id>.json and checkpoints/<id>.json. */
export const CollectionFile = z.strictObject({
  schemaVersion: z.literal(SCHEMA_VERSION),
  kind: z.string().max(100),
  seq: z.number().int().nonnegative(),
  journal: JournalPosition,
  counters: Counters,
  digest: z.string().regex(/^[0-9a-f]{8}$/),
  items: z.array(z.unknown()),
});
export type CollectionFile = z.infer<typeof CollectionFile>;

/** A task in review is kept with the working ones: active, not finished. */
export const storeOf = (status: Status) =>
  status === 'done' || status === 'failed' || status === 'cancelled'
    ? ('completed' as const)
    : status === 'review'
      ? ('working' as const)
      : (status as 'backlog' | 'ready' | 'working');
