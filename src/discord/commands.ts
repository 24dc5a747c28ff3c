/**
 * The `/dreamos` slash command: one table says, for each subcommand, its options (with Discord's own
 * option types, so no text is ever parsed), the scope it needs and what it does. The definitions
 * `dreamos discord register` installs and the interactions endpoint both read it.
 *
 * Reads answer at once. Changes are checked first (the task or agent exists, the input is valid),
 * so that a mistake is answered at once and only to its author; then they run while Discord shows
 * "thinking…", and the answer follows (src/hooks/discord.ts).
 */
import * as z from 'zod';
import { PRIORITIES } from '../../state/schemas.js';
import { allows, type Caller, type Scope } from '../api/context.js';
import { OPERATOR } from '../config.js';
import { invalidInput } from '../errors.js';
import { attentionNow, statusReport } from '../reports.js';
import { oneLine } from '../sanitize.js';
import { parseTaskInput } from '../task-input.js';
import type { Workspace } from '../workspace.js';

/** Discord's option types (https://discord.com/developers/docs/interactions/application-commands#application-command-object-application-command-option-type). */
export const OptionType = { SUB_COMMAND: 1, SUB_COMMAND_GROUP: 2, STRING: 3, INTEGER: 4 } as const;

interface OptionDefinition {
  type: typeof OptionType.STRING | typeof OptionType.INTEGER;
  name: string;
  description: string;
  required?: boolean;
  max_length?: number;
  choices?: { name: string; value: string }[];
}

/** What a subcommand is given: its options by name, typed as Discord typed them. */
type Args = Record<string, string | number>;

/** Who asked, as the subcommands record it. */
export interface Asker {
  /** The Discord user id. */
  user: string;
  caller: Caller;
  /** The interaction's id: a task added from it carries it as its dedupe key. */
  interaction: string;
}

interface Subcommand {
  /** `status`, or `task add` for a subcommand in a group. */
  path: string;
  description: string;
  scope: Scope;
  options: OptionDefinition[];
  /** A read answers at once; a change is checked, then runs after the deferral. */
  check?: (ws: Workspace, args: Args, asker: Asker) => void;
  run: (ws: Workspace, args: Args, asker: Asker) => string | Promise<string>;
}

const str = (name: string, description: string, more: Partial<OptionDefinition> = {}): OptionDefinition => ({
  type: OptionType.STRING,
  name,
  description,
  required: true,
  ...more,
});

const taskId = str('id', 'the task id (T-12)', { max_length: 40 });
const agentId = str('agent', 'the agent id', { max_length: 64 });
const text = (args: Args, name: string) => String(args[name] ?? '');
const by = (asker: Asker) => `discord:${asker.user}`;
/** The reason recorded with a change made from Discord. */
const why = (asker: Asker) => `from Discord (user ${asker.user})`;

/** A task that exists (a clear error otherwise), after a fresh look at the board. */
function existingTask(ws: Workspace, args: Args): void {
  ws.refresh();
  ws.getTask(text(args, 'id'));
}

const MAX_ITEMS = 10;

function statusText(ws: Workspace): string {
  const report = statusReport(ws);
  const counts = Object.entries(report.counts)
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${n} ${status}`);
  const lines = [
    `**${oneLine(ws.config.name, 100)}**: ${counts.length ? counts.join(', ') : 'no tasks'} · ${report.agents} agents · ${report.openAlerts} open alerts`,
  ];
  for (const t of report.working.slice(0, MAX_ITEMS))
    lines.push(`• ${t.id} ${oneLine(t.title, 120)}${t.agent ? ` (${t.agent})` : ''}`);
  if (report.working.length > MAX_ITEMS)
    lines.push(`… and ${report.working.length - MAX_ITEMS} more working`);
  return lines.join('\n');
}

function attentionText(ws: Workspace): string {
  const items = attentionNow(ws);
  if (items.length === 0) return 'Nothing needs attention.';
  const lines = items
    .slice(0, MAX_ITEMS)
    .map(
      (a) =>
        `• [${a.severity}] ${a.reason}: ${oneLine(a.subject, 60)} ${oneLine(a.text, 120)} → ${oneLine(a.action, 200)}`,
    );
  if (items.length > MAX_ITEMS) lines.push(`… and ${items.length - MAX_ITEMS} more (dreamos attention)`);
  return lines.join('\n');
}

const AddArgs = z.object({
  title: z.string(),
  prompt: z.string().optional(),
  role: z.string().optional(),
  priority: z.enum(PRIORITIES).optional(),
});

/** The task `task add` makes: source discord, deduplicated on the interaction. */
function taskOf(args: Args, asker: Asker) {
  const a = AddArgs.parse(args);
  return parseTaskInput(
    {
      title: a.title,
      ...(a.prompt !== undefined ? { prompt: a.prompt } : {}),
      ...(a.role !== undefined ? { role: a.role } : {}),
      ...(a.priority !== undefined ? { priority: a.priority } : {}),
      source: 'discord',
      dedupeKey: `discord:${asker.interaction}`,
    },
    'the task',
  );
}

export const SUBCOMMANDS: readonly Subcommand[] = [
  {
    path: 'status',
    description: 'The board: tasks by stage, agents, open alerts, the work under way',
    scope: 'read',
    options: [],
    run: (ws) => statusText(ws),
  },
  {
    path: 'attention',
    description: 'What needs the operator now, most urgent first',
    scope: 'read',
    options: [],
    run: (ws) => attentionText(ws),
  },
  {
    path: 'task add',
    description: 'Add a task (it waits for approval unless you may approve)',
    scope: 'tasks:write',
    options: [
      str('title', 'one line saying what to do', { max_length: 200 }),
      str('prompt', 'the instructions', { required: false, max_length: 4000 }),
      str('role', 'the role or agent id that should take it', { required: false, max_length: 64 }),
      str('priority', 'how urgent (default normal)', {
        required: false,
        choices: PRIORITIES.map((p) => ({ name: p, value: p })),
      }),
    ],
    check: (_ws, args, asker) => {
      taskOf(args, asker);
    },
    run: async (ws, args, asker) => {
      const needsApproval = !allows(asker.caller, 'tasks:approve');
      const { task, created } = await ws.addTaskOnce(taskOf(args, asker), { needsApproval, by: by(asker) });
      const state =
        task.status === 'backlog' && needsApproval
          ? `waits for approval (/dreamos approve id:${task.id})`
          : `is ${task.status}`;
      return `${created ? 'Added' : 'Already added'} ${task.id} “${oneLine(task.title, 200)}”: it ${state}`;
    },
  },
  {
    path: 'approve',
    description: 'Let a task from outside run',
    scope: 'tasks:approve',
    options: [taskId],
    check: existingTask,
    run: async (ws, args, asker) => {
      const task = await ws.approve(text(args, 'id'), why(asker), by(asker));
      return `Approved ${task.id} “${oneLine(task.title, 200)}”: it is ${task.status}`;
    },
  },
  {
    path: 'retry',
    description: 'Send a failed or cancelled task back to ready',
    scope: 'tasks:write',
    options: [taskId],
    check: existingTask,
    run: async (ws, args, asker) => {
      const task = await ws.retry(text(args, 'id'), why(asker));
      return `${task.id} “${oneLine(task.title, 200)}” is ${task.status} again`;
    },
  },
  {
    path: 'cancel',
    description: 'Cancel a task that is not finished',
    scope: 'tasks:write',
    options: [taskId],
    check: existingTask,
    run: async (ws, args, asker) => {
      const task = await ws.cancel(text(args, 'id'), why(asker));
      return `Cancelled ${task.id} “${oneLine(task.title, 200)}”`;
    },
  },
  {
    path: 'pause',
    description: 'Stop an agent claiming new tasks (its current one finishes)',
    scope: 'agents:control',
    options: [agentId],
    check: (ws, args) => {
      ws.agent(text(args, 'agent'));
    },
    run: async (ws, args, asker) => {
      await ws.directAgent(text(args, 'agent'), 'pause', why(asker));
      return `Paused ${text(args, 'agent')}: it takes no new task until resumed`;
    },
  },
  {
    path: 'resume',
    description: 'Let a paused agent claim tasks again',
    scope: 'agents:control',
    options: [agentId],
    check: (ws, args) => {
      ws.agent(text(args, 'agent'));
    },
    run: async (ws, args, asker) => {
      await ws.directAgent(text(args, 'agent'), 'resume', why(asker));
      return `Resumed ${text(args, 'agent')}`;
    },
  },
  {
    path: 'mail',
    description: 'Send a message to an agent (or all, or operator)',
    scope: 'tasks:write',
    options: [
      str('to', 'an agent id, all, or operator', { max_length: 64 }),
      str('text', 'the message', { max_length: 2000 }),
    ],
    check: (ws, args) => {
      const to = text(args, 'to');
      if (to !== 'all' && to !== OPERATOR) ws.agent(to);
      if (!text(args, 'text').trim()) throw invalidInput('a message needs a text');
    },
    run: async (ws, args, asker) => {
      const sent = await ws.sendMail({
        to: text(args, 'to'),
        body: `${text(args, 'text')}\n\n(${why(asker)})`,
      });
      return `Sent to ${text(args, 'to')} (${sent.length} ${sent.length === 1 ? 'message' : 'messages'})`;
    },
  },
];

/** The `/dreamos` command as Discord's API takes it (a chat input command). */
export function commandDefinitions() {
  const options: unknown[] = [];
  const groups = new Map<string, { type: 2; name: string; description: string; options: unknown[] }>();
  for (const sub of SUBCOMMANDS) {
    const [first, second] = sub.path.split(' ') as [string, string | undefined];
    const definition = {
      type: OptionType.SUB_COMMAND,
      name: second ?? first,
      description: sub.description,
      options: sub.options,
    };
    if (!second) {
      options.push(definition);
      continue;
    }
    let group = groups.get(first);
    if (!group) {
      group = {
        type: OptionType.SUB_COMMAND_GROUP,
        name: first,
        description: `${first} commands`,
        options: [],
      };
      groups.set(first, group);
      options.push(group);
    }
    group.options.push(definition);
  }
  return [{ name: 'dreamos', type: 1, description: 'Talk to the Dream.OS swarm', options }];
}

/** One option as Discord sends it. */
const SentOption: z.ZodType<{ name: string; type: number; value?: unknown; options?: SentOption[] }> = z.lazy(
  () =>
    z.object({
      name: z.string().max(32),
      type: z.number().int(),
      value: z.unknown().optional(),
      options: z.array(SentOption).max(25).optional(),
    }),
);
type SentOption = z.infer<typeof SentOption>;

/** The subcommand an invocation names, and its options checked against the definition. */
export function invocationOf(name: string, sent: unknown): { sub: Subcommand; args: Args } {
  if (name !== 'dreamos') throw invalidInput(`this endpoint knows /dreamos only, not /${oneLine(name, 32)}`);
  const parsed = z
    .array(SentOption)
    .max(25)
    .safeParse(sent ?? []);
  if (!parsed.success) throw invalidInput('the command options are not what Discord sends');
  const path: string[] = [];
  let options = parsed.data;
  while (options.length === 1 && (options[0]!.type === 1 || options[0]!.type === 2)) {
    path.push(options[0]!.name);
    options = options[0]!.options ?? [];
  }
  const sub = SUBCOMMANDS.find((s) => s.path === path.join(' '));
  if (!sub)
    throw invalidInput(
      `no subcommand /dreamos ${oneLine(path.join(' '), 64)} (run dreamos discord register)`,
    );
  const args: Args = {};
  for (const option of options) {
    const definition = sub.options.find((o) => o.name === option.name);
    const ok =
      definition?.type === OptionType.STRING
        ? typeof option.value === 'string'
        : definition?.type === OptionType.INTEGER && Number.isSafeInteger(option.value);
    if (!definition || !ok)
      throw invalidInput(`unexpected option ${oneLine(option.name, 32)} (run dreamos discord register)`);
    args[option.name] = option.value as string | number;
  }
  for (const definition of sub.options)
    if (definition.required && args[definition.name] === undefined)
      throw invalidInput(`/dreamos ${sub.path} needs ${definition.name}`);
  return { sub, args };
}
