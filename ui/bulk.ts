/**
 * Acting on many tasks at once: the marked ones (`space`, `*`) or those a typed command's query
 * selects (`:retry failed`). Every bulk action asks first, naming the count, then lands as one
 * change (Workspace.bulk); the progress line shows while it runs, and the outcome says how many
 * changed and which tasks could not take it, with why.
 */
import { plural } from '../src/output.js';
import type { BulkAction } from '../src/workspace.js';
import { STATUSES } from '../state/schemas.js';
import { type Env, errorText, release } from './effects.js';
import { KeyCommand } from './keymap.js';
import type { BulkDialog } from './selection.js';

/**
 * How long the progress line has to reach the terminal before the change starts: planning many
 * tasks holds the event loop, and Ink writes frames at most 30 times a second.
 */
const SHOW_PROGRESS_MS = 80;

/** How many refused tasks the outcome names (the rest are counted). */
const NAMED = 3;

/** A task command's handler that acts on the marked tasks when there are some. */
export const orMarked =
  (many: (env: Env, ids: string[]) => void, one: (env: Env) => void) =>
  (env: Env): void =>
    env.state.marked.size ? many(env, markedIds(env)) : one(env);

export const markedIds = (env: Env): string[] => [...env.state.marked];

const COMMAND_OF: Record<BulkAction['kind'], KeyCommand> = {
  retry: KeyCommand.TaskRetry,
  cancel: KeyCommand.TaskCancel,
  promote: KeyCommand.TaskPromote,
  priority: KeyCommand.TaskPriorityUp,
  move: KeyCommand.TaskMove,
};

function listed(ids: readonly string[]): string {
  const shown = ids.slice(0, 6).join(', ');
  return ids.length > 6 ? `${shown} and ${ids.length - 6} more` : shown;
}

/** Ask before acting on `ids`: the confirmation names the count; Cancel has the focus. */
export function confirmBulk(env: Env, ids: readonly string[], action: BulkAction, verb: string): void {
  if (ids.length === 0) {
    env.dispatch({ type: 'flash', level: 'warning', text: `${verb}: no task matches` });
    return;
  }
  const bulk: BulkDialog = { ids, action, verb };
  env.dispatch({
    type: 'dialog',
    dialog: {
      kind: 'confirm',
      command: COMMAND_OF[action.kind],
      target: '',
      title: `${verb[0]!.toUpperCase()}${verb.slice(1)}: ${plural(ids.length, 'task')}?`,
      detail: `${listed(ids)}. They change together, in one step; the tasks that cannot take it are listed after.`,
      bulk,
      focus: 'cancel',
    },
  });
}

/**
 * The stages a task can be moved to: working and review are entered by the lifecycle only (a claim,
 * the end of an attempt on a code task), never by a move.
 */
export const MOVE_STAGES = STATUSES.filter((s) => s !== 'working' && s !== 'review');

/** Moving the marked tasks: pick the stage, then confirm. */
export function pickBulkMove(env: Env, ids: readonly string[]): void {
  env.dispatch({
    type: 'dialog',
    dialog: {
      kind: 'picker',
      title: `Move ${plural(ids.length, 'marked task')} to`,
      taskId: '',
      options: [...MOVE_STAGES],
      index: 0,
      bulk: ids,
    },
  });
}

/** Carry out a confirmed bulk action: one change; marks stay on the tasks that could not take it. */
export function runBulk(env: Env, bulk: BulkDialog): void {
  const { dispatch } = env;
  const label = `${bulk.verb}: ${plural(bulk.ids.length, 'task')}`;
  // The operator's own change takes the cursor's task away: the cursor stays at its place, unflagged.
  const here = env.selection.task?.id;
  if (here && bulk.ids.includes(here)) release(env);
  dispatch({ type: 'running', running: { label, count: bulk.ids.length, startedAt: Date.now() } });
  (async () => {
    await new Promise((resolve) => setTimeout(resolve, SHOW_PROGRESS_MS));
    return env.ws.bulk(bulk.ids, bulk.action);
  })().then(
    (outcome) => {
      dispatch({ type: 'running', running: null });
      dispatch({ type: 'mark', ids: outcome.changed.map((t) => t.id), on: false });
      const asked = new Set(bulk.ids);
      const done = outcome.changed.filter((t) => asked.has(t.id)).length;
      const refused = outcome.refused;
      const named = refused
        .slice(0, NAMED)
        .map((r) => r.reason)
        .join('; ');
      const more = refused.length > NAMED ? `; and ${refused.length - NAMED} more` : '';
      dispatch({
        type: 'flash',
        level: refused.length ? 'warning' : 'info',
        text:
          `${bulk.verb}: ${plural(done, 'task')} changed in one step` +
          (refused.length ? `; ${refused.length} could not (still marked): ${named}${more}` : ''),
      });
    },
    (error) => {
      dispatch({ type: 'running', running: null });
      dispatch({ type: 'flash', level: 'error', text: `${label}: ${errorText(error)}` });
    },
  );
}

/** The progress line while a bulk action runs. */
export const runningText = (running: { label: string; startedAt: number }, now = Date.now()) =>
  `${running.label}… ${((now - running.startedAt) / 1000).toFixed(1)} s`;
