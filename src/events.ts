/**
 * What happened, as events: one typed event per journal entry, for everything that tells the
 * world about changes (the HTTP event stream, webhooks, metrics). The journal is the one source:
 * an event is made from an entry alone, so the same entry always makes the same event, whoever
 * reads it and however late, and its id is the entry's sequence number.
 *
 * An event carries short forms of what the entry changed (a task's id, title and new stage, not
 * its prompt), so that a webhook body stays small and says nothing the reader cannot ask for.
 */

import * as z from 'zod';
import type { AgentState, Alert, Checkpoint, JournalEntry, Mail, Task, TaskCode } from '../state/schemas.js';
import type { AttentionItem } from './attention.js';
import { invalidInput } from './errors.js';
import { cut } from './sanitize.js';

/** The type of the event each journal operation makes; an operation not named here makes `workspace.changed`. */
const TYPE_OF_OP = {
  add: 'task.created',
  import: 'task.created',
  claim: 'task.claimed',
  renew: 'task.renewed',
  complete: 'task.done',
  fail: 'task.failed',
  expire: 'task.expired',
  requeue: 'task.requeued',
  'drift-requeue': 'task.requeued',
  resume: 'task.resumed',
  promote: 'task.promoted',
  move: 'task.moved',
  retry: 'task.retried',
  cancel: 'task.cancelled',
  edit: 'task.edited',
  priority: 'task.edited',
  approve: 'task.approved',
  'code-open': 'task.branched',
  review: 'task.review',
  'review-approve': 'task.review-approved',
  'review-reject': 'task.review-rejected',
  'merge-step': 'task.merging',
  merged: 'task.merged',
  'merge-conflict': 'task.bounced',
  'gate-failed': 'task.bounced',
  heartbeat: 'agent.heartbeat',
  'agents-take': 'agent.status',
  'agents-release': 'agent.status',
  'agent-stale': 'agent.status',
  'agent-pause': 'agent.status',
  'agent-resume': 'agent.status',
  'agent-restart': 'agent.directive',
  'agent-reset-context': 'agent.directive',
  'agent-cancel': 'agent.directive',
  mail: 'mail.sent',
  'mail-read': 'mail.read',
  'mail-ack': 'mail.acked',
  checkpoint: 'checkpoint.saved',
  'alert-ack': 'alert.acknowledged',
  'alert-resolve': 'alert.resolved',
  'plugin-off': 'alert.raised',
  'webhook-lost': 'alert.raised',
  init: 'workspace.created',
  join: 'workspace.joined',
  repair: 'workspace.repaired',
  recovery: 'workspace.recovered',
} as const satisfies Record<string, string>;

/** Every event type; `alert.raised` is made by every drift operation (`drift-<kind>`). */
export const EVENT_TYPES = [
  ...new Set([...Object.values(TYPE_OF_OP), 'alert.raised', 'attention.changed', 'workspace.changed']),
].sort() as EventType[];
export type EventType =
  | (typeof TYPE_OF_OP)[keyof typeof TYPE_OF_OP]
  | 'alert.raised'
  | 'attention.changed'
  | 'workspace.changed';

/** The kinds of event types: `task`, `agent`, … (`kind:task` matches every `task.*`). */
export const EVENT_KINDS = [...new Set(EVENT_TYPES.map((t) => t.split('.')[0]!))];

export interface TaskBrief {
  id: string;
  title: string;
  status: Task['status'];
  role: string | null;
  agent: string | null;
  priority: Task['priority'];
  attempts: number;
  tags: string[];
  /** How its last attempt ended, in short, once it has ended. */
  result?: { ok: boolean; summary?: string; error?: string; errorCode?: string };
  /** A code task's branch and its place in review and the merge queue (docs/review.md). */
  code?: CodeBrief;
}

export interface CodeBrief {
  branch: string;
  base: string;
  stage: TaskCode['stage'];
  /** The branch's commit when its last attempt ended. */
  head?: string;
  /** The step of the merge in progress (`task.merging`). */
  step?: NonNullable<TaskCode['merge']>['step'];
  /** The base's commit after the merge (`task.merged`). */
  merged?: string;
  /** The pull request opened instead of a merge. */
  pr?: string;
  /** Why it last came back from review or the queue (`task.review-rejected`, `task.bounced`). */
  last?: {
    reason: NonNullable<TaskCode['last']>['reason'];
    by: string;
    at: string;
    text: string;
    files?: string[];
  };
}

/** An item of the attention list, as `attention.changed` carries it. */
export type AttentionBrief = Pick<
  AttentionItem,
  'key' | 'reason' | 'severity' | 'subject' | 'text' | 'action' | 'task' | 'agent' | 'alerts'
>;

export interface DreamEvent {
  /** The journal sequence number, as the event's id (what `Last-Event-ID` names). */
  id: string;
  type: EventType;
  seq: number;
  at: string;
  /** Who made the change: the operator, an agent id, `orchestrator`, … */
  by: string;
  /** The journal operation behind the event. */
  op: string;
  tasks?: TaskBrief[];
  archived?: string[];
  alerts?: Pick<Alert, 'id' | 'kind' | 'severity' | 'status' | 'message'>[];
  agents?: Pick<AgentState, 'id' | 'status' | 'paused' | 'task' | 'progress'>[];
  mail?: (Pick<Mail, 'id' | 'to' | 'from' | 'type'> & { task?: string; body: string })[];
  checkpoints?: (Pick<Checkpoint, 'id' | 'agent' | 'task' | 'progress'> & { step?: string })[];
  /** `attention.changed`: the whole attention list, as the serving process computed it. */
  attention?: AttentionBrief[];
}

const SUMMARY_MAX = 500;

export function typeOfOp(op: string): EventType {
  if (Object.hasOwn(TYPE_OF_OP, op)) return TYPE_OF_OP[op as keyof typeof TYPE_OF_OP];
  if (op.startsWith('drift-')) return 'alert.raised';
  return 'workspace.changed';
}

function briefTask(task: Task): TaskBrief {
  const brief: TaskBrief = {
    id: task.id,
    title: task.title,
    status: task.status,
    role: task.role ?? null,
    agent: task.agent,
    priority: task.priority,
    attempts: task.attempts,
    tags: task.tags,
  };
  if (task.result) {
    const { ok, summary, error, errorCode } = task.result;
    brief.result = {
      ok,
      ...(summary !== undefined ? { summary: cut(summary, SUMMARY_MAX) } : {}),
      ...(error !== undefined ? { error: cut(error, SUMMARY_MAX) } : {}),
      ...(errorCode !== undefined ? { errorCode } : {}),
    };
  }
  if (task.code) brief.code = briefCode(task.code);
  return brief;
}

function briefCode(code: TaskCode): CodeBrief {
  const { branch, base, stage, head, merge, merged, pr, last } = code;
  return {
    branch,
    base,
    stage,
    ...(head ? { head } : {}),
    ...(merge ? { step: merge.step } : {}),
    ...(merged ? { merged } : {}),
    ...(pr ? { pr } : {}),
    ...(last
      ? {
          last: {
            reason: last.reason,
            by: last.by,
            at: last.at,
            text: cut(last.text, SUMMARY_MAX),
            ...(last.files?.length ? { files: last.files.slice(0, 20) } : {}),
          },
        }
      : {}),
  };
}

/** The event a journal entry makes. */
export function eventOf(entry: JournalEntry): DreamEvent {
  const event: DreamEvent = {
    id: String(entry.seq),
    type: typeOfOp(entry.op),
    seq: entry.seq,
    at: entry.at,
    by: entry.by,
    op: entry.op,
  };
  if (entry.tasks?.length) event.tasks = entry.tasks.map((t) => briefTask(t.task));
  if (entry.archived?.length) event.archived = entry.archived;
  if (entry.alerts?.length)
    event.alerts = entry.alerts.map(({ id, kind, severity, status, message }) => ({
      id,
      kind,
      severity,
      status,
      message,
    }));
  if (entry.agents?.length)
    event.agents = entry.agents.map(({ id, status, paused, task, progress }) => ({
      id,
      status,
      paused,
      task,
      progress,
    }));
  if (entry.mail?.length)
    event.mail = entry.mail.map((m) => ({
      id: m.id,
      to: m.to,
      from: m.from,
      type: m.type,
      ...(m.task ? { task: m.task } : {}),
      body: cut(m.body, SUMMARY_MAX),
    }));
  if (entry.checkpoints?.length)
    event.checkpoints = entry.checkpoints.map((c) => ({
      id: c.id,
      agent: c.agent,
      task: c.task,
      progress: c.progress,
      ...(c.step !== undefined ? { step: c.step } : {}),
    }));
  return event;
}

/**
 * The event saying the attention list changed, as of the entry `seq` (by `by`): it is not made from
 * an entry but computed from the state by the process that serves events, so it has no `op` of the
 * journal (`attention`) and is never replayed.
 */
export function attentionEvent(
  items: readonly AttentionItem[],
  last: { seq: number; by: string },
  at: Date,
): DreamEvent {
  return {
    id: String(last.seq),
    type: 'attention.changed',
    seq: last.seq,
    at: at.toISOString(),
    by: last.by,
    op: 'attention',
    attention: items.map(({ key, reason, severity, subject, text, action, alerts, task, agent }) => ({
      key,
      reason,
      severity,
      subject,
      text,
      action,
      alerts,
      ...(task !== undefined ? { task } : {}),
      ...(agent !== undefined ? { agent } : {}),
    })),
  };
}

/**
 * The tasks an event is about: those it changed or archived, those its mail and checkpoints name,
 * and those on the attention list it carries.
 */
export function tasksOf(event: DreamEvent): Set<string> {
  const ids = new Set<string>(event.archived ?? []);
  for (const t of event.tasks ?? []) ids.add(t.id);
  for (const m of event.mail ?? []) if (m.task) ids.add(m.task);
  for (const c of event.checkpoints ?? []) if (c.task) ids.add(c.task);
  for (const a of event.agents ?? []) if (a.task) ids.add(a.task);
  for (const a of event.attention ?? []) if (a.task) ids.add(a.task);
  return ids;
}

/**
 * Which events a reader wants, from its filter words: a type (`task.done`), a kind (`task`, all
 * `task.*`), or `*`; an unknown word is refused, so a typo does not silently match nothing.
 */
export function eventFilter(words: readonly string[]): (type: EventType) => boolean {
  if (words.length === 0 || words.includes('*')) return () => true;
  const types = new Set<string>();
  const kinds = new Set<string>();
  for (const word of words) {
    if ((EVENT_TYPES as string[]).includes(word)) types.add(word);
    else if (EVENT_KINDS.includes(word.replace(/\.\*$/, ''))) kinds.add(word.replace(/\.\*$/, ''));
    else
      throw invalidInput(
        `unknown event type ${JSON.stringify(cut(word, 80))} (a type such as task.done, a kind such as task, or *)`,
      );
  }
  return (type) => types.has(type) || kinds.has(type.split('.')[0]!);
}

/** Filter words in a schema (config.json, a plugin's definition): checked as `eventFilter` reads them. */
export const EventWords = z
  .array(z.string().min(1).max(64))
  .max(50)
  .superRefine((words, ctx) => {
    try {
      eventFilter(words);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  });
