/**
 * What a change touches and what its plan read, as keys: the PostgreSQL backend records a lone hot
 * change on top of entries recorded after the one it was planned on when none of them wrote what the
 * plan read (`record_at_head`, docs/decisions/postgres-backend.md, "Changes side by side"). Each
 * journal row keeps the keys its change wrote (`journal.touched`); a row without them (written by
 * `doctor`'s repairs or an import) counts as touching everything.
 *
 * Keys: `t:ID` a task (also one archived), `d:ID` "a task that depends on ID was written", `res` a
 * task with resources (their globs may overlap any other's), `a:ID` an agent's state, `l:ID` an
 * alert, `b:ID` a mailbox, `c:ID` an agent's checkpoints, `config`, and `counters` when a change hands
 * out a new id (every entry carries all the counters, so a change planned before that one would record
 * them going back).
 */
import type { Change } from '../change.js';
import type { Counters, StateView } from '../state-index.js';

/** The separator of the keys in the one text per entry that `record_entries` takes. */
export const KEY_SEPARATOR = '\x1f';

/**
 * Changes that may be recorded on top of later entries: the hot ones, whose reads `reads` names.
 * Another change is recorded only on the entry it was planned on.
 */
export const SIDE_BY_SIDE_OPS: ReadonlySet<string> = new Set([
  'claim',
  'renew',
  'complete',
  'fail',
  'expire',
]);

/** The keys of what `change` writes, against the state it was planned on. */
export function writes(change: Change, view: StateView): string[] {
  const keys = new Set<string>();
  for (const task of change.tasks ?? []) {
    keys.add(`t:${task.id}`);
    for (const dep of task.dependsOn) keys.add(`d:${dep}`);
    if (task.resources.length > 0) keys.add('res');
  }
  for (const id of change.archived ?? []) keys.add(`t:${id}`);
  for (const agent of change.agents ?? []) keys.add(`a:${agent.id}`);
  for (const alert of change.alerts ?? []) keys.add(`l:${alert.id}`);
  for (const mail of change.mail ?? []) keys.add(`b:${mail.to}`);
  for (const checkpoint of change.checkpoints ?? []) keys.add(`c:${checkpoint.agent}`);
  if (change.config !== undefined) keys.add('config');
  const current = view.counters;
  for (const [kind, value] of Object.entries(change.counters ?? {}) as [keyof Counters, number][]) {
    if (value > current[kind]) keys.add('counters');
  }
  return [...keys];
}

/**
 * The keys of what the plan of a hot change read, which must not have been written since the state
 * it was planned on: everything it writes (but its own `d:` keys: two claims of tasks that share a
 * dependency do not meet); every dependency of a task it writes (a claim needs them done); for a task
 * it completes, each task waiting in the backlog on it with that task's other dependencies, and
 * whether another task came to depend on it (an edit, a move back to the backlog): which tasks it
 * releases; for a task it archives, whether anything came to depend on it; and always the counters
 * and the config (`written`: its `writes`, when they are at hand).
 * Not read as a conflict: which ready task was best when the plan was made. A claim takes the best one
 * it saw that nobody has taken since, as a `SKIP LOCKED` claim takes the best one nobody holds.
 */
export function reads(
  change: Change,
  view: StateView,
  written: readonly string[] = writes(change, view),
): string[] {
  const keys = new Set(written.filter((key) => !key.startsWith('d:')));
  keys.add('counters');
  keys.add('config');
  const done = new Set<string>();
  for (const task of change.tasks ?? []) {
    for (const dep of task.dependsOn) keys.add(`t:${dep}`);
    if (task.status === 'done') done.add(task.id);
  }
  if (done.size > 0) {
    for (const id of done) keys.add(`d:${id}`);
    for (const waiting of view.inStore('backlog')) {
      if (!waiting.dependsOn.some((dep) => done.has(dep))) continue;
      keys.add(`t:${waiting.id}`);
      for (const dep of waiting.dependsOn) keys.add(`t:${dep}`);
    }
  }
  for (const id of change.archived ?? []) keys.add(`d:${id}`);
  return [...keys];
}
