/**
 * What the review commands do: open the review view or a task's diff, move from file to file in the
 * diff, approve a code task, and reject one with a note (a form; the note is required and lands in
 * the task's context for its next attempt).
 */
import { reviewApprove, reviewReject } from '../src/review/index.js';
import { fileJump } from './diff-model.js';
import { type Env, errorText, flashWarning, perform } from './effects.js';
import { KeyCommand } from './keymap.js';
import type { Dialog } from './model.js';

type Handler = (env: Env) => void;

function jumpFile(env: Env, dir: 1 | -1): void {
  const parsed = env.selection.diff?.parsed;
  if (!parsed) return;
  if (!parsed.fileStarts.length) {
    flashWarning(env, 'this diff has no file to go to');
    return;
  }
  const top = env.selection.cursor;
  const to = fileJump(parsed, top, dir);
  if (to === null) {
    flashWarning(env, dir > 0 ? 'this is the last file' : 'this is the first file');
    return;
  }
  // The file's first line goes to the top of the page (as far as the last page allows).
  env.dispatch({ type: 'cursor', delta: to - top, size: env.selection.size, from: top });
}

export const REVIEW_HANDLERS: Partial<Record<KeyCommand, Handler>> = {
  [KeyCommand.ViewReview]: (env) => env.dispatch({ type: 'go', view: 'review' }),
  [KeyCommand.ReviewDiff]: (env) => {
    if (env.ctx.review) env.dispatch({ type: 'open-diff', id: env.ctx.review.id });
  },
  [KeyCommand.ReviewApprove]: (env) => {
    const id = env.ctx.review?.id;
    if (id)
      perform(env, async () => `${(await reviewApprove(env.ws, id)).id} approved: it joins the merge queue`);
  },
  [KeyCommand.ReviewReject]: (env) => {
    const id = env.ctx.review?.id;
    if (id) env.dispatch({ type: 'dialog', dialog: { kind: 'note', taskId: id, text: '', error: null } });
  },
  [KeyCommand.DiffNextFile]: (env) => jumpFile(env, 1),
  [KeyCommand.DiffPrevFile]: (env) => jumpFile(env, -1),
};

/** Enter in the rejection form: refused without a note; the form stays open until the engine accepts. */
export function submitNote(dialog: Extract<Dialog, { kind: 'note' }>, env: Env): void {
  const note = dialog.text.trim();
  if (!note) {
    env.dispatch({ type: 'form-error', error: 'a rejection needs a note: say what to change' });
    return;
  }
  (async () => reviewReject(env.ws, dialog.taskId, note))().then(
    (task) => {
      env.dispatch({ type: 'dialog', dialog: null });
      env.dispatch({
        type: 'flash',
        level: 'info',
        text: `${task.id} rejected: back to ready with the note`,
      });
    },
    (error) => env.dispatch({ type: 'form-error', error: errorText(error) }),
  );
}
