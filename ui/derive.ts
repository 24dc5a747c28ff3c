/**
 * What the views list, derived from the console view and the filters (memoised: a keypress that only
 * moves a cursor filters nothing again), and what the cursor is on. Key handlers and views read the
 * same derivation, so a command always acts on the row the operator sees.
 */
import { STATUSES, type Status, type Task } from '../state/schemas.js';
import { type AttentionItem, attentionMatches } from './data/attention.js';
import { type AgentRow, type ConsoleView, filterColumns } from './data/console-view.js';
import { isNoise, type JournalRow, journalRows } from './data/journal.js';
import { hasSession } from './data/sessions.js';
import type { KeyContext } from './keymap.js';
import { cursorOf, listKey, type UiState } from './model.js';
import { type BoardSort, sortTasks } from './selection.js';

const sortColumns = (columns: Record<Status, Task[]>, sort: BoardSort) =>
  sort === 'priority'
    ? columns
    : (Object.fromEntries(STATUSES.map((s) => [s, sortTasks(columns[s], sort)])) as Record<Status, Task[]>);

import { type DiffPage, diffSelection, NO_DIFF, reviewContext, reviewSelection } from './review-select.js';

export interface Lists {
  consoleView: ConsoleView;
  columns: Record<Status, Task[]>;
  attention: AttentionItem[];
  journal: readonly JournalRow[];
  /** Heartbeats and renewals left out of `journal` (shown with `.`). */
  journalHidden: number;
  task(id: string): Task | undefined;
}

export function makeDeriver(): (
  consoleView: ConsoleView,
  state: UiState,
  journal: readonly JournalRow[],
) => Lists {
  let last: {
    consoleView: ConsoleView;
    board: string;
    sort: BoardSort;
    alerts: string;
    journalIn: readonly JournalRow[];
    j: string;
    noise: boolean;
  } | null = null;
  let lists: Lists | null = null;
  let byId: Map<string, Task> | null = null;
  return (consoleView, state, journal) => {
    const board = state.filters.board ?? '';
    const sort = state.sort;
    const alerts = state.filters.alerts ?? '';
    const j = state.filters.journal ?? '';
    const noise = state.journalNoise;
    if (
      lists &&
      last &&
      last.consoleView === consoleView &&
      last.board === board &&
      last.sort === sort &&
      last.alerts === alerts &&
      last.journalIn === journal &&
      last.j === j &&
      last.noise === noise
    )
      return lists;
    if (!last || last.consoleView !== consoleView) byId = null;
    const columns =
      last?.consoleView === consoleView && last.board === board && last.sort === sort && lists
        ? lists.columns
        : sortColumns(filterColumns(consoleView.columns, board), sort);
    const journalChanged = !last || last.journalIn !== journal || last.j !== j || last.noise !== noise;
    const journalShown = journalChanged || !lists ? journalRows(journal, j, noise) : lists.journal;
    const journalHidden =
      journalChanged || !lists ? (noise ? 0 : journal.filter(isNoise).length) : lists.journalHidden;
    last = { consoleView, board, sort, alerts, journalIn: journal, j, noise };
    lists = {
      consoleView,
      columns,
      attention: alerts
        ? consoleView.attention.filter((i) => attentionMatches(i, alerts))
        : consoleView.attention,
      journal: journalShown,
      journalHidden,
      task(id) {
        if (!byId) {
          byId = new Map();
          for (const column of Object.values(consoleView.columns)) for (const t of column) byId.set(t.id, t);
        }
        return byId.get(id);
      },
    };
    return lists;
  };
}

export interface Selection {
  /** Rows in the list the cursor moves in. */
  size: number;
  cursor: number;
  /** The id of a row of that list (what the cursor follows), when its rows have ids. */
  idAt?: (index: number) => string | undefined;
  /** The row the operator put the cursor on has left the list: the cursor is on a neighbour. */
  lost: string | null;
  task: Task | null;
  agent: AgentRow | null;
  /** What `enter` opens. */
  open: { kind: 'task' | 'agent'; id: string } | null;
  /** Open alerts of the row (the attention view). */
  alerts: readonly string[];
  /** The pager's lines (the log view; `cursor` is its first visible line). */
  log?: PagerLines;
  /** The diff view's lines (`cursor` is its first visible line). */
  diff?: DiffPage;
}

export interface PagerLines {
  lines: readonly string[];
  /** Lines shown at once. */
  rows: number;
}

const NO_LOG: PagerLines = { lines: [], rows: 1 };

export interface Followed {
  cursor: number;
  lost: string | null;
}

/**
 * Where a list's cursor is: on the row picked (found by id wherever it has moved), else at the
 * stored position; when the picked row has left the list, at the stored position, saying so.
 */
export function follow<T>(
  state: UiState,
  key: string,
  rows: readonly T[],
  idOf: (row: T) => string,
): Followed {
  const stored = cursorOf(state, key, rows.length);
  const picked = state.picks[key];
  if (picked === undefined) return { cursor: stored, lost: null };
  const here = rows[stored];
  if (here !== undefined && idOf(here) === picked) return { cursor: stored, lost: null };
  const at = rows.findIndex((row) => idOf(row) === picked);
  if (at >= 0) return { cursor: at, lost: null };
  return { cursor: stored, lost: state.released[key] === picked ? null : picked };
}

const taskId = (t: Task) => t.id;
const itemKey = (i: AttentionItem) => i.key;

/** The cursor of every board column. */
export function boardCursors(state: UiState, lists: Lists): Record<Status, Followed> {
  return Object.fromEntries(
    STATUSES.map((s) => [s, follow(state, `board:${s}`, lists.columns[s], taskId)]),
  ) as Record<Status, Followed>;
}

/**
 * Rows under a cursor that nobody picked yet, by list: App records them once shown, so that from
 * then on the cursor stays on the task the operator saw, whatever other processes add above it.
 */
export function unpicked(state: UiState, lists: Lists): Record<string, string> {
  const out: Record<string, string> = {};
  const note = <T>(key: string, rows: readonly T[], idOf: (row: T) => string) => {
    const { cursor, lost } = follow(state, key, rows, idOf);
    const row = rows[cursor];
    if (row === undefined || lost !== null) return;
    const id = idOf(row);
    const picked = state.picks[key];
    if (picked === undefined || (state.released[key] === picked && picked !== id)) out[key] = id;
  };
  if (state.view === 'board') for (const s of STATUSES) note(`board:${s}`, lists.columns[s], taskId);
  if (state.view === 'alerts') note('alerts', lists.attention, itemKey);
  return out;
}

/**
 * Lists whose picked row was found at another row than the stored cursor, and where: App stores
 * that row, so that when the row later leaves the list the cursor stays at its last known place.
 */
export function moved(state: UiState, lists: Lists): Record<string, number> {
  const out: Record<string, number> = {};
  const note = <T>(key: string, rows: readonly T[], idOf: (row: T) => string) => {
    const { cursor, lost } = follow(state, key, rows, idOf);
    if (lost === null && state.picks[key] !== undefined && cursor !== cursorOf(state, key, rows.length))
      out[key] = cursor;
  };
  if (state.view === 'board') for (const s of STATUSES) note(`board:${s}`, lists.columns[s], taskId);
  if (state.view === 'alerts') note('alerts', lists.attention, itemKey);
  return out;
}

export function selectionFor(
  state: UiState,
  lists: Lists,
  log: PagerLines = NO_LOG,
  diff: DiffPage = NO_DIFF,
): Selection {
  const { consoleView } = lists;
  const key = listKey(state);
  const pick = (size: number) => ({ size, cursor: cursorOf(state, key, size), lost: null });
  switch (state.view) {
    case 'dashboard': {
      const { size, cursor } = pick(consoleView.agents.length);
      const agent = consoleView.agents[cursor] ?? null;
      return {
        size,
        cursor,
        lost: null,
        agent,
        task: agent?.task ?? null,
        open: agent ? { kind: 'agent', id: agent.id } : null,
        alerts: [],
      };
    }
    case 'board': {
      const column = lists.columns[key.slice('board:'.length) as Status] ?? [];
      const { cursor, lost } = follow(state, key, column, taskId);
      const task = column[cursor] ?? null;
      return {
        size: column.length,
        cursor,
        idAt: (i) => column[i]?.id,
        lost,
        task,
        agent: null,
        open: task ? { kind: 'task', id: task.id } : null,
        alerts: [],
      };
    }
    case 'alerts': {
      const rows = lists.attention;
      const { cursor, lost } = follow(state, key, rows, itemKey);
      const item = rows[cursor];
      const task = item?.task ? (lists.task(item.task) ?? null) : null;
      const open = item?.task
        ? { kind: 'task' as const, id: item.task }
        : item?.agent
          ? { kind: 'agent' as const, id: item.agent }
          : null;
      return {
        size: rows.length,
        cursor,
        idAt: (i) => rows[i]?.key,
        lost,
        task,
        agent: null,
        open,
        alerts: item?.alerts ?? [],
      };
    }
    case 'journal': {
      // Following (no stored cursor): on the newest row; paused: on its row, wherever it is now.
      const rows = lists.journal;
      const { cursor } =
        state.cursors.journal === undefined
          ? pick(rows.length)
          : follow(state, key, rows, (r) => String(r.seq));
      const id = rows[cursor]?.tasks[0];
      return {
        size: rows.length,
        cursor,
        idAt: (i) => (rows[i] ? String(rows[i].seq) : undefined),
        lost: null,
        task: null,
        agent: null,
        open: id ? { kind: 'task', id } : null,
        alerts: [],
      };
    }
    case 'task': {
      const task = state.taskId ? (lists.task(state.taskId) ?? null) : null;
      return { ...pick(task?.history.length ?? 0), task, agent: null, open: null, alerts: [] };
    }
    case 'log': {
      // The cursor is the first line shown: it goes no further than the last page.
      const task = state.logTaskId ? (lists.task(state.logTaskId) ?? null) : null;
      const size = Math.max(1, log.lines.length - log.rows + 1);
      return { ...pick(size), task, agent: null, open: null, alerts: [], log };
    }
    case 'agent': {
      const agent = consoleView.agents.find((a) => a.id === state.agentId) ?? null;
      return { ...pick(200), task: agent?.task ?? null, agent, open: null, alerts: [] };
    }
    case 'review':
      return reviewSelection(state, lists);
    case 'diff':
      return diffSelection(state, lists, diff);
    default:
      return { size: 0, cursor: 0, lost: null, task: null, agent: null, open: null, alerts: [] };
  }
}

export function keyContext(state: UiState, selection: Selection, readOnly: boolean): KeyContext {
  const { task, agent } = selection;
  return {
    view: state.view,
    readOnly,
    task:
      task && (state.view === 'board' || state.view === 'task')
        ? {
            id: task.id,
            status: task.status,
            priority: task.priority,
            awaitsApproval: task.approval?.status === 'pending',
          }
        : null,
    agent: agent
      ? {
          id: agent.id,
          name: agent.name,
          paused: agent.paused,
          task: agent.task?.id ?? null,
          session: hasSession(agent),
        }
      : null,
    canOpen: selection.open !== null,
    marked: state.marked.size,
    alerts: selection.alerts,
    logTask:
      state.view === 'task'
        ? state.taskId
        : state.view === 'agent'
          ? (agent?.task?.id ?? agent?.lastTask?.id ?? null)
          : null,
    review: reviewContext(state, selection),
  };
}
