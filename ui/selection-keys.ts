/**
 * The handlers of the keys that mark tasks, sort the board and jump (`space`, `*`, `u`, `s`, `@`,
 * `n`/`N` on the board); the dispatcher's table takes them in.
 */
import { STATUSES } from '../state/schemas.js';
import type { Env } from './effects.js';
import { KeyCommand } from './keymap.js';
import { SORTS, sortWords } from './selection.js';

type Handler = (env: Env) => void;

const info = (env: Env, text: string) => env.dispatch({ type: 'flash', level: 'info', text });

/** The next (or previous) row the board shows, on into the next stage that has one. */
function jump(env: Env, delta: 1 | -1): void {
  const { cursor, size } = env.selection;
  const here = env.state.boardColumn;
  if (cursor + delta >= 0 && cursor + delta < size) {
    const column = env.lists.columns[STATUSES[here]!];
    env.dispatch({ type: 'cursor', delta, size, from: cursor, idAt: (i) => column[i]?.id });
    return;
  }
  for (let step = 1; step <= STATUSES.length; step++) {
    const at = (here + delta * step + STATUSES.length * 2) % STATUSES.length;
    const column = env.lists.columns[STATUSES[at]!];
    if (!column.length) continue;
    env.dispatch({ type: 'column', delta: at - here });
    env.dispatch({
      type: 'cursor',
      to: delta === 1 ? 'top' : 'bottom',
      size: column.length,
      idAt: (i) => column[i]?.id,
    });
    return;
  }
  info(env, 'no task matches');
}

export const SELECTION_HANDLERS: Partial<Record<KeyCommand, Handler>> = {
  [KeyCommand.TaskMark]: (env) => {
    const task = env.selection.task;
    if (!task) return;
    env.dispatch({ type: 'mark', ids: [task.id], on: 'toggle' });
    if (env.state.view !== 'board') {
      const on = !env.state.marked.has(task.id);
      const count = env.state.marked.size + (on ? 1 : -1);
      info(env, `${task.id} ${on ? 'marked' : 'unmarked'} (${count} marked)`);
    }
    // On to the next row, so that a run of tasks is marked by holding the key.
    if (env.state.view === 'board' && env.selection.cursor + 1 < env.selection.size) jump(env, 1);
  },
  [KeyCommand.MarkMatching]: (env) => {
    const ids = STATUSES.flatMap((s) => env.lists.columns[s].map((t) => t.id));
    const filter = env.state.filters.board;
    const all = ids.length > 0 && ids.every((id) => env.state.marked.has(id));
    env.dispatch({ type: 'mark', ids, on: !all });
    const what = filter ? `matching "${filter}"` : 'on the board';
    info(env, all ? `${ids.length} tasks ${what} unmarked` : `${ids.length} tasks ${what} marked`);
  },
  [KeyCommand.MarkClear]: (env) => {
    const n = env.state.marked.size;
    env.dispatch({ type: 'mark-clear' });
    info(env, `${n} unmarked`);
  },
  [KeyCommand.SortNext]: (env) => {
    const next = SORTS[(SORTS.indexOf(env.state.sort) + 1) % SORTS.length]!;
    env.dispatch({ type: 'sort', by: next });
    info(env, `board sorted ${sortWords[next]}`);
  },
  [KeyCommand.JumpAgent]: (env) =>
    env.dispatch({ type: 'dialog', dialog: { kind: 'palette', query: 'agent ', index: 0 } }),
  [KeyCommand.MatchNext]: (env) => jump(env, 1),
  [KeyCommand.MatchPrev]: (env) => jump(env, -1),
};
