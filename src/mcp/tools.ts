/**
 * The board as MCP tools, for the agent programs Dream.OS drives (docs/mcp.md). Every change goes
 * through the Workspace, with the validation the CLI applies; a refusal is a tool error carrying the
 * DreamError's code and message, which the model can read and correct.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod';
import { MAIL_TYPES, PRIORITIES, STATUSES, type Task } from '../../state/schemas.js';
import { saveCheckpoint } from '../commands/checkpoints.js';
import { OPERATOR } from '../config.js';
import { DreamError } from '../errors.js';
import { reportError } from '../output.js';
import { oneLine } from '../sanitize.js';
import type { Workspace } from '../workspace.js';

/** Who the server acts as, from the environment a driver gives the program it runs. */
export interface McpIdentity {
  /** The agent (DREAMOS_AGENT_ID), or null for the operator. */
  agent: string | null;
  /** The task the agent is running (DREAMOS_TASK_ID), or null outside a task. */
  task: string | null;
}

const LIST_LIMIT = 50;
const MAX_LIST_LIMIT = 500;
const MAILBOX_LIMIT = 100;

// The schemas say what each tool takes; the limits of the board (lengths, counts, one-line text) are
// checked by the Workspace, as for the CLI, and refused with its messages.
const TaskRef = z.string().describe('a task id, like T-0001A');
/** One line: the checkpoint's step is refused rather than cut, as `checkpoint save` does. */
const Step = z
  .string()
  .min(1)
  .max(500)
  .refine((s) => oneLine(s) === s, 'step is one line, without control characters or spaces at its ends');

/** A task in a list: what tells tasks apart, without the history. */
function row(t: Task) {
  return {
    id: t.id,
    title: t.title,
    status: t.status,
    priority: t.priority,
    agent: t.agent,
    ...(t.role ? { role: t.role } : {}),
    tags: t.tags,
    dependsOn: t.dependsOn,
  };
}

function ok(data: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(data) }], structuredContent: data };
}

/**
 * A refusal as the model sees it: the code and the one-line message, never a stack. An error that
 * is not a DreamError is a bug: it is also reported on stderr, where the operator can see it (with
 * its stack under DREAMOS_DEBUG).
 */
export function toolError(error: unknown): CallToolResult {
  if (!(error instanceof DreamError)) reportError(error, false);
  const code = error instanceof DreamError ? error.code : 'E_INTERNAL';
  const message = oneLine(error instanceof Error ? error.message : String(error), 1000);
  return {
    content: [{ type: 'text', text: `${code}: ${message}` }],
    structuredContent: { error: { code, message } },
    isError: true,
  };
}

async function attempt(fn: () => Promise<Record<string, unknown>> | Record<string, unknown>) {
  try {
    return ok(await fn());
  } catch (error) {
    return toolError(error);
  }
}

export function registerTools(server: McpServer, ws: Workspace, me: McpIdentity): void {
  const self = me.agent ?? OPERATOR;

  const currentTask = (tool: string): string => {
    if (me.task === null)
      throw new DreamError(
        'E_USAGE',
        `${tool} works on the current task, and there is none: DREAMOS_TASK_ID is not set (it is set when an agent runs this program for a task)`,
      );
    return me.task;
  };
  const agentOnly = (tool: string): string => {
    if (me.agent === null)
      throw new DreamError(
        'E_USAGE',
        `${tool} records an agent's work, and this server acts as the operator: DREAMOS_AGENT_ID is not set`,
      );
    return me.agent;
  };

  server.registerTool(
    'whoami',
    {
      title: 'Who am I',
      description:
        'The agent this server acts as and the task it is running (null outside a task), with its role.',
      inputSchema: z.strictObject({}),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    () =>
      attempt(() => ({
        agent: me.agent,
        role: me.agent ? ws.agent(me.agent).role : null,
        task: me.task,
      })),
  );

  server.registerTool(
    'list_tasks',
    {
      title: 'List tasks',
      description: `Tasks on the board, oldest first, without their history. At most ${LIST_LIMIT} unless limit says otherwise; total says how many matched.`,
      inputSchema: z.strictObject({
        stage: z.array(z.enum(STATUSES)).min(1).optional().describe('only tasks in these stages'),
        agent: z.string().optional().describe('only tasks held by this agent'),
        role: z.string().optional().describe('only tasks for this role (or agent id)'),
        tag: z.string().optional().describe('only tasks with this tag'),
        limit: z.number().int().min(1).max(MAX_LIST_LIMIT).optional(),
      }),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (input) =>
      attempt(() => {
        const matched = ws
          .listTasks({
            ...(input.stage ? { status: input.stage } : {}),
            ...(input.agent ? { agent: input.agent } : {}),
            ...(input.tag ? { tag: input.tag } : {}),
          })
          .filter((t) => input.role === undefined || t.role === input.role);
        const tasks = matched.slice(0, input.limit ?? LIST_LIMIT).map(row);
        return { tasks, total: matched.length };
      }),
  );

  server.registerTool(
    'show_task',
    {
      title: 'Show a task',
      description: 'One task with its history and result; without an id, the current task.',
      inputSchema: z.strictObject({ id: TaskRef.optional() }),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (input) => attempt(() => ({ task: ws.getTask(input.id ?? currentTask('show_task without an id')) })),
  );

  server.registerTool(
    'create_subtask',
    {
      title: 'Create a sub-task',
      description:
        'Propose a task for yourself or another role. It is recorded as yours and waits in the backlog for the operator to approve it, unless the workspace approves sub-tasks itself; do not wait for it within this run.',
      inputSchema: z.strictObject({
        title: z.string().describe('one line that says what the task is'),
        prompt: z.string().optional().describe('what to do, in detail'),
        role: z.string().optional().describe('the role (or agent id) that should take it'),
        priority: z.enum(PRIORITIES).optional(),
        tags: z.array(z.string()).optional(),
        dependsOn: z.array(TaskRef).optional().describe('tasks that must be done first'),
        afterCurrentTask: z
          .boolean()
          .optional()
          .describe('true: it also waits for the current task to be done (a follow-up)'),
      }),
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    (input) =>
      attempt(async () => {
        const after = input.afterCurrentTask ? [currentTask('create_subtask with afterCurrentTask')] : [];
        const dependsOn = [...new Set([...(input.dependsOn ?? []), ...after])];
        // A model's proposal, whoever runs it: no shell command, and held for the operator
        // (docs/decisions/mcp-server.md).
        const task = await ws.addTask(
          {
            title: input.title,
            ...(input.prompt !== undefined ? { prompt: input.prompt } : {}),
            ...(input.role !== undefined ? { role: input.role } : {}),
            ...(input.priority !== undefined ? { priority: input.priority } : {}),
            tags: input.tags ?? [],
            dependsOn,
            source: me.agent ? 'agent' : 'api',
            hold: !ws.config.policies.autoApproveSubtasks,
          },
          self,
        );
        return {
          task: row(task),
          ...(task.status === 'backlog' && !ws.config.policies.autoApproveSubtasks
            ? { note: 'waits in the backlog for the operator to approve it' }
            : {}),
        };
      }),
  );

  server.registerTool(
    'send_mail',
    {
      title: 'Send mail',
      description:
        'Send a message to another agent (its id), to the operator ("operator"), or to every agent ("all"). It is about the current task unless task says otherwise.',
      inputSchema: z.strictObject({
        to: z.string().describe('an agent id, "operator", or "all"'),
        body: z.string(),
        type: z.enum(MAIL_TYPES.filter((t) => t !== 'directive' && t !== 'broadcast')).optional(),
        task: TaskRef.optional().describe('the task it is about (default: the current task)'),
      }),
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    (input) =>
      attempt(async () => {
        const about = input.task ?? me.task ?? undefined;
        if (about !== undefined) ws.getTask(about);
        const sent = await ws.sendMail(
          {
            to: input.to,
            body: input.body,
            ...(input.type ? { type: input.type } : {}),
            ...(about !== undefined ? { task: about } : {}),
          },
          self,
        );
        return { sent: sent.map((m) => ({ id: m.id, to: m.to })) };
      }),
  );

  const checkpointFields = {
    step: Step.optional().describe('where the work is, one line'),
    summary: z.string().optional().describe('what is done and what remains'),
  };

  server.registerTool(
    'report_progress',
    {
      title: 'Report progress',
      description:
        'Say how far the current task is (0 to 1), with the step you are at; recorded as a checkpoint of the task.',
      inputSchema: z.strictObject({ progress: z.number().min(0).max(1), ...checkpointFields }),
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    (input) =>
      attempt(async () => {
        const agent = agentOnly('report_progress');
        const task = currentTask('report_progress');
        const saved = await saveCheckpoint(ws, agent, { task, ...input });
        return { checkpoint: { id: saved.id, task: saved.task, progress: saved.progress } };
      }),
  );

  server.registerTool(
    'save_checkpoint',
    {
      title: 'Save a checkpoint',
      description:
        "Record where the work on the current task stands, so that a later run (yours or another agent's) can resume from it.",
      inputSchema: z.strictObject({
        ...checkpointFields,
        progress: z.number().min(0).max(1).optional(),
        sessionId: z.string().optional().describe('your own session id, to resume it'),
        data: z.record(z.string(), z.unknown()).optional().describe('a JSON object kept with it'),
      }),
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    (input) =>
      attempt(async () => {
        const agent = agentOnly('save_checkpoint');
        const task = currentTask('save_checkpoint');
        const saved = await saveCheckpoint(ws, agent, { task, ...input });
        return { checkpoint: saved };
      }),
  );

  server.registerTool(
    'read_mailbox',
    {
      title: 'Read the mailbox',
      description:
        "Messages for you (the operator's when you are not an agent), oldest first: the unacknowledged ones, or every kept one with all. ack: true acknowledges those returned (handled; until then they are delivered again).",
      inputSchema: z.strictObject({
        all: z.boolean().optional().describe('include acknowledged messages'),
        ack: z.boolean().optional().describe('acknowledge the messages returned'),
        limit: z.number().int().min(1).max(MAX_LIST_LIMIT).optional(),
      }),
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    (input) =>
      attempt(async () => {
        // Directives (pause, restart, …) are for the agent's loop, which acknowledges them as it acts.
        const mail = ws
          .mailbox(self, { all: Boolean(input.all) })
          .filter((m) => m.type !== 'directive')
          .slice(0, input.limit ?? MAILBOX_LIMIT);
        const unacked = mail.filter((m) => !m.ackedAt).map((m) => m.id);
        const acked = input.ack && unacked.length ? await ws.markMail(self, unacked, 'ack') : [];
        const ackedAt = new Map(acked.map((m) => [m.id, m.ackedAt]));
        return {
          mailbox: self,
          messages: mail.map((m) => ({ ...m, ackedAt: ackedAt.get(m.id) ?? m.ackedAt })),
        };
      }),
  );

  server.registerTool(
    'ack_mail',
    {
      title: 'Acknowledge mail',
      description: 'Acknowledge messages of your mailbox by id: handled, no longer delivered.',
      inputSchema: z.strictObject({ ids: z.array(z.string()).min(1).describe('message ids, like M-00001') }),
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    (input) =>
      attempt(async () => {
        const changed = await ws.markMail(self, input.ids, 'ack');
        return { acknowledged: changed.map((m) => m.id) };
      }),
  );
}
