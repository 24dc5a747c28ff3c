/**
 * Keys inside dialogs: text editing, moving between fields and choices, and what submitting each
 * kind of dialog does (add or save a task, run a palette command, move a task, send a message,
 * carry out a confirmed dangerous action).
 */
import { isTerminal } from '../src/lifecycle/index.js';
import type { Status } from '../state/schemas.js';
import { confirmBulk, runBulk } from './bulk.js';
import { runTyped, typedLine } from './commands.js';
import { applyCompletion, type CompletionData, completions } from './completion.js';
import { type Env, errorText, flashWarning, perform, release, roles } from './effects.js';
import { formInput, formPatch, formProblem } from './form.js';
import { helpLines } from './help.js';
import { KeyCommand } from './keymap.js';
import { runLongText } from './long-text.js';
import type { Dialog } from './model.js';
import { jumpToMatch } from './pager.js';
import { paletteItems } from './palette.js';
import { submitNote } from './review-actions.js';

type Confirm = Extract<Dialog, { kind: 'confirm' }>;

/** `run` carries out a command chosen in the palette (the dispatcher's own runCommand). */
export function runDialog(command: KeyCommand, dialog: Dialog, env: Env, run: RunCommand): void {
  const { dispatch } = env;
  if (runLongText(command, dialog, env)) return;
  if (command === KeyCommand.DialogClose) {
    dispatch(
      dialog.kind === 'filter' ? { type: 'filter-close', keep: false } : { type: 'dialog', dialog: null },
    );
  } else if (command === KeyCommand.TextDelete) dispatch({ type: 'text', op: 'delete' });
  else if (command === KeyCommand.TextClear) dispatch({ type: 'text', op: 'clear' });
  else if (command === KeyCommand.DialogCycle || command === KeyCommand.DialogCycleBack) {
    dispatch({ type: 'dialog-cycle', delta: command === KeyCommand.DialogCycle ? 1 : -1 });
  } else if (command === KeyCommand.PaletteComplete && dialog.kind === 'palette') {
    complete(dialog, env);
  } else if (command === KeyCommand.DialogNext || command === KeyCommand.DialogPrev) {
    const size =
      dialog.kind === 'palette'
        ? paletteSize(dialog.query, env)
        : dialog.kind === 'help'
          ? helpLines(env.ctx).length
          : undefined;
    dispatch({
      type: 'dialog-move',
      delta: command === KeyCommand.DialogNext ? 1 : -1,
      ...(size ? { size } : {}),
    });
  } else if (command === KeyCommand.DialogConfirm && dialog.kind === 'confirm') {
    dispatch({ type: 'dialog', dialog: null });
    runConfirmed(dialog, env);
  } else if (command === KeyCommand.DialogSubmit) SUBMIT[dialog.kind]?.(dialog as never, env, run);
}

type Palette = Extract<Dialog, { kind: 'palette' }>;

const completionData = (env: Env): CompletionData => ({
  view: env.lists.consoleView,
  roles: roles(env.ws),
  readOnly: env.ctx.readOnly,
});

/** Rows of the palette: completions once a typed command has begun, else the commands. */
function paletteSize(query: string, env: Env): number {
  return typedLine(query, env.ctx.readOnly)
    ? completions(query, completionData(env)).items.length
    : paletteItems(env.ctx, query).length;
}

/** `tab`: the chosen completion of the word being typed; else the chosen command's typed name; else down. */
function complete(dialog: Palette, env: Env): void {
  const at = completions(dialog.query, completionData(env));
  let query: string | null = null;
  if (typedLine(dialog.query, env.ctx.readOnly)) {
    const item = at.items[dialog.index] ?? at.items[0];
    if (item) query = applyCompletion(dialog.query, at, item);
  } else if (dialog.query.trim()) {
    const chosen = paletteItems(env.ctx, dialog.query)[dialog.index]?.binding.typed?.names[0];
    const item = chosen ?? at.items[0];
    if (item) query = applyCompletion(dialog.query, { ...at, start: 0 }, item);
  }
  if (query === null) {
    env.dispatch({ type: 'dialog-move', delta: 1, size: paletteSize(dialog.query, env) });
    return;
  }
  env.dispatch({ type: 'text', op: 'clear' });
  env.dispatch({ type: 'text', op: 'insert', text: query });
}

/** A confirmed dangerous action (or a move to a final stage). */
function runConfirmed(dialog: Confirm, env: Env): void {
  const { ws } = env;
  if (dialog.bulk) {
    runBulk(env, dialog.bulk);
    return;
  }
  const id = dialog.target;
  const direct = (directive: 'restart' | 'reset-context' | 'cancel', done: string) =>
    perform(env, async () => {
      await ws.directAgent(id, directive, dialog.note);
      return `${id}: ${done}`;
    });
  if (dialog.command === KeyCommand.TaskCancel || dialog.command === KeyCommand.TaskMove) release(env);
  if (dialog.command === KeyCommand.TaskCancel)
    perform(env, async () => `${(await ws.cancel(id, dialog.note)).id} cancelled`);
  if (dialog.command === KeyCommand.TaskMove)
    perform(env, async () => `${id} moved to ${(await ws.move(id, dialog.arg ?? '', dialog.note)).status}`);
  if (dialog.command === KeyCommand.AgentRestart) direct('restart', 'restart requested');
  if (dialog.command === KeyCommand.AgentResetContext) direct('reset-context', 'context reset requested');
  if (dialog.command === KeyCommand.AgentStopTask) direct('cancel', 'asked to stop its task');
}

const close = (env: Env) => env.dispatch({ type: 'dialog', dialog: null });

type RunCommand = (command: KeyCommand, env: Env) => void;
type Submit<K extends Dialog['kind']> = (
  dialog: Extract<Dialog, { kind: K }>,
  env: Env,
  run: RunCommand,
) => void;

const SUBMIT: { [K in Dialog['kind']]?: Submit<K> } = {
  note: submitNote,
  confirm: (dialog, env) => {
    close(env);
    if (dialog.focus === 'confirm') runConfirmed(dialog, env);
  },
  filter: (_dialog, env) => {
    env.dispatch({ type: 'filter-close', keep: true });
    // In the log pager, `/` is a search: enter goes to its first match from the page shown.
    if (env.state.view === 'log') jumpToMatch({ ...env, state: { ...env.state, logMatch: null } }, 1, true);
  },
  palette: (dialog, env, run) => {
    const typed = typedLine(dialog.query, env.ctx.readOnly);
    if (typed) {
      // The command may open a dialog of its own (a confirmation): the palette closes first.
      close(env);
      const error = runTyped({ ...env, state: { ...env.state, dialog: null } }, typed);
      if (error) env.dispatch({ type: 'dialog', dialog: { ...dialog, error } });
      return;
    }
    const item = paletteItems(env.ctx, dialog.query)[dialog.index];
    close(env);
    if (item?.disabled) flashWarning(env, `${item.binding.description}: ${item.disabled}`);
    else if (item) run(item.binding.command, { ...env, state: { ...env.state, dialog: null } });
  },
  picker: (dialog, env) => {
    const to = dialog.options[dialog.index];
    close(env);
    if (!to) return;
    if (dialog.bulk) {
      confirmBulk(env, dialog.bulk, { kind: 'move', to: to as Status }, `move to ${to}`);
      return;
    }
    if (isTerminal(to as Status)) {
      env.dispatch({
        type: 'dialog',
        dialog: {
          kind: 'confirm',
          command: KeyCommand.TaskMove,
          target: dialog.taskId,
          title: `Move ${dialog.taskId} to ${to}?`,
          detail: 'A finished task leaves the open stages of the board.',
          arg: to,
          focus: 'cancel',
        },
      });
    } else {
      release(env);
      perform(env, async () => `${dialog.taskId} moved to ${(await env.ws.move(dialog.taskId, to)).status}`);
    }
  },
  message: (dialog, env) => {
    close(env);
    const body = dialog.text.trim();
    if (body)
      perform(env, async () => {
        await env.ws.sendMail({ to: dialog.agentId, body });
        return `message sent to ${dialog.agentId}`;
      });
  },
  form: (dialog, env) => {
    const { form } = dialog;
    const problem = formProblem(form);
    if (problem) {
      env.dispatch({ type: 'form-error', error: problem });
      return;
    }
    // The form stays open until the engine accepts it; its refusal shows inside the form.
    const save = async () => {
      if (form.mode === 'add') {
        const task = await env.ws.addTask(formInput(form));
        return `${task.id} added (${task.status})`;
      }
      const task = form.taskId ? env.lists.task(form.taskId) : undefined;
      if (!task) throw new Error('the task is no longer on the board');
      const patch = formPatch(form, task);
      if (!Object.keys(patch).length) return 'nothing changed';
      return `${(await env.ws.edit(task.id, patch)).id} saved`;
    };
    save().then(
      (text) => {
        close(env);
        env.dispatch({ type: 'flash', level: 'info', text });
      },
      (error) => env.dispatch({ type: 'form-error', error: errorText(error) }),
    );
  },
};
