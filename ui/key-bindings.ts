/**
 * The console's key bindings, as data (after gemini-cli's keyBindings.ts): every command with its
 * keys, its description, whether it is dangerous or changes state, and why it is disabled right now.
 * The key names are checked when the table is defined (ui/key-names.ts), so a misspelt key fails at
 * once instead of never matching. ui/keymap.ts holds the lookups over it.
 */
import type { Status } from '../state/schemas.js';
import { checkKeyNames } from './key-names.js';

export enum KeyCommand {
  Up = 'up',
  Down = 'down',
  Left = 'left',
  Right = 'right',
  PageUp = 'page-up',
  PageDown = 'page-down',
  Top = 'top',
  Bottom = 'bottom',
  Open = 'open',
  OpenLog = 'open-log',
  Back = 'back',
  NextView = 'next-view',
  PrevView = 'prev-view',
  ViewDashboard = 'view-dashboard',
  ViewBoard = 'view-board',
  ViewAlerts = 'view-alerts',
  ViewJournal = 'view-journal',
  ViewMetrics = 'view-metrics',
  Filter = 'filter',
  SearchNext = 'search-next',
  SearchPrev = 'search-prev',
  Palette = 'palette',
  Help = 'help',
  Quit = 'quit',
  TaskAdd = 'task-add',
  TaskEdit = 'task-edit',
  TaskPromote = 'task-promote',
  TaskApprove = 'task-approve',
  TaskMove = 'task-move',
  TaskRetry = 'task-retry',
  TaskCancel = 'task-cancel',
  TaskPriorityUp = 'task-priority-up',
  TaskPriorityDown = 'task-priority-down',
  AgentPauseResume = 'agent-pause-resume',
  AgentRestart = 'agent-restart',
  AgentResetContext = 'agent-reset-context',
  AgentStopTask = 'agent-stop-task',
  AgentMessage = 'agent-message',
  // Live sessions of pty agents (docs/console.md#live-sessions).
  AgentAttach = 'agent-attach',
  AgentView = 'agent-view',
  AlertAck = 'alert-ack',
  AlertResolve = 'alert-resolve',
  // Review and diff (docs/console.md, "Review and diff").
  ViewReview = 'view-review',
  ReviewDiff = 'review-diff',
  ReviewApprove = 'review-approve',
  ReviewReject = 'review-reject',
  DiffNextFile = 'diff-next-file',
  DiffPrevFile = 'diff-prev-file',
  // Inside dialogs (forms, pickers, confirmations, text prompts, the help overlay).
  DialogNext = 'dialog-next',
  DialogPrev = 'dialog-prev',
  DialogCycle = 'dialog-cycle',
  DialogCycleBack = 'dialog-cycle-back',
  DialogSubmit = 'dialog-submit',
  DialogClose = 'dialog-close',
  DialogConfirm = 'dialog-confirm',
  TextDelete = 'text-delete',
  TextClear = 'text-clear',
  // The journal's calm view; long text in an editor.
  JournalNoise = 'journal-noise',
  JournalFollow = 'journal-follow',
  TextEditor = 'text-editor',
  EditorNewline = 'editor-newline',
  EditorSave = 'editor-save',
  OpenText = 'open-text',
  // Marking tasks for bulk actions, sorting, jumping, and typed commands in the palette.
  TaskMark = 'task-mark',
  MarkMatching = 'mark-matching',
  MarkClear = 'mark-clear',
  SortNext = 'sort',
  JumpAgent = 'jump-agent',
  MatchNext = 'match-next',
  MatchPrev = 'match-prev',
  PaletteComplete = 'palette-complete',
}

export const TOP_VIEWS = ['dashboard', 'board', 'alerts', 'journal', 'metrics', 'review'] as const;
export type TopView = (typeof TOP_VIEWS)[number];
export type ViewId = TopView | 'agent' | 'task' | 'log' | 'diff';
export const VIEW_TITLES: Record<ViewId, string> = {
  dashboard: 'Dashboard',
  board: 'Board',
  alerts: 'Attention',
  journal: 'Journal',
  metrics: 'Metrics',
  review: 'Review',
  agent: 'Agent',
  task: 'Task',
  log: 'Log',
  diff: 'Diff',
};

/** Dialogs capture every key: their bindings are looked up first and alone. */
export type DialogKind =
  | 'help'
  | 'palette'
  | 'confirm'
  | 'form'
  | 'filter'
  | 'picker'
  | 'message'
  | 'editor'
  | 'note';
export type Scope = 'global' | ViewId | DialogKind;

export type Group = 'navigation' | 'views' | 'general' | 'tasks' | 'review' | 'agents' | 'alerts' | 'dialogs';
export const GROUP_TITLES: Record<Group, string> = {
  navigation: 'Move around',
  views: 'Views',
  general: 'General',
  tasks: 'Tasks',
  review: 'Review and diff',
  agents: 'Agents',
  alerts: 'Alerts',
  dialogs: 'In dialogs and forms',
};

/** What a binding may look at to decide whether it is enabled right now. */
export interface KeyContext {
  view: ViewId;
  readOnly: boolean;
  /** `awaitsApproval`: a task from outside that nobody has approved yet. */
  task: { id: string; status: Status; priority: string; awaitsApproval?: boolean } | null;
  agent: {
    id: string;
    name: string;
    paused: boolean;
    task: string | null;
    /** A `pty` agent running a task: it has a live session to look at and attach to. */
    session?: boolean;
  } | null;
  /** The cursor is on something that `enter` can open. */
  canOpen: boolean;
  /** Open alerts of the attention row under the cursor. */
  alerts: readonly string[];
  /** The task whose log `L` opens (task view: the task; agent view: its current or last task). */
  logTask: string | null;
  /** Tasks marked for a bulk action: task commands act on them instead of the one under the cursor. */
  marked?: number;
  /** The code task under the cursor (review, diff and task views): what `d`, `A` and `X` act on. */
  review?: { id: string; stage: string; status: Status } | null;
}

/** What a typed argument is, for completion from live data (ui/commands.ts). */
export type ArgKind = 'query' | 'agent' | 'stage' | 'priority' | 'sort' | 'title';

/** How a command is typed in the `:` palette: `retry failed`, `pause agent-3`. */
export interface Typed {
  /** The names it is typed as (`pause`, `resume`). */
  names: readonly string[];
  /** Shown in the palette and the help: `retry [QUERY]`. */
  usage: string;
  args: readonly ArgKind[];
}

export interface Binding {
  command: KeyCommand;
  /** Also a typed command of the palette. */
  typed?: Typed;
  keys: readonly string[];
  /** A word or two for the help bar. */
  label: string;
  description: string;
  group: Group;
  scopes: readonly Scope[];
  /** Asks for confirmation (Cancel is the default). */
  dangerous?: boolean;
  /** Changes the workspace: hidden in a read-only console. */
  mutates?: boolean;
  /** Shown in the help bar when enabled. */
  bar?: boolean;
  /** null when enabled, else why not (shown when pressed, in the palette and the help overlay). */
  enabledWhen?: (ctx: KeyContext) => string | null;
}

const LISTS: Scope[] = [
  'dashboard',
  'board',
  'alerts',
  'journal',
  'metrics',
  'agent',
  'task',
  'log',
  'review',
  'diff',
];
const TASK_VIEWS: Scope[] = ['board', 'task'];
const AGENT_VIEWS: Scope[] = ['dashboard', 'agent'];
const FINISHED: readonly Status[] = ['done', 'failed', 'cancelled'];

const needTask =
  (check: (task: NonNullable<KeyContext['task']>) => string | null = () => null) =>
  (ctx: KeyContext) =>
    ctx.task ? check(ctx.task) : 'select a task first';
const open = needTask((t) => (FINISHED.includes(t.status) ? `${t.id} is ${t.status}` : null));
/** Task commands that also act on the marked tasks, all at once (ui/bulk.ts). */
const taskOrMarked =
  (check: (ctx: KeyContext) => string | null) =>
  (ctx: KeyContext): string | null =>
    ctx.marked ? null : check(ctx);
/** Review commands act on the code task under the cursor (review, diff and task views). */
const needReview =
  (check: (r: NonNullable<KeyContext['review']>) => string | null = () => null) =>
  (ctx: KeyContext) =>
    ctx.review
      ? check(ctx.review)
      : ctx.view === 'task'
        ? 'this task does not work on code'
        : 'select a task first';
const inReview = (r: NonNullable<KeyContext['review']>) =>
  r.status !== 'review' ? `${r.id} is ${r.status}, not in review` : null;
const needAgent =
  (check: (agent: NonNullable<KeyContext['agent']>) => string | null = () => null) =>
  (ctx: KeyContext) =>
    ctx.agent ? check(ctx.agent) : 'select an agent first';

export const BINDINGS: readonly Binding[] = checkKeyNames([
  // navigation
  {
    command: KeyCommand.Up,
    keys: ['k', 'up'],
    label: 'up',
    description: 'move up',
    group: 'navigation',
    scopes: LISTS,
  },
  {
    command: KeyCommand.Down,
    keys: ['j', 'down'],
    label: 'move',
    description: 'move down',
    group: 'navigation',
    scopes: LISTS,
    bar: true,
  },
  {
    command: KeyCommand.Left,
    keys: ['h', 'left'],
    label: 'column',
    description: 'previous column (board)',
    group: 'navigation',
    scopes: ['board'],
    bar: true,
  },
  {
    command: KeyCommand.Right,
    keys: ['l', 'right'],
    label: 'column',
    description: 'next column (board)',
    group: 'navigation',
    scopes: ['board'],
  },
  {
    command: KeyCommand.PageUp,
    keys: ['pageup', 'ctrl-b'],
    label: 'page up',
    description: 'one page up',
    group: 'navigation',
    scopes: LISTS,
  },
  {
    command: KeyCommand.PageDown,
    keys: ['pagedown', 'ctrl-f'],
    label: 'page down',
    description: 'one page down',
    group: 'navigation',
    scopes: LISTS,
  },
  {
    command: KeyCommand.Top,
    keys: ['g', 'home'],
    label: 'top',
    description: 'go to the first row',
    group: 'navigation',
    scopes: LISTS,
  },
  {
    command: KeyCommand.Bottom,
    keys: ['G', 'end'],
    label: 'bottom',
    description: 'go to the last row',
    group: 'navigation',
    scopes: LISTS,
  },
  {
    command: KeyCommand.Open,
    keys: ['enter'],
    label: 'open',
    description: 'open the selected agent, task or alert subject',
    group: 'navigation',
    scopes: ['dashboard', 'board', 'alerts', 'journal'],
    bar: true,
    enabledWhen: (ctx) => (ctx.canOpen ? null : 'nothing to open here'),
  },
  {
    command: KeyCommand.OpenLog,
    keys: ['L'],
    label: 'log',
    description: "read the task's whole log: scroll, search with /",
    group: 'navigation',
    scopes: ['task', 'agent'],
    bar: true,
    enabledWhen: (ctx) => (ctx.logTask ? null : 'no task here has a log'),
  },
  {
    command: KeyCommand.Back,
    keys: ['esc'],
    label: 'back',
    description: 'go back (or clear the filter)',
    group: 'navigation',
    scopes: ['global'],
    bar: true,
  },
  // views
  {
    command: KeyCommand.NextView,
    keys: ['tab'],
    label: 'view',
    description: 'next view',
    group: 'views',
    scopes: ['global'],
    bar: true,
  },
  {
    command: KeyCommand.PrevView,
    keys: ['shift-tab'],
    label: 'prev view',
    description: 'previous view',
    group: 'views',
    scopes: ['global'],
  },
  {
    command: KeyCommand.ViewDashboard,
    keys: ['1'],
    label: 'dashboard',
    description: 'dashboard: agents, board summary, alerts',
    group: 'views',
    scopes: ['global'],
  },
  {
    command: KeyCommand.ViewBoard,
    keys: ['2'],
    label: 'board',
    description: 'board: a column per stage',
    group: 'views',
    scopes: ['global'],
  },
  {
    command: KeyCommand.ViewAlerts,
    keys: ['3'],
    label: 'attention',
    description: 'attention: alerts, failures, stalls, blocked tasks',
    group: 'views',
    scopes: ['global'],
  },
  {
    command: KeyCommand.ViewJournal,
    keys: ['4'],
    label: 'journal',
    description: 'journal: every state change',
    group: 'views',
    scopes: ['global'],
  },
  {
    command: KeyCommand.ViewMetrics,
    keys: ['5'],
    label: 'metrics',
    description: 'metrics: throughput, success, utilisation',
    group: 'views',
    scopes: ['global'],
  },
  // general
  {
    command: KeyCommand.Filter,
    keys: ['/'],
    label: 'filter',
    description: 'filter the list',
    group: 'general',
    scopes: ['board', 'alerts', 'journal'],
    typed: { names: ['filter'], usage: 'filter QUERY', args: ['query'] },
    bar: true,
  },
  {
    command: KeyCommand.Filter,
    keys: ['/'],
    label: 'search',
    description: 'search the log (enter jumps to the first match)',
    group: 'general',
    scopes: ['log'],
    bar: true,
  },
  {
    command: KeyCommand.SearchNext,
    keys: ['n'],
    label: 'next',
    description: 'next match of the search',
    group: 'general',
    scopes: ['log'],
    bar: true,
  },
  {
    command: KeyCommand.SearchPrev,
    keys: ['N'],
    label: 'previous',
    description: 'previous match of the search',
    group: 'general',
    scopes: ['log'],
  },
  {
    command: KeyCommand.Palette,
    keys: [':'],
    label: 'commands',
    description: 'command palette',
    group: 'general',
    scopes: ['global'],
    bar: true,
  },
  {
    command: KeyCommand.Help,
    keys: ['?'],
    label: 'help',
    description: 'all keys',
    group: 'general',
    scopes: ['global'],
    bar: true,
  },
  {
    command: KeyCommand.Quit,
    keys: ['q', 'ctrl-c'],
    label: 'quit',
    description: 'quit (stops the agents this console runs)',
    group: 'general',
    scopes: ['global'],
    bar: true,
  },
  // tasks
  {
    command: KeyCommand.TaskAdd,
    keys: ['a'],
    label: 'add',
    description: 'add a task',
    group: 'tasks',
    scopes: ['global'],
    typed: {
      names: ['add'],
      usage: 'add "TITLE" [--role ROLE] [--priority LEVEL] [--tag TAG] [--run CMD] [--prompt TEXT]',
      args: ['title'],
    },
    mutates: true,
    bar: true,
  },
  {
    command: KeyCommand.TaskEdit,
    keys: ['e'],
    label: 'edit',
    description: 'edit the task',
    group: 'tasks',
    scopes: TASK_VIEWS,
    mutates: true,
    enabledWhen: open,
  },
  {
    command: KeyCommand.TaskPromote,
    keys: ['p'],
    label: 'promote',
    description: 'promote the task from backlog to ready',
    group: 'tasks',
    scopes: TASK_VIEWS,
    mutates: true,
    bar: true,
    typed: { names: ['promote'], usage: 'promote [QUERY]', args: ['query'] },
    enabledWhen: taskOrMarked(
      needTask((t) =>
        t.status === 'backlog' ? null : `only a backlog task can be promoted (${t.id} is ${t.status})`,
      ),
    ),
  },
  {
    command: KeyCommand.TaskApprove,
    keys: ['v'],
    label: 'approve',
    description: 'approve a task from outside (webhook, discord, scout, api): it may run',
    group: 'tasks',
    scopes: TASK_VIEWS,
    mutates: true,
    bar: true,
    enabledWhen: needTask((t) => (t.awaitsApproval ? null : `${t.id} does not wait for approval`)),
  },
  {
    command: KeyCommand.TaskMove,
    keys: ['m'],
    label: 'move',
    description: 'move the task to another stage',
    group: 'tasks',
    scopes: TASK_VIEWS,
    mutates: true,
    bar: true,
    typed: { names: ['move'], usage: 'move STAGE [QUERY]', args: ['stage', 'query'] },
    enabledWhen: taskOrMarked(
      needTask((t) => (t.status === 'done' ? `${t.id} is done; done is final` : null)),
    ),
  },
  {
    command: KeyCommand.TaskRetry,
    keys: ['r'],
    label: 'retry',
    description: 'retry a failed or cancelled task',
    group: 'tasks',
    scopes: TASK_VIEWS,
    mutates: true,
    bar: true,
    typed: { names: ['retry'], usage: 'retry [QUERY]', args: ['query'] },
    enabledWhen: taskOrMarked(
      needTask((t) =>
        t.status === 'failed' || t.status === 'cancelled' || t.status === 'ready'
          ? null
          : `${t.id} is ${t.status}; only failed or cancelled tasks are retried`,
      ),
    ),
  },
  {
    command: KeyCommand.TaskCancel,
    keys: ['x'],
    label: 'cancel',
    description: 'cancel the task (stops its process)',
    group: 'tasks',
    scopes: TASK_VIEWS,
    mutates: true,
    dangerous: true,
    bar: true,
    typed: { names: ['cancel'], usage: 'cancel [QUERY]', args: ['query'] },
    enabledWhen: taskOrMarked(open),
  },
  {
    command: KeyCommand.TaskPriorityUp,
    keys: ['+', '='],
    label: 'priority',
    description: 'raise the priority',
    group: 'tasks',
    scopes: TASK_VIEWS,
    mutates: true,
    bar: true,
    typed: { names: ['priority'], usage: 'priority LEVEL|up|down [QUERY]', args: ['priority', 'query'] },
    enabledWhen: taskOrMarked(
      (ctx) => open(ctx) ?? (ctx.task?.priority === 'critical' ? 'already critical' : null),
    ),
  },
  {
    command: KeyCommand.TaskPriorityDown,
    keys: ['-'],
    label: 'priority down',
    description: 'lower the priority',
    group: 'tasks',
    scopes: TASK_VIEWS,
    mutates: true,
    enabledWhen: taskOrMarked((ctx) => open(ctx) ?? (ctx.task?.priority === 'low' ? 'already low' : null)),
  },
  // agents
  {
    command: KeyCommand.AgentPauseResume,
    keys: ['P'],
    label: 'pause/resume',
    description: 'pause or resume the agent',
    group: 'agents',
    scopes: AGENT_VIEWS,
    mutates: true,
    bar: true,
    typed: { names: ['pause', 'resume'], usage: 'pause|resume [AGENT]', args: ['agent'] },
    enabledWhen: needAgent(),
  },
  {
    command: KeyCommand.AgentRestart,
    keys: ['R'],
    label: 'restart',
    description: 'restart the agent (stops its current process)',
    group: 'agents',
    scopes: AGENT_VIEWS,
    mutates: true,
    dangerous: true,
    bar: true,
    typed: { names: ['restart'], usage: 'restart [AGENT]', args: ['agent'] },
    enabledWhen: needAgent(),
  },
  {
    command: KeyCommand.AgentResetContext,
    keys: ['X'],
    label: 'reset ctx',
    description: "reset the agent's context (it forgets its session)",
    group: 'agents',
    scopes: AGENT_VIEWS,
    mutates: true,
    dangerous: true,
    enabledWhen: needAgent(),
  },
  {
    command: KeyCommand.AgentStopTask,
    keys: ['C'],
    label: 'stop task',
    description: "stop the agent's current task",
    group: 'agents',
    scopes: AGENT_VIEWS,
    mutates: true,
    dangerous: true,
    enabledWhen: needAgent((a) => (a.task ? null : `${a.name} has no task running`)),
  },
  {
    command: KeyCommand.AgentMessage,
    keys: ['M'],
    label: 'message',
    description: 'send the agent a message',
    group: 'agents',
    scopes: AGENT_VIEWS,
    mutates: true,
    bar: true,
    enabledWhen: needAgent(),
  },
  // live sessions
  {
    command: KeyCommand.AgentAttach,
    keys: ['t'],
    label: 'attach',
    description: 'attach to its live terminal',
    group: 'agents',
    scopes: AGENT_VIEWS,
    bar: true,
    enabledWhen: (ctx) =>
      needAgent((a) => (a.session ? null : `${a.name}: no live terminal (a running pty agent has one)`))(
        ctx,
      ) ?? (ctx.readOnly ? 'read-only: this console can look, never type' : null),
  },
  {
    command: KeyCommand.AgentView,
    keys: ['o'],
    label: 'agent view',
    description: 'open the agent view (enter attaches to a pty agent)',
    group: 'agents',
    scopes: ['dashboard'],
    enabledWhen: needAgent(),
  },
  // alerts
  {
    command: KeyCommand.AlertAck,
    keys: ['A'],
    label: 'acknowledge',
    description: 'acknowledge the alerts of the row (seen, being handled)',
    group: 'alerts',
    scopes: ['alerts'],
    mutates: true,
    bar: true,
    enabledWhen: (ctx) => (ctx.alerts.length ? null : 'no open alert on this row'),
  },
  {
    command: KeyCommand.AlertResolve,
    keys: ['D'],
    label: 'resolve',
    description: 'resolve the alerts of the row (done; raised again if it happens anew)',
    group: 'alerts',
    scopes: ['alerts'],
    mutates: true,
    bar: true,
    enabledWhen: (ctx) => (ctx.alerts.length ? null : 'no open alert on this row'),
  },
  // review and diff
  {
    command: KeyCommand.ViewReview,
    keys: ['6'],
    label: 'review',
    description: 'review: code tasks waiting for review and in the merge queue',
    group: 'views',
    scopes: ['global'],
  },
  {
    command: KeyCommand.ReviewDiff,
    keys: ['d', 'enter'],
    label: 'diff',
    description: "show the task's diff: changed files, then the unified diff",
    group: 'review',
    scopes: ['review'],
    bar: true,
    enabledWhen: needReview(),
  },
  {
    command: KeyCommand.ReviewDiff,
    keys: ['d'],
    label: 'diff',
    description: "show the task's diff: changed files, then the unified diff",
    group: 'review',
    scopes: ['task'],
    bar: true,
    enabledWhen: needReview(),
  },
  {
    command: KeyCommand.ReviewApprove,
    keys: ['A'],
    label: 'approve',
    description: 'approve the code task: it joins the merge queue',
    group: 'review',
    scopes: ['review', 'diff', 'task'],
    mutates: true,
    bar: true,
    enabledWhen: needReview(
      (r) => inReview(r) ?? (r.stage === 'waiting' ? null : `${r.id} is ${r.stage}, not waiting for review`),
    ),
  },
  {
    command: KeyCommand.ReviewReject,
    keys: ['X'],
    label: 'reject',
    description: 'reject the code task with a note: back to ready on its branch',
    group: 'review',
    scopes: ['review', 'diff', 'task'],
    mutates: true,
    bar: true,
    enabledWhen: needReview((r) => inReview(r) ?? (r.stage === 'merging' ? `${r.id} is being merged` : null)),
  },
  {
    command: KeyCommand.DiffNextFile,
    keys: [']'],
    label: 'file',
    description: 'next file of the diff',
    group: 'review',
    scopes: ['diff'],
    bar: true,
  },
  {
    command: KeyCommand.DiffPrevFile,
    keys: ['['],
    label: 'prev file',
    description: 'previous file of the diff',
    group: 'review',
    scopes: ['diff'],
  },
  // dialogs
  {
    command: KeyCommand.DialogNext,
    keys: ['tab', 'down'],
    label: 'next',
    description: 'next field or choice',
    group: 'dialogs',
    scopes: ['form', 'picker', 'confirm'],
  },
  {
    command: KeyCommand.DialogPrev,
    keys: ['shift-tab', 'up'],
    label: 'previous',
    description: 'previous field or choice',
    group: 'dialogs',
    scopes: ['form', 'palette', 'picker', 'confirm'],
  },
  {
    command: KeyCommand.DialogCycle,
    keys: ['right'],
    label: 'change',
    description: 'next choice (priority, role) or button',
    group: 'dialogs',
    scopes: ['form', 'confirm'],
  },
  {
    command: KeyCommand.DialogCycleBack,
    keys: ['left'],
    label: 'change',
    description: 'previous choice (priority, role) or button',
    group: 'dialogs',
    scopes: ['form', 'confirm'],
  },
  {
    command: KeyCommand.DialogSubmit,
    keys: ['enter'],
    label: 'ok',
    description: 'submit, run or choose',
    group: 'dialogs',
    scopes: ['form', 'palette', 'picker', 'confirm', 'filter', 'message', 'note'],
  },
  {
    command: KeyCommand.DialogConfirm,
    keys: ['y'],
    label: 'yes',
    description: 'confirm a dangerous action',
    group: 'dialogs',
    scopes: ['confirm'],
  },
  {
    command: KeyCommand.DialogClose,
    keys: ['esc'],
    label: 'close',
    description: 'close without doing anything',
    group: 'dialogs',
    scopes: ['form', 'palette', 'picker', 'filter', 'message', 'note'],
  },
  {
    command: KeyCommand.DialogClose,
    keys: ['esc', 'n'],
    label: 'cancel',
    description: 'cancel (the default)',
    group: 'dialogs',
    scopes: ['confirm'],
  },
  {
    command: KeyCommand.DialogClose,
    keys: ['esc', '?', 'q'],
    label: 'close',
    description: 'close the help',
    group: 'dialogs',
    scopes: ['help'],
  },
  {
    command: KeyCommand.DialogNext,
    keys: ['j', 'down'],
    label: 'scroll',
    description: 'scroll the help',
    group: 'dialogs',
    scopes: ['help'],
  },
  {
    command: KeyCommand.DialogPrev,
    keys: ['k', 'up'],
    label: 'scroll',
    description: 'scroll the help',
    group: 'dialogs',
    scopes: ['help'],
  },
  {
    command: KeyCommand.TextDelete,
    keys: ['backspace'],
    label: 'delete',
    description: 'delete the last character',
    group: 'dialogs',
    scopes: ['form', 'palette', 'filter', 'message', 'note'],
  },
  {
    command: KeyCommand.TextClear,
    keys: ['ctrl-u'],
    label: 'clear',
    description: 'clear the field',
    group: 'dialogs',
    scopes: ['form', 'palette', 'filter', 'message', 'note'],
  },
  // the journal's calm view; long text in an editor
  {
    command: KeyCommand.JournalNoise,
    keys: ['.'],
    label: 'heartbeats',
    description: 'show or hide heartbeats and lease renewals',
    group: 'general',
    scopes: ['journal'],
    bar: true,
  },
  {
    command: KeyCommand.JournalFollow,
    keys: ['f'],
    label: 'follow',
    description: 'follow new changes, or stay where the cursor is',
    group: 'general',
    scopes: ['journal'],
    bar: true,
  },
  {
    command: KeyCommand.OpenText,
    keys: ['V'],
    label: 'text',
    description: "read the task's prompt, summary, error and notes in full: scroll, search with /",
    group: 'navigation',
    scopes: ['task', 'agent'],
    bar: true,
    enabledWhen: (ctx) => (ctx.logTask ? null : 'no task here'),
  },
  {
    command: KeyCommand.TextEditor,
    keys: ['ctrl-e'],
    label: 'editor',
    description:
      'write the prompt, the message or a note (why) in $VISUAL or $EDITOR, else a multi-line editor',
    group: 'dialogs',
    scopes: ['form', 'message', 'confirm'],
  },
  {
    command: KeyCommand.EditorSave,
    keys: ['ctrl-s', 'ctrl-d'],
    label: 'save',
    description: 'keep the text written',
    group: 'dialogs',
    scopes: ['editor'],
  },
  {
    command: KeyCommand.EditorNewline,
    keys: ['enter'],
    label: 'new line',
    description: 'start a new line',
    group: 'dialogs',
    scopes: ['editor'],
  },
  {
    command: KeyCommand.DialogClose,
    keys: ['esc'],
    label: 'cancel',
    description: 'leave the editor without a change',
    group: 'dialogs',
    scopes: ['editor'],
  },
  {
    command: KeyCommand.TextDelete,
    keys: ['backspace'],
    label: 'delete',
    description: 'delete the last character',
    group: 'dialogs',
    scopes: ['editor'],
  },
  {
    command: KeyCommand.TextClear,
    keys: ['ctrl-u'],
    label: 'clear',
    description: 'clear all the text',
    group: 'dialogs',
    scopes: ['editor'],
  },
  // marking tasks, sorting, jumping, and completing typed commands
  {
    command: KeyCommand.TaskMark,
    keys: ['space'],
    label: 'mark',
    description: 'mark or unmark the task: task commands then act on every marked task at once',
    group: 'tasks',
    scopes: TASK_VIEWS,
    typed: { names: ['mark'], usage: 'mark [QUERY]', args: ['query'] },
    bar: true,
    enabledWhen: needTask(),
  },
  {
    command: KeyCommand.MarkMatching,
    keys: ['*'],
    label: 'mark all',
    description: 'mark every task the filter shows (all of them without a filter)',
    group: 'tasks',
    scopes: ['board'],
  },
  {
    command: KeyCommand.MarkClear,
    keys: ['u'],
    label: 'unmark',
    description: 'unmark every task',
    group: 'tasks',
    scopes: TASK_VIEWS,
    typed: { names: ['unmark'], usage: 'unmark', args: [] },
    enabledWhen: (ctx) => (ctx.marked ? null : 'no task is marked'),
  },
  {
    command: KeyCommand.SortNext,
    keys: ['s'],
    label: 'sort',
    description: 'sort the board: priority, age, attempts, agent',
    group: 'general',
    scopes: ['board'],
    typed: { names: ['sort'], usage: 'sort priority|age|attempts|agent', args: ['sort'] },
  },
  {
    command: KeyCommand.JumpAgent,
    keys: ['@'],
    label: 'agent N',
    description: 'go to an agent by its number or id (type it, then enter)',
    group: 'navigation',
    scopes: ['global'],
    typed: { names: ['agent'], usage: 'agent N|ID', args: ['agent'] },
  },
  {
    command: KeyCommand.MatchNext,
    keys: ['n'],
    label: 'next match',
    description: 'next task the filter shows, on to the next stage',
    group: 'navigation',
    scopes: ['board'],
  },
  {
    command: KeyCommand.MatchPrev,
    keys: ['N'],
    label: 'previous match',
    description: 'previous task the filter shows, back to the previous stage',
    group: 'navigation',
    scopes: ['board'],
  },
  {
    command: KeyCommand.PaletteComplete,
    keys: ['tab'],
    label: 'complete',
    description: 'complete the word being typed (else the next command)',
    group: 'dialogs',
    scopes: ['palette'],
  },
  {
    command: KeyCommand.DialogNext,
    keys: ['down'],
    label: 'next',
    description: 'next command or completion',
    group: 'dialogs',
    scopes: ['palette'],
  },
]);
