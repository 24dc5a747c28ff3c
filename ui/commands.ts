/**
 * Typed commands of the `:` palette: `retry failed`, `cancel tag:flaky`, `pause agent-3`,
 * `add "Fix the login bug" --role testing`, `filter status:ready role:ux`, `sort priority`. A
 * command is a binding of the keymap with a `typed` form (ui/key-bindings.ts): there is one
 * table of commands, keys and typed names alike. Task commands go through the bulk path
 * (ui/bulk.ts): one confirmation naming the count, one change.
 */
import { parseArgs } from 'node:util';
import type { TaskInput } from '../src/task-input.js';
import type { BulkAction } from '../src/workspace.js';
import { PRIORITIES, type Priority, STATUSES, type Status, type Task } from '../state/schemas.js';
import { splitArgs } from './argv.js';
import { confirmBulk, MOVE_STAGES, markedIds } from './bulk.js';
import type { AgentRow, ConsoleView } from './data/console-view.js';
import { type Env, perform } from './effects.js';
import { BINDINGS, type Binding, KeyCommand, visible } from './keymap.js';
import { type BoardSort, SORTS } from './selection.js';
import { parseQuery, selectTasks } from './task-query.js';

/** A line whose first word names a typed command and which goes on past it. */
export interface TypedLine {
  binding: Binding;
  name: string;
  args: string[];
  /** The line does not split into words (an unclosed quote). */
  error: string | null;
}

/** The binding typed as `name`, among those this console shows (read-only hides changes). */
export function typedBinding(name: string, readOnly: boolean): Binding | undefined {
  return BINDINGS.find((b) => b.typed?.names.includes(name) && visible(b, readOnly));
}

/** The palette's text as a typed command, once a word and a space have been typed; else null. */
export function typedLine(query: string, readOnly: boolean): TypedLine | null {
  const split = splitArgs(query);
  const [name, ...args] = split.args;
  if (!name || !/\s/.test(query.slice(split.starts[0]! + name.length))) return null;
  const binding = typedBinding(name, readOnly);
  return binding ? { binding, name, args, error: split.error } : null;
}

/** Every task of the board, all stages, as the console shows it. */
function allTasks(view: ConsoleView): Task[] {
  return STATUSES.flatMap((s) => view.columns[s]);
}

/** The agent an argument names: its id, its number on the dashboard (1-based) or its name. */
export function findAgent(agents: readonly AgentRow[], arg: string): AgentRow | undefined {
  if (/^\d+$/.test(arg)) return agents[Number(arg) - 1];
  const lower = arg.toLowerCase();
  return agents.find((a) => a.id === arg || a.name.toLowerCase() === lower);
}

/** What a task command acts on: the tasks a query selects, else the marked ones, else the one under the cursor. */
function tasksFor(env: Env, args: string[]): string[] | string {
  if (args.length) {
    const parsed = parseQuery(args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' '));
    if (!parsed.ok) return parsed.error;
    return selectTasks(allTasks(env.lists.consoleView), parsed.query).map((t) => t.id);
  }
  if (env.state.marked.size) return markedIds(env);
  if (env.selection.task) return [env.selection.task.id];
  return 'give a query (e.g. status:failed), mark tasks with space, or select a task';
}

type Run = (env: Env, line: TypedLine) => string | null;

const bulk =
  (action: (args: string[]) => BulkAction | string, verb: (a: BulkAction) => string, skip = 0): Run =>
  (env, line) => {
    const made = action(line.args);
    if (typeof made === 'string') return made;
    const ids = tasksFor(env, line.args.slice(skip));
    if (typeof ids === 'string') return ids;
    if (ids.length === 0) return 'no task matches';
    confirmBulk(env, ids, made, verb(made));
    return null;
  };

function priorityAction(args: string[]): BulkAction | string {
  const to = args[0];
  if (!to) return 'priority: give a level (critical, high, normal, low) or up or down';
  if (to === 'up' || to === 'down' || (PRIORITIES as readonly string[]).includes(to))
    return { kind: 'priority', to: to as Priority | 'up' | 'down' };
  return `unknown priority "${to}" (one of ${PRIORITIES.join(', ')}, up, down)`;
}

function moveAction(args: string[]): BulkAction | string {
  const to = args[0];
  if (!to) return `move: give a stage (${MOVE_STAGES.join(', ')})`;
  if (to === 'working') return 'a task starts working only when an agent claims it';
  if (to === 'review') return 'a task waits for review only when an attempt on its branch ends well';
  if (!(STATUSES as readonly string[]).includes(to))
    return `unknown stage "${to}" (one of ${STATUSES.join(', ')})`;
  return { kind: 'move', to: to as Status };
}

const agentOf = (env: Env, args: string[]): AgentRow | string => {
  const arg = args[0];
  if (!arg) return env.selection.agent ?? 'name an agent (its id or its number)';
  return findAgent(env.lists.consoleView.agents, arg) ?? `no agent ${arg}`;
};

const ADD_OPTIONS = {
  role: { type: 'string' },
  priority: { type: 'string' },
  tag: { type: 'string', multiple: true },
  run: { type: 'string' },
  prompt: { type: 'string' },
} as const;
export const ADD_FLAGS = Object.keys(ADD_OPTIONS).map((o) => `--${o}`);

function addTask(env: Env, line: TypedLine): string | null {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof ADD_OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: line.args, options: ADD_OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    // Node's message goes on about `--` for positionals: the first sentence is what the operator needs.
    const first = (error as Error).message.split(/\.\s|\n/)[0] ?? 'bad option';
    return `add: ${first.replace(/^Unknown option/, 'unknown option')} (${ADD_FLAGS.join(', ')})`;
  }
  const { values, positionals } = parsed;
  const title = positionals.join(' ').trim();
  if (!title) return 'add: give a title, e.g. add "Fix the login bug" --role testing';
  if (values.priority && !(PRIORITIES as readonly string[]).includes(values.priority))
    return `unknown priority "${values.priority}" (one of ${PRIORITIES.join(', ')})`;
  const input: TaskInput = { title, source: 'console', tags: values.tag ?? [] };
  if (values.role) input.role = values.role;
  if (values.priority) input.priority = values.priority as Priority;
  if (values.run) input.run = values.run;
  if (values.prompt) input.prompt = values.prompt;
  perform(env, async () => {
    const task = await env.ws.addTask(input);
    return `${task.id} added (${task.status})`;
  });
  return null;
}

const RUN: Partial<Record<KeyCommand, Run>> = {
  [KeyCommand.TaskRetry]: bulk(
    () => ({ kind: 'retry' }),
    () => 'retry',
  ),
  [KeyCommand.TaskCancel]: bulk(
    () => ({ kind: 'cancel' }),
    () => 'cancel',
  ),
  [KeyCommand.TaskPromote]: bulk(
    () => ({ kind: 'promote' }),
    () => 'promote',
  ),
  [KeyCommand.TaskPriorityUp]: bulk(
    priorityAction,
    (a) => `priority ${a.kind === 'priority' ? a.to : ''}`,
    1,
  ),
  [KeyCommand.TaskMove]: bulk(moveAction, (a) => `move to ${a.kind === 'move' ? a.to : ''}`, 1),
  [KeyCommand.TaskAdd]: addTask,
  [KeyCommand.TaskMark]: (env, line) => {
    const ids = tasksFor(env, line.args);
    if (typeof ids === 'string') return ids;
    env.dispatch({ type: 'mark', ids, on: true });
    const all = new Set([...env.state.marked, ...ids]).size;
    env.dispatch({ type: 'flash', level: 'info', text: `${ids.length} marked, ${all} in all` });
    return null;
  },
  [KeyCommand.MarkClear]: (env) => {
    env.dispatch({ type: 'mark-clear' });
    return null;
  },
  [KeyCommand.Filter]: (env, line) => {
    const text = line.args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ');
    const parsed = parseQuery(text);
    if (!parsed.ok) return parsed.error;
    env.dispatch({ type: 'go', view: 'board' });
    env.dispatch({ type: 'dialog', dialog: { kind: 'filter', view: 'board', text, before: '' } });
    env.dispatch({ type: 'filter-close', keep: true });
    return null;
  },
  [KeyCommand.SortNext]: (env, line) => {
    const by = line.args[0];
    if (!by || !(SORTS as readonly string[]).includes(by)) return `sort by one of ${SORTS.join(', ')}`;
    env.dispatch({ type: 'sort', by: by as BoardSort });
    return null;
  },
  [KeyCommand.JumpAgent]: (env, line) => {
    const agent = agentOf(env, line.args);
    if (typeof agent === 'string') return agent;
    env.dispatch({ type: 'open-agent', id: agent.id });
    return null;
  },
  [KeyCommand.AgentPauseResume]: (env, line) => {
    const agent = agentOf(env, line.args);
    if (typeof agent === 'string') return agent;
    const directive = line.name === 'resume' ? 'resume' : 'pause';
    perform(env, async () => {
      await env.ws.directAgent(agent.id, directive);
      return `${agent.name}: ${directive === 'pause' ? 'paused' : 'resumed'}`;
    });
    return null;
  },
  [KeyCommand.AgentRestart]: (env, line) => {
    const agent = agentOf(env, line.args);
    if (typeof agent === 'string') return agent;
    env.dispatch({
      type: 'dialog',
      dialog: {
        kind: 'confirm',
        command: KeyCommand.AgentRestart,
        target: agent.id,
        title: `Restart ${agent.name}?`,
        detail: 'Its current process is stopped and its task goes back to ready.',
        focus: 'cancel',
      },
    });
    return null;
  },
};

/**
 * Run a typed line: null once it ran (or opened its confirmation), else what is wrong with it,
 * for the palette to show while it stays open.
 */
export function runTyped(env: Env, line: TypedLine): string | null {
  if (line.error) return line.error;
  const run = RUN[line.binding.command];
  if (!run) return `${line.name} takes no arguments here`;
  // Typed commands name what they act on (a query, an agent): the cursor's row is not needed, and
  // a read-only console does not know the commands it hides (typedBinding).
  return run(env, line);
}
