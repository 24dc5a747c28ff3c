/**
 * The one input dispatcher (STYLE.md): a key goes to the open dialog first (which captures every
 * key), else to the current view's bindings, then the global ones. A hidden or disabled binding
 * says why in a flash message. Each command's handler is one entry of a table.
 */
import { stripControl } from '../src/sanitize.js';
import { confirmBulk, MOVE_STAGES, orMarked, pickBulkMove } from './bulk.js';
import { runDialog } from './dialog-actions.js';
import { type Env, flashWarning, perform, release, roles } from './effects.js';
import { addForm, editForm } from './form.js';
import { type KeyEvent, textOf } from './input.js';
import { disabledReason, KeyCommand, lookup, scopesFor, type TopView } from './keymap.js';
import { listKey, type UiAction } from './model.js';
import { jumpToMatch } from './pager.js';
import { REVIEW_HANDLERS } from './review-actions.js';
import { SELECTION_HANDLERS } from './selection-keys.js';

const TEXT_DIALOGS = new Set(['form', 'palette', 'filter', 'message', 'editor', 'note']);

/**
 * The keys of one write, each handled against the state the previous one left (`envFor` reads it
 * afresh): `jjj` moves three rows, `2` then `tab` goes to the board and on. Once a field takes text,
 * the rest of the write is text for it (a paste into a form stays a paste, line breaks included);
 * once a confirmation opens, the rest is dropped: it is answered only after it has been seen.
 */
export function handleKeys(events: ReadonlyArray<KeyEvent & { raw: string }>, envFor: () => Env): void {
  for (const [i, event] of events.entries()) {
    const env = envFor();
    const dialog = env.state.dialog?.kind;
    if (i > 0 && dialog === 'confirm') return;
    if (events.length > 1 && dialog && TEXT_DIALOGS.has(dialog)) {
      const raw = events
        .slice(i)
        .map((e) => e.raw)
        .join('');
      // The multi-line editor keeps the line breaks of a paste.
      const text = dialog === 'editor' ? stripControl(raw.replace(/\r\n?/g, '\n')) : textOf(raw);
      if (text) env.dispatch({ type: 'text', op: 'insert', text });
      return;
    }
    handleKey(event, env);
  }
}

export function handleKey(event: KeyEvent, env: Env): void {
  const dialog = env.state.dialog;
  const binding = lookup(scopesFor(env.state.view, dialog?.kind ?? null), event.name);
  if (dialog) {
    if (binding) runDialog(binding.command, dialog, env, runCommand);
    else if (event.text && TEXT_DIALOGS.has(dialog.kind))
      env.dispatch({ type: 'text', op: 'insert', text: event.text });
    return;
  }
  if (!binding) return;
  const reason = disabledReason(binding, env.ctx);
  if (reason) flashWarning(env, `${binding.description}: ${reason}`);
  else runCommand(binding.command, env);
}

function runCommand(command: KeyCommand, env: Env): void {
  HANDLERS[command]?.(env);
}

type Handler = (env: Env) => void;

const cursor =
  (move: { delta?: number; to?: 'top' | 'bottom' }, page = false): Handler =>
  (env) =>
    env.dispatch({
      type: 'cursor',
      ...move,
      ...(move.delta && page ? { delta: move.delta * env.pageSize } : {}),
      size: env.selection.size,
      from: env.selection.cursor,
      ...(env.selection.idAt ? { idAt: env.selection.idAt } : {}),
    });
const go =
  (view: TopView): Handler =>
  (env) =>
    env.dispatch({ type: 'go', view });
const dialog =
  (make: (env: Env) => Extract<UiAction, { type: 'dialog' }>['dialog']): Handler =>
  (env) =>
    env.dispatch({ type: 'dialog', dialog: make(env) });
const confirm = (command: KeyCommand, target: string, title: string, detail: string) =>
  ({ kind: 'confirm', command, target, title, detail, focus: 'cancel' }) as const;

/**
 * The row the operator picked has left the list (another process moved it) and the cursor is on a
 * neighbour: say so and pick the neighbour, so that only a second press acts on it.
 */
function movedAway(env: Env, what: string): boolean {
  const { lost, idAt, cursor } = env.selection;
  const here = idAt?.(cursor);
  if (!lost || here === undefined) return false;
  const now = env.lists.task(lost)?.status;
  flashWarning(
    env,
    `${lost.replace(/^\w+:/, '')} has left this list${now ? ` (it is ${now} now)` : ''}; press again to act on ${what}`,
  );
  env.dispatch({ type: 'pick', picks: { [listKey(env.state)]: here } });
  return true;
}

/** Task and agent commands act on the selection; their bindings are enabled only when there is one. */
const withTask =
  (fn: (env: Env, task: NonNullable<Env['selection']['task']>) => void): Handler =>
  (env) => {
    const task = env.selection.task;
    if (task && !movedAway(env, task.id)) fn(env, task);
  };
const withAgent =
  (fn: (env: Env, agent: NonNullable<Env['selection']['agent']>) => void): Handler =>
  (env) => {
    if (env.selection.agent) fn(env, env.selection.agent);
  };
const priority = (delta: 1 | -1) =>
  orMarked(
    (env, ids) =>
      confirmBulk(
        env,
        ids,
        { kind: 'priority', to: delta === 1 ? 'up' : 'down' },
        `priority ${delta === 1 ? 'up' : 'down'}`,
      ),
    withTask((env, task) =>
      perform(env, async () => {
        const next = await env.ws.bumpPriority(task.id, delta);
        return `${next.id} is now ${next.priority}`;
      }),
    ),
  );

const alertsTo =
  (to: 'acknowledged' | 'resolved'): Handler =>
  (env) => {
    const ids = env.selection.alerts;
    if (movedAway(env, `the alerts ${ids.join(', ')}`)) return;
    release(env);
    perform(env, async () => {
      for (const id of ids) await env.ws.setAlertStatus(id, to);
      return `${ids.join(', ')} ${to}`;
    });
  };

const HANDLERS: Partial<Record<KeyCommand, Handler>> = {
  [KeyCommand.Up]: cursor({ delta: -1 }),
  [KeyCommand.Down]: cursor({ delta: 1 }),
  [KeyCommand.PageUp]: cursor({ delta: -1 }, true),
  [KeyCommand.PageDown]: cursor({ delta: 1 }, true),
  [KeyCommand.Top]: cursor({ to: 'top' }),
  [KeyCommand.Bottom]: cursor({ to: 'bottom' }),
  [KeyCommand.Left]: (env) => env.dispatch({ type: 'column', delta: -1 }),
  [KeyCommand.Right]: (env) => env.dispatch({ type: 'column', delta: 1 }),
  [KeyCommand.Open]: (env) => {
    const open = env.selection.open;
    // Enter on a pty agent's pane attaches to its terminal; a read-only console opens the agent.
    if (env.state.view === 'dashboard' && env.ctx.agent?.session && !env.ctx.readOnly && env.attach)
      env.attach(env.ctx.agent.id);
    else if (open)
      env.dispatch(
        open.kind === 'task' ? { type: 'open-task', id: open.id } : { type: 'open-agent', id: open.id },
      );
  },
  [KeyCommand.OpenLog]: (env) => {
    if (env.ctx.logTask) env.dispatch({ type: 'open-log', id: env.ctx.logTask });
  },
  [KeyCommand.SearchNext]: (env) => jumpToMatch(env, 1),
  [KeyCommand.SearchPrev]: (env) => jumpToMatch(env, -1),
  [KeyCommand.Back]: (env) => env.dispatch({ type: 'back' }),
  [KeyCommand.NextView]: (env) => env.dispatch({ type: 'cycle', delta: 1 }),
  [KeyCommand.PrevView]: (env) => env.dispatch({ type: 'cycle', delta: -1 }),
  [KeyCommand.ViewDashboard]: go('dashboard'),
  [KeyCommand.ViewBoard]: go('board'),
  [KeyCommand.ViewAlerts]: go('alerts'),
  [KeyCommand.ViewJournal]: go('journal'),
  [KeyCommand.ViewMetrics]: go('metrics'),
  [KeyCommand.Filter]: dialog((env) => {
    const current = env.state.filters[env.state.view] ?? '';
    return { kind: 'filter', view: env.state.view, text: current, before: current };
  }),
  [KeyCommand.Palette]: dialog(() => ({ kind: 'palette', query: '', index: 0 })),
  [KeyCommand.Help]: dialog(() => ({ kind: 'help', scroll: 0 })),
  [KeyCommand.Quit]: (env) => env.quit(),
  [KeyCommand.TaskAdd]: dialog((env) => ({ kind: 'form', form: addForm(roles(env.ws)) })),
  [KeyCommand.TaskEdit]: withTask((env, task) =>
    env.dispatch({ type: 'dialog', dialog: { kind: 'form', form: editForm(task, roles(env.ws)) } }),
  ),
  [KeyCommand.TaskPromote]: orMarked(
    (env, ids) => confirmBulk(env, ids, { kind: 'promote' }, 'promote'),
    withTask((env, task) => {
      release(env);
      perform(env, async () => `${(await env.ws.promote(task.id)).id} promoted to ready`);
    }),
  ),
  [KeyCommand.TaskApprove]: withTask((env, task) => {
    release(env);
    perform(env, async () => {
      const approved = await env.ws.approve(task.id);
      return `${approved.id} approved${approved.status === 'ready' ? ': ready to run' : '; it waits for its dependencies'}`;
    });
  }),
  [KeyCommand.TaskMove]: orMarked(
    pickBulkMove,
    withTask((env, task) => {
      const options = MOVE_STAGES.filter((s) => s !== task.status);
      env.dispatch({
        type: 'dialog',
        dialog: { kind: 'picker', title: `Move ${task.id} to`, taskId: task.id, options, index: 0 },
      });
    }),
  ),
  [KeyCommand.TaskRetry]: orMarked(
    (env, ids) => confirmBulk(env, ids, { kind: 'retry' }, 'retry'),
    withTask((env, task) => {
      release(env);
      perform(env, async () => `${task.id} retried (${(await env.ws.retry(task.id)).status})`);
    }),
  ),
  [KeyCommand.TaskCancel]: orMarked(
    (env, ids) => confirmBulk(env, ids, { kind: 'cancel' }, 'cancel'),
    withTask((env, task) =>
      env.dispatch({
        type: 'dialog',
        dialog: confirm(
          KeyCommand.TaskCancel,
          task.id,
          `Cancel ${task.id}?`,
          `${task.title} (${task.status}). A working task's process is stopped.`,
        ),
      }),
    ),
  ),
  [KeyCommand.TaskPriorityUp]: priority(1),
  [KeyCommand.TaskPriorityDown]: priority(-1),
  [KeyCommand.AgentPauseResume]: withAgent((env, agent) =>
    perform(env, async () => {
      await env.ws.directAgent(agent.id, agent.paused ? 'resume' : 'pause');
      return `${agent.name}: ${agent.paused ? 'resumed' : 'paused'}`;
    }),
  ),
  [KeyCommand.AgentRestart]: withAgent((env, agent) =>
    env.dispatch({
      type: 'dialog',
      dialog: confirm(
        KeyCommand.AgentRestart,
        agent.id,
        `Restart ${agent.name}?`,
        'Its current process is stopped and its task goes back to ready.',
      ),
    }),
  ),
  [KeyCommand.AgentResetContext]: withAgent((env, agent) =>
    env.dispatch({
      type: 'dialog',
      dialog: confirm(
        KeyCommand.AgentResetContext,
        agent.id,
        `Reset the context of ${agent.name}?`,
        'It starts its next step without its session history.',
      ),
    }),
  ),
  [KeyCommand.AgentStopTask]: withAgent((env, agent) =>
    env.dispatch({
      type: 'dialog',
      dialog: confirm(
        KeyCommand.AgentStopTask,
        agent.id,
        `Stop the task of ${agent.name}?`,
        `${agent.task?.id ?? ''} ${agent.task?.title ?? ''}`,
      ),
    }),
  ),
  [KeyCommand.AgentAttach]: withAgent((env, agent) => env.attach?.(agent.id)),
  [KeyCommand.AgentView]: withAgent((env, agent) => env.dispatch({ type: 'open-agent', id: agent.id })),
  [KeyCommand.AlertAck]: alertsTo('acknowledged'),
  [KeyCommand.AlertResolve]: alertsTo('resolved'),
  [KeyCommand.AgentMessage]: withAgent((env, agent) =>
    env.dispatch({ type: 'dialog', dialog: { kind: 'message', agentId: agent.id, text: '' } }),
  ),
  // the journal's calm view; long text in an editor
  [KeyCommand.JournalNoise]: (env) => env.dispatch({ type: 'journal-noise' }),
  [KeyCommand.OpenText]: (env) => {
    if (env.ctx.logTask) env.dispatch({ type: 'open-log', id: env.ctx.logTask, what: 'text' });
  },
  [KeyCommand.JournalFollow]: (env) => {
    const { cursor, idAt } = env.selection;
    const following = env.state.cursors.journal === undefined;
    const id = idAt?.(cursor);
    env.dispatch(
      following && id !== undefined
        ? { type: 'follow', key: 'journal', on: false, at: cursor, id }
        : { type: 'follow', key: 'journal', on: true },
    );
  },
  ...SELECTION_HANDLERS,
  ...REVIEW_HANDLERS,
};
