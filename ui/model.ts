/**
 * The console's own state (which view, cursors, filters, the open dialog, the flash message) and
 * its one pure reducer. Workspace data is not here: it comes from the live snapshot. Tested
 * without Ink (tests/unit/ui/model.test.ts).
 */
import { STATUSES } from '../state/schemas.js';
import { type FormState, formCycle, formFocus, formType } from './form.js';
import { type KeyCommand, TOP_VIEWS, type TopView, type ViewId } from './keymap.js';
import {
  type BulkDialog,
  initialSelection,
  reduceSelection,
  type SelectionAction,
  type SelectionState,
} from './selection.js';
import { editText } from './text.js';

export type FlashLevel = 'info' | 'warning' | 'error';
export interface Flash {
  id: number;
  level: FlashLevel;
  text: string;
}

export type Dialog =
  | { kind: 'help'; scroll: number }
  /** `error`: why the typed command last submitted did not run (cleared when the text changes). */
  | { kind: 'palette'; query: string; index: number; error?: string }
  | {
      kind: 'confirm';
      command: KeyCommand;
      title: string;
      detail: string;
      target: string;
      arg?: string;
      /** Why, written with ctrl-e: recorded with the change. */
      note?: string;
      /** A bulk action on the marked tasks (ui/bulk.ts), carried out when confirmed. */
      bulk?: BulkDialog;
      focus: 'cancel' | 'confirm';
    }
  | { kind: 'form'; form: FormState }
  | { kind: 'filter'; view: ViewId; text: string; before: string }
  | {
      kind: 'picker';
      title: string;
      taskId: string;
      options: string[];
      index: number;
      /** Moving the marked tasks: their ids. */
      bulk?: readonly string[];
    }
  | { kind: 'message'; agentId: string; text: string }
  /** The multi-line editor (no $VISUAL or $EDITOR): its text goes back into `back` when saved. */
  | { kind: 'editor'; title: string; text: string; back: Dialog }
  /** A reviewer's note for a rejection (required). */
  | { kind: 'note'; taskId: string; text: string; error: string | null };

export interface UiState extends SelectionState {
  view: ViewId;
  /** Where `esc` goes back to. */
  back: ViewId[];
  agentId: string | null;
  taskId: string | null;
  /** The task whose log the pager shows, and the line of the current search match. */
  logTaskId: string | null;
  logMatch: number | null;
  /** What the pager shows of that task: its log, or its long text (prompt, summary, result). */
  logWhat: 'log' | 'text';
  /** The task whose diff the diff view shows (its cursor, `diff`, is the first line shown). */
  diffTaskId: string | null;
  /** Cursor per list: a view, or `board:<stage>` for a board column. */
  cursors: Record<string, number>;
  /**
   * The row the cursor is on, per list, by id (a task id, an attention key): the cursor follows it
   * when other processes add, move or remove rows (derive.ts), and falls back to `cursors`.
   */
  picks: Record<string, string>;
  /** Picks the operator's own change is taking out of their list: the cursor stays at its place. */
  released: Record<string, string>;
  boardColumn: number;
  filters: Partial<Record<ViewId, string>>;
  /** The journal view shows heartbeats and lease renewals too. */
  journalNoise: boolean;
  dialog: Dialog | null;
  flash: Flash | null;
  flashSeq: number;
}

export type UiAction =
  | { type: 'go'; view: TopView }
  | { type: 'cycle'; delta: 1 | -1 }
  | { type: 'open-agent'; id: string }
  | { type: 'open-task'; id: string }
  | { type: 'open-log'; id: string; what?: 'log' | 'text' }
  | { type: 'log-match'; line: number | null }
  | { type: 'open-diff'; id: string }
  | { type: 'back' }
  | {
      type: 'cursor';
      delta?: number;
      to?: 'top' | 'bottom';
      size: number;
      /** Where the cursor is now (it may have followed its row); else the stored position. */
      from?: number;
      /** The id of a row, to follow it. */
      idAt?: (index: number) => string | undefined;
    }
  /** `missing`: only for lists without a pick (what was shown, recorded after the operator moved on). */
  | { type: 'pick'; picks: Record<string, string>; missing?: boolean }
  | { type: 'release'; key: string; at: number; id: string }
  /** Where picked rows are now (they moved because of other processes). */
  | { type: 'moved'; cursors: Record<string, number> }
  | { type: 'column'; delta: number }
  | { type: 'dialog'; dialog: Dialog | null }
  | { type: 'text'; op: 'insert' | 'delete' | 'clear'; text?: string }
  | { type: 'dialog-move'; delta: number; size?: number }
  | { type: 'dialog-cycle'; delta: number }
  | { type: 'form-error'; error: string }
  | { type: 'filter-close'; keep: boolean }
  | { type: 'flash'; level: FlashLevel; text: string }
  | { type: 'flash-clear'; id: number }
  | { type: 'journal-noise' }
  /** A tail list (the journal) follows its newest row, or stays on the row `id` at `at`. */
  | { type: 'follow'; key: string; on: boolean; at?: number; id?: string }
  | SelectionAction;

export const initialState = (view: ViewId = 'dashboard'): UiState => ({
  view,
  back: [],
  agentId: null,
  taskId: null,
  logTaskId: null,
  logMatch: null,
  logWhat: 'log',
  diffTaskId: null,
  cursors: {},
  picks: {},
  released: {},
  boardColumn: STATUSES.indexOf('ready'),
  filters: {},
  journalNoise: false,
  dialog: null,
  flash: null,
  flashSeq: 0,
  ...initialSelection(),
});

const clamp = (n: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, n));

/** The list the cursor keys move in the current view. */
export function listKey(state: Pick<UiState, 'view' | 'boardColumn'>): string {
  return state.view === 'board' ? `board:${STATUSES[state.boardColumn]}` : state.view;
}

/** Lists that start at their newest (last) row and follow it while the cursor stays there. */
const TAILS = new Set(['journal', 'log']);

/** A stored cursor, kept inside a list that may have shrunk since. */
export const cursorOf = (state: UiState, key: string, size: number) =>
  clamp(state.cursors[key] ?? (TAILS.has(key) ? size - 1 : 0), 0, Math.max(0, size - 1));

/** A new filter: the lists of its view start again from what the cursor is on in the filtered rows. */
function withFilter(state: UiState, view: ViewId, text: string): UiState {
  if ((state.filters[view] ?? '') === text) return state;
  const prefix = view === 'board' ? 'board:' : view;
  const picks = Object.fromEntries(Object.entries(state.picks).filter(([key]) => !key.startsWith(prefix)));
  return { ...state, filters: { ...state.filters, [view]: text }, picks };
}

/** A prompt may be this long (the task schema's bound). */
export const MAX_LONG_TEXT = 200_000;

const withText = (text: string, op: 'insert' | 'delete' | 'clear', insert = '') =>
  editText(text, op, insert, 500);

function reduceDialog(dialog: Dialog, action: UiAction): Dialog {
  switch (action.type) {
    case 'text': {
      if (dialog.kind === 'form') return { ...dialog, form: formType(dialog.form, action.op, action.text) };
      if (dialog.kind === 'palette')
        return { kind: 'palette', query: withText(dialog.query, action.op, action.text), index: 0 };
      if (dialog.kind === 'filter' || dialog.kind === 'message')
        return { ...dialog, text: withText(dialog.text, action.op, action.text) };
      if (dialog.kind === 'editor')
        return { ...dialog, text: editText(dialog.text, action.op, action.text ?? '', MAX_LONG_TEXT) };
      if (dialog.kind === 'note')
        return { ...dialog, text: editText(dialog.text, action.op, action.text ?? '', 4000), error: null };
      return dialog;
    }
    case 'dialog-move': {
      const size = Math.max(1, action.size ?? 1);
      if (dialog.kind === 'form') return { ...dialog, form: formFocus(dialog.form, action.delta) };
      if (dialog.kind === 'palette')
        return { ...dialog, index: clamp(dialog.index + action.delta, 0, size - 1) };
      if (dialog.kind === 'picker')
        return { ...dialog, index: clamp(dialog.index + action.delta, 0, dialog.options.length - 1) };
      if (dialog.kind === 'help')
        return { ...dialog, scroll: clamp(dialog.scroll + action.delta, 0, size - 1) };
      if (dialog.kind === 'confirm')
        return { ...dialog, focus: dialog.focus === 'cancel' ? 'confirm' : 'cancel' };
      return dialog;
    }
    case 'dialog-cycle':
      if (dialog.kind === 'form') return { ...dialog, form: formCycle(dialog.form, action.delta) };
      if (dialog.kind === 'confirm')
        return { ...dialog, focus: dialog.focus === 'cancel' ? 'confirm' : 'cancel' };
      return dialog;
    case 'form-error':
      if (dialog.kind === 'note') return { ...dialog, error: action.error };
      return dialog.kind === 'form' ? { ...dialog, form: { ...dialog.form, error: action.error } } : dialog;
    default:
      return dialog;
  }
}

export function reduce(state: UiState, action: UiAction): UiState {
  switch (action.type) {
    case 'go':
      return { ...state, view: action.view, back: [], dialog: null };
    case 'cycle': {
      const from = TOP_VIEWS.indexOf(state.view as TopView);
      const base = from >= 0 ? from : TOP_VIEWS.indexOf((state.back[0] ?? 'dashboard') as TopView);
      const next = TOP_VIEWS[(base + action.delta + TOP_VIEWS.length) % TOP_VIEWS.length]!;
      return { ...state, view: next, back: [] };
    }
    case 'open-agent':
      return {
        ...state,
        view: 'agent',
        agentId: action.id,
        back: [...state.back, state.view],
        cursors: { ...state.cursors, agent: 0 },
      };
    case 'open-task':
      return {
        ...state,
        view: 'task',
        taskId: action.id,
        back: [...state.back, state.view],
        cursors: { ...state.cursors, task: 0 },
      };
    case 'open-log': {
      // The pager opens at the end of the log, following it, with no search; a text at its top.
      const { log: _, ...rest } = state.cursors;
      const cursors = action.what === 'text' ? { ...rest, log: 0 } : rest;
      return {
        ...state,
        view: 'log',
        logTaskId: action.id,
        logMatch: null,
        logWhat: action.what ?? 'log',
        back: [...state.back, state.view],
        cursors,
        filters: { ...state.filters, log: '' },
      };
    }
    case 'open-diff': {
      // The diff opens at its first line.
      const { diff: _, ...cursors } = state.cursors;
      return { ...state, view: 'diff', diffTaskId: action.id, back: [...state.back, state.view], cursors };
    }
    case 'log-match':
      return { ...state, logMatch: action.line };
    case 'back': {
      if (state.filters[state.view]) return withFilter(state, state.view, '');
      const back = [...state.back];
      const view = back.pop();
      return view ? { ...state, view, back } : state;
    }
    case 'cursor': {
      const key = listKey(state);
      const current = action.from ?? cursorOf(state, key, action.size);
      const next =
        action.to === 'top' ? 0 : action.to === 'bottom' ? action.size - 1 : current + (action.delta ?? 0);
      const cursor = clamp(next, 0, Math.max(0, action.size - 1));
      const cursors = { ...state.cursors, [key]: cursor };
      // On the last row of a tail list, the cursor follows new rows.
      const following = TAILS.has(key) && cursor === action.size - 1;
      if (following) delete cursors[key];
      const picks = { ...state.picks };
      const id = following ? undefined : action.idAt?.(cursor);
      if (id === undefined) delete picks[key];
      else picks[key] = id;
      const { [key]: _, ...released } = state.released;
      return { ...state, cursors, picks, released };
    }
    case 'pick': {
      const picks = { ...state.picks };
      const released = { ...state.released };
      for (const [key, id] of Object.entries(action.picks)) {
        // What was shown does not replace a pick, unless the operator's change took that one away.
        const keep = picks[key] !== undefined && (released[key] !== picks[key] || picks[key] === id);
        if (action.missing && keep) continue;
        picks[key] = id;
        delete released[key];
      }
      return { ...state, picks, released };
    }
    case 'moved':
      return { ...state, cursors: { ...state.cursors, ...action.cursors } };
    case 'release':
      return {
        ...state,
        cursors: { ...state.cursors, [action.key]: action.at },
        picks: { ...state.picks, [action.key]: action.id },
        released: { ...state.released, [action.key]: action.id },
      };
    case 'column':
      return { ...state, boardColumn: clamp(state.boardColumn + action.delta, 0, STATUSES.length - 1) };
    case 'dialog':
      return { ...state, dialog: action.dialog };
    case 'filter-close': {
      if (state.dialog?.kind !== 'filter') return state;
      const { view, text, before } = state.dialog;
      return { ...withFilter(state, view, action.keep ? text : before), dialog: null };
    }
    case 'flash':
      return {
        ...state,
        flash: { id: state.flashSeq + 1, level: action.level, text: action.text },
        flashSeq: state.flashSeq + 1,
      };
    case 'flash-clear':
      return state.flash?.id === action.id ? { ...state, flash: null } : state;
    case 'journal-noise':
      return { ...state, journalNoise: !state.journalNoise };
    case 'follow': {
      const { [action.key]: _c, ...cursors } = state.cursors;
      const { [action.key]: _p, ...picks } = state.picks;
      if (action.on) return { ...state, cursors, picks };
      if (action.at === undefined || action.id === undefined) return state;
      return {
        ...state,
        cursors: { ...cursors, [action.key]: action.at },
        picks: { ...picks, [action.key]: action.id },
      };
    }
    case 'mark':
    case 'mark-clear':
    case 'sort':
    case 'running':
      return reduceSelection(state, action);
    default: {
      if (!state.dialog) return state;
      const dialog = reduceDialog(state.dialog, action);
      if (dialog === state.dialog) return state;
      // The filter applies as it is typed.
      return dialog.kind === 'filter'
        ? { ...withFilter(state, dialog.view, dialog.text), dialog }
        : { ...state, dialog };
    }
  }
}
