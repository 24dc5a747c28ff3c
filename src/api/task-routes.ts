/**
 * `/api/v1/tasks`: the task lifecycle over HTTP, as `dreamos task …` does it. Every change goes
 * through the workspace's own method (the same validation, locks and journal); bodies are checked
 * first with the schemas the CLI's input is checked with (src/task-input.ts).
 */
import * as z from 'zod';
import { PRIORITIES, type Task, TaskId } from '../../state/schemas.js';
import { filterTasks } from '../board-queries.js';
import { conflict, invalidInput } from '../errors.js';
import { parseDuration, TaskInput } from '../task-input.js';
import type { Workspace } from '../workspace.js';
import { allows } from './context.js';
import { ScopeRefusal } from './problem.js';
import { intParam, listParam, type Route, route, Stage, TaskParams, Why, WhyBody } from './routes.js';

/** A page holds at most this many tasks; the default is smaller. */
export const MAX_PAGE = 1000;
export const DEFAULT_PAGE = 50;
/** An import holds at most this many tasks (Workspace.importTasks). */
const MAX_IMPORT_TASKS = 50_000;

const TaskQuery = z.strictObject({
  status: listParam(Stage).optional(),
  agent: z.string().min(1).max(64).optional(),
  role: z.string().min(1).max(64).optional(),
  tag: z.string().min(1).max(64).optional(),
  priority: z.enum(PRIORITIES).optional(),
  limit: intParam(1, MAX_PAGE).optional(),
  offset: intParam(0, Number.MAX_SAFE_INTEGER).optional(),
  /** The `nextCursor` of the previous page: the tasks after this id. */
  cursor: TaskId.optional(),
});

/** What `POST /tasks` takes: a task as `dreamos task add` makes it (`ref` belongs to imports). */
const AddBody = TaskInput.omit({ source: true, ref: true }).extend({
  dedupeKey: TaskInput.shape.dedupeKey.unwrap().max(196).optional(),
});

/** What `POST /tasks/import` takes: the JSON array `dreamos task import` reads. */
const ImportBody = z
  .array(TaskInput.omit({ source: true }))
  .min(1, 'the import holds no tasks')
  .max(MAX_IMPORT_TASKS, `an import holds at most ${MAX_IMPORT_TASKS.toLocaleString('en-US')} tasks`);

const shape = TaskInput.shape;
/** What `PATCH /tasks/:id` may change, as `dreamos task edit` does; at least one field. */
const EditBody = z.strictObject({
  title: shape.title.optional(),
  prompt: shape.prompt,
  run: shape.run,
  role: shape.role,
  capabilities: shape.capabilities.unwrap().optional(),
  priority: shape.priority.unwrap().optional(),
  dependsOn: z.array(TaskId).max(256).optional(),
  resources: shape.resources.unwrap().optional(),
  tags: shape.tags.unwrap().optional(),
  maxAttempts: shape.maxAttempts.unwrap().optional(),
  timeout: shape.timeout,
  budget: shape.budget,
});

/** How many pages are kept written out at once (each a few tens of kilobytes). */
const MAX_CACHED_PAGES = 64;

/** The fields of a task that say what it runs: changing one needs `tasks:approve`. */
const CONTENT_FIELDS = ['prompt', 'run', 'role', 'capabilities'] as const;

/** A dedupe key given through the API, in the API's own namespace. */
const apiKey = (key: string) => `api:${key}`;

const MoveBody = z.strictObject({ to: Stage, why: Why.optional() });
const RetryBody = z.strictObject({
  why: Why.optional(),
  /** The next run starts from the task's last checkpoint, whichever agent takes it. */
  fromCheckpoint: z.boolean().optional(),
});

/** One page of the tasks that pass the filters, by id. */
export function pageOf(
  tasks: readonly Task[],
  { limit = DEFAULT_PAGE, offset, cursor }: { limit?: number; offset?: number; cursor?: string },
) {
  if (offset !== undefined && cursor !== undefined) throw invalidInput('give cursor or offset, not both');
  let start = offset ?? 0;
  if (cursor !== undefined) {
    const after = tasks.findIndex((t) => t.id > cursor);
    start = after === -1 ? tasks.length : after;
  }
  const items = tasks.slice(start, start + limit);
  const more = start + items.length < tasks.length;
  return {
    items,
    total: tasks.length,
    limit,
    offset: start,
    nextCursor: more && items.length > 0 ? items[items.length - 1]!.id : null,
  };
}

const withoutUndefined = <T extends object>(value: T): Partial<T> =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;

type ListFilter = Pick<z.output<typeof TaskQuery>, 'status' | 'agent' | 'tag' | 'role' | 'priority'>;

export function taskRoutes(ws: Workspace, maxImportBytes: number): Route[] {
  const tag = 'tasks';
  /**
   * The last list made, by filter and journal sequence number: a client paging through a large
   * board asks for the same list page after page, and it only changes with a new entry.
   */
  let last: { seq: number; key: string; tasks: Task[] } | null = null;
  /** The pages written out as JSON, by query, as of one journal sequence number. */
  let pages: { seq: number; text: Map<string, string> } = { seq: -1, text: new Map() };
  /** The tasks a filter keeps, of the view as last refreshed (the caller refreshes it). */
  const listed = (filter: ListFilter): Task[] => {
    const { status, agent, tag: tagged, role, priority } = filter;
    const key = JSON.stringify([status, agent, tagged, role, priority]);
    if (last && last.seq === ws.view.seq && last.key === key) return last.tasks;
    const tasks = filterTasks(ws.view, {
      ...(status ? { status } : {}),
      ...(agent ? { agent } : {}),
      ...(tagged ? { tag: tagged } : {}),
    });
    // The board can hold tens of thousands of tasks: a second pass only when it filters.
    const kept =
      role === undefined && priority === undefined
        ? tasks
        : tasks.filter(
            (t) =>
              (role === undefined || t.role === role) && (priority === undefined || t.priority === priority),
          );
    last = { seq: ws.view.seq, key, tasks: kept };
    return kept;
  };
  return [
    route({
      method: 'get',
      path: '/api/v1/tasks',
      scope: 'read',
      tag,
      summary: 'List tasks, filtered and paged (by id)',
      query: TaskQuery,
      answer: 'TaskPage',
      handle: ({ query }, c) => {
        // A page is written out once per journal entry: clients polling the board ask for the same
        // pages again and again, and writing 50 tasks as JSON is most of an answer's cost.
        const key = JSON.stringify(query);
        ws.refresh();
        const seq = ws.view.seq;
        let text = pages.seq === seq ? pages.text.get(key) : undefined;
        if (text === undefined) {
          text = JSON.stringify(pageOf(listed(query), query));
          if (pages.seq !== seq) pages = { seq, text: new Map() };
          if (pages.text.size >= MAX_CACHED_PAGES) pages.text.clear();
          pages.text.set(key, text);
        }
        return c.body(text, 200, { 'Content-Type': 'application/json' });
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/tasks',
      scope: 'tasks:write',
      tag,
      summary:
        'Add a task (201); it waits for approval unless the token has tasks:approve; a taken dedupeKey answers its task (200)',
      body: AddBody,
      status: 201,
      answer: 'Task',
      handle: async ({ body }, c) => {
        const caller = c.get('caller');
        // Work from a token that may not approve waits for someone who may (policies.approval.api).
        const needsApproval = !allows(caller, 'tasks:approve');
        // The API's keys are its own (`api:…`): a caller cannot take the key of a GitHub issue or a
        // scout item before it arrives, and so hold its task.
        const input = { ...body, source: 'api' as const };
        if (body.dedupeKey !== undefined) input.dedupeKey = apiKey(body.dedupeKey);
        const { task, created } = await ws.addTaskOnce(input, { needsApproval });
        if (!created && !allows(caller, 'read'))
          throw conflict(
            `a task with dedupe key ${JSON.stringify(input.dedupeKey)} exists already: ${task.id}`,
          );
        return c.json(task, created ? 201 : 200);
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/tasks/import',
      scope: 'tasks:write',
      tag,
      summary:
        'Add many tasks in one transaction, all or none (dependsOn may name the ref of another); needs tasks:approve too',
      body: ImportBody,
      maxBodyBytes: maxImportBytes,
      status: 201,
      answer: 'Task[]',
      handle: ({ body }, c) => {
        // Imported tasks run without waiting for approval, as an import from the command line does.
        if (!allows(c.get('caller'), 'tasks:approve'))
          throw new ScopeRefusal(
            'tasks:approve',
            'an import needs a token with the tasks:approve scope too (or admin): imported tasks run without approval; add them one by one to have them wait',
          );
        return ws.importTasks(body);
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/tasks/:id',
      scope: 'read',
      tag,
      summary: 'One task with its history',
      params: TaskParams,
      answer: 'Task',
      handle: ({ params }) => ws.getTask(params.id),
    }),
    route({
      method: 'patch',
      path: '/api/v1/tasks/:id',
      scope: 'tasks:write',
      tag,
      summary: 'Change fields of a task that is not finished',
      params: TaskParams,
      body: EditBody,
      answer: 'Task',
      handle: ({ params, body }, c) => {
        // What runs is what approval looked at: changing it is approving it anew.
        const what = CONTENT_FIELDS.filter((f) => body[f] !== undefined);
        if (what.length > 0 && !allows(c.get('caller'), 'tasks:approve'))
          throw new ScopeRefusal(
            'tasks:approve',
            `changing what a task runs (${what.join(', ')}) needs a token with the tasks:approve scope (or admin)`,
          );
        const { timeout, ...rest } = body;
        return ws.edit(params.id, {
          ...withoutUndefined(rest),
          ...(timeout !== undefined ? { timeout: parseDuration(timeout) } : {}),
        });
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/tasks/:id/promote',
      scope: 'tasks:write',
      tag,
      summary: 'Move a backlog task to ready',
      params: TaskParams,
      body: WhyBody,
      answer: 'Task',
      handle: ({ params, body }, c) => {
        // An agent's proposal waits for someone who may approve it (docs/decisions/agent-subtask-approval.md).
        if (ws.getTask(params.id).source === 'agent' && !allows(c.get('caller'), 'tasks:approve'))
          throw new ScopeRefusal(
            'tasks:approve',
            "promoting an agent's proposal approves it: it needs a token with the tasks:approve scope (or admin)",
          );
        return ws.promote(params.id, body.why);
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/tasks/:id/approve',
      scope: 'tasks:approve',
      tag,
      summary: 'Let a task from outside run: it goes to ready once its dependencies are done',
      params: TaskParams,
      body: WhyBody,
      answer: 'Task',
      handle: ({ params, body }) => ws.approve(params.id, body.why),
    }),
    route({
      method: 'post',
      path: '/api/v1/tasks/:id/move',
      scope: 'tasks:write',
      tag,
      summary: 'Move a task to another stage (only the moves the lifecycle allows)',
      params: TaskParams,
      body: MoveBody,
      answer: 'Task',
      handle: ({ params, body }) => ws.move(params.id, body.to, body.why),
    }),
    route({
      method: 'post',
      path: '/api/v1/tasks/:id/retry',
      scope: 'tasks:write',
      tag,
      summary: 'Send a failed or cancelled task back to ready (or retry a waiting one now)',
      params: TaskParams,
      body: RetryBody,
      answer: 'Task',
      handle: ({ params, body }) =>
        ws.retry(params.id, body.why, { fromCheckpoint: Boolean(body.fromCheckpoint) }),
    }),
    route({
      method: 'post',
      path: '/api/v1/tasks/:id/cancel',
      scope: 'tasks:write',
      tag,
      summary: 'Cancel a task that is not finished',
      params: TaskParams,
      body: WhyBody,
      answer: 'Task',
      handle: ({ params, body }) => ws.cancel(params.id, body.why),
    }),
  ];
}
