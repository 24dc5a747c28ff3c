/**
 * Long text inside dialogs: ctrl-e writes the task form's prompt, a message to an agent or the note
 * (why) of a confirmed action in `$VISUAL`/`$EDITOR` (ui/editor.ts), or, when neither is set, in
 * the console's multi-line editor (the `editor` dialog), and puts the text back where it belongs.
 */
import { editInEditor, editorFrom } from './editor.js';
import { type Env, errorText, flashWarning } from './effects.js';
import { KeyCommand } from './keymap.js';
import type { Dialog } from './model.js';

interface Target {
  /** What the text is, in messages and as the temporary file's name. */
  what: 'prompt' | 'message' | 'note';
  title: string;
  text: string;
}

function targetOf(dialog: Dialog): Target | null {
  if (dialog.kind === 'form') {
    const prompt = dialog.form.fields.find((f) => f.name === 'prompt');
    const title =
      dialog.form.mode === 'add' ? 'The prompt of the new task' : `The prompt of ${dialog.form.taskId}`;
    return prompt ? { what: 'prompt', title, text: prompt.value } : null;
  }
  if (dialog.kind === 'message')
    return { what: 'message', title: `A message to ${dialog.agentId}`, text: dialog.text };
  if (dialog.kind === 'confirm')
    return { what: 'note', title: `Why: ${dialog.title.replace(/\?$/, '')}`, text: dialog.note ?? '' };
  return null;
}

/** The dialog with the text written in its place (the form's focus moves to the prompt). */
export function withLongText(dialog: Dialog, text: string): Dialog {
  if (dialog.kind === 'form') {
    const focus = dialog.form.fields.findIndex((f) => f.name === 'prompt');
    return {
      ...dialog,
      form: {
        ...dialog.form,
        error: null,
        focus: focus >= 0 ? focus : dialog.form.focus,
        fields: dialog.form.fields.map((f) => (f.name === 'prompt' ? { ...f, value: text } : f)),
      },
    };
  }
  if (dialog.kind === 'message') return { ...dialog, text };
  if (dialog.kind === 'confirm') return { ...dialog, note: text };
  return dialog;
}

function writeLongText(dialog: Dialog, env: Env): void {
  const target = targetOf(dialog);
  if (!target) return;
  const editor = editorFrom();
  if (!editor) {
    env.dispatch({
      type: 'dialog',
      dialog: { kind: 'editor', title: target.title, text: target.text, back: dialog },
    });
    return;
  }
  editInEditor(target.text, { editor, name: target.what, handover: env.handover }).then(
    (outcome) => {
      if (!outcome.saved) {
        flashWarning(env, `${target.what}: ${outcome.why}`);
        return;
      }
      env.dispatch({ type: 'dialog', dialog: withLongText(dialog, outcome.text) });
      const lines = outcome.text.split('\n').length;
      env.dispatch({
        type: 'flash',
        level: 'info',
        text: `${target.what} written (${lines} line${lines === 1 ? '' : 's'})`,
      });
    },
    (error) => env.dispatch({ type: 'flash', level: 'error', text: `${target.what}: ${errorText(error)}` }),
  );
}

/** The long-text commands of a dialog; false when `command` is not one of them. */
export function runLongText(command: KeyCommand, dialog: Dialog, env: Env): boolean {
  if (command === KeyCommand.TextEditor) {
    writeLongText(dialog, env);
    return true;
  }
  if (dialog.kind !== 'editor') return false;
  if (command === KeyCommand.EditorNewline) env.dispatch({ type: 'text', op: 'insert', text: '\n' });
  else if (command === KeyCommand.DialogClose) env.dispatch({ type: 'dialog', dialog: dialog.back });
  else if (command === KeyCommand.EditorSave) {
    const text = dialog.text.replace(/\s+$/, '');
    if (text.trim()) env.dispatch({ type: 'dialog', dialog: withLongText(dialog.back, text) });
    else {
      env.dispatch({ type: 'dialog', dialog: dialog.back });
      flashWarning(env, 'the text was left empty; nothing changed');
    }
  } else return false;
  return true;
}

/** A text of several lines, shown on one: its first line, and how many follow. */
export function firstLine(text: string): string {
  const lines = text.split('\n');
  return lines.length > 1 ? `${lines[0]} (+${lines.length - 1} line${lines.length === 2 ? '' : 's'})` : text;
}
