/**
 * The bounds of policies.limits, checked by the planners before anything is recorded: unacknowledged
 * mail per mailbox and in all, tasks per add or import and on the boards. A refusal is E_LIMIT
 * (exit 4) and says what to do. Each check reads the current state, so it costs a pass over the
 * mailboxes or the tasks; it is made only when a change adds mail or makes tasks larger.
 */
import type { StateView } from '../state/backend.js';
import type { Mail, Task } from '../state/schemas.js';
import { type Limits, OPERATOR } from './config.js';
import { DreamError } from './errors.js';

const limitError = (message: string) => new DreamError('E_LIMIT', message);

const chars = (n: number) => n.toLocaleString('en-US');

/**
 * Unacknowledged mail of a mailbox but directives: exactly what `mail ack --all` acknowledges, so
 * that the way out a refusal names always makes room. Directives are bounded by their own size.
 */
function unacked(view: StateView, mailbox: string): { count: number; chars: number } {
  let count = 0;
  let size = 0;
  for (const m of view.mailbox(mailbox)) {
    if (m.ackedAt || m.type === 'directive') continue;
    count += 1;
    size += m.body.length;
  }
  return { count, chars: size };
}

/**
 * New messages fit the mailboxes they go to and the workspace. Directives (pause, resume, cancel…)
 * are neither refused nor counted: they are how the operator regains control of a flooding agent.
 */
export function checkMailLimits(
  view: StateView,
  limits: Limits,
  agentIds: readonly string[],
  sending: readonly Mail[],
): void {
  const counted = sending.filter((m) => m.type !== 'directive');
  if (counted.length === 0) return;
  let total = 0;
  const boxes = new Map<string, { count: number; chars: number }>();
  for (const id of new Set([...agentIds, OPERATOR, ...counted.map((m) => m.to)])) {
    const box = unacked(view, id);
    boxes.set(id, box);
    total += box.chars;
  }
  const way = (to: string) =>
    `it empties as ${to === OPERATOR ? 'the operator acknowledges' : `${to} acknowledges`} them (\`dreamos mail ack --all --agent ${to}\` acknowledges them all)`;
  for (const m of counted) {
    const box = boxes.get(m.to)!;
    box.count += 1;
    box.chars += m.body.length;
    total += m.body.length;
    if (box.count > limits.mailboxMessages) {
      throw limitError(
        `the mailbox of ${m.to} holds ${chars(box.count - 1)} unacknowledged messages, its limit (policies.limits.mailboxMessages): nothing was sent; ${way(m.to)}`,
      );
    }
    if (box.chars > limits.mailboxChars) {
      throw limitError(
        `the mailbox of ${m.to} would hold ${chars(box.chars)} characters of unacknowledged mail, over its limit of ${chars(limits.mailboxChars)} (policies.limits.mailboxChars): nothing was sent; ${way(m.to)}`,
      );
    }
  }
  if (total > limits.mailChars) {
    throw limitError(
      `the mailboxes would hold ${chars(total)} characters of unacknowledged mail, over the workspace's limit of ${chars(limits.mailChars)} (policies.limits.mailChars): nothing was sent; acknowledge mail first (\`dreamos mail list --agent ID\`, \`dreamos mail ack --all --agent ID\`)`,
    );
  }
}

/**
 * What a task costs the snapshots: its JSON, as stored (a snapshot's indent of one space at most
 * about doubles it). Every field counts, so no field of an add, import or edit goes unbounded.
 */
export const taskChars = (task: Task): number => JSON.stringify(task).length;

/**
 * Tasks added or rewritten (`tasks`, replacing `replaced` in an edit) fit the boards, and, for an add
 * or import (`what` names it), the limit of one add or import.
 */
export function checkTaskLimits(
  view: StateView,
  limits: Limits,
  tasks: readonly Task[],
  replaced?: Task,
  what?: string,
): void {
  let added = 0;
  for (const task of tasks) added += taskChars(task);
  if (what !== undefined && added > limits.importChars) {
    throw limitError(
      `${what} takes ${chars(added)} characters as stored, over the limit of ${chars(limits.importChars)} for one add or import (policies.limits.importChars): nothing was added; split it`,
    );
  }
  const removed = replaced ? taskChars(replaced) : 0;
  if (added <= removed) return;
  let total = 0;
  for (const task of view.tasks()) total += taskChars(task);
  if (total - removed + added > limits.boardChars) {
    throw limitError(
      `the tasks on the boards take ${chars(total)} characters as stored; ${chars(added - removed)} more would pass their limit of ${chars(limits.boardChars)} (policies.limits.boardChars): nothing was changed; finished and cancelled tasks leave the boards when they are archived (policies.keepCompleted), or raise the limit`,
    );
  }
}
