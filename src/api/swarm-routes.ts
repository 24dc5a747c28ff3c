/**
 * `/api/v1/agents` and `/api/v1/mail`: the agents, their directives and checkpoints, and the
 * mailboxes, as `dreamos agent …`, `dreamos checkpoint …` and `dreamos mail …` show and change them.
 */
import * as z from 'zod';
import { type DIRECTIVES, type MAIL_TYPES, TaskId } from '../../state/schemas.js';
import type { AgentConfig } from '../config.js';
import { notFound } from '../errors.js';
import type { Workspace } from '../workspace.js';
import { AgentParams, boolParam, type Route, route } from './routes.js';

/** A directive's reason is bounded by the mail that carries it (src/mail.ts). */
const DirectiveBody = z.strictObject({ why: z.string().max(1000, 'at most 1,000 characters').optional() });

/** Directives travel through the agent routes, never as mail. */
const SENDABLE = ['message', 'assignment', 'status', 'alert', 'broadcast'] as const satisfies ReadonlyArray<
  (typeof MAIL_TYPES)[number]
>;

const SendBody = z.strictObject({
  /** An agent id, `operator`, or `all` (one message to each agent). */
  to: z.string().min(1).max(64),
  body: z.string().min(1, 'a message needs a body').max(20_000, 'at most 20,000 characters'),
  type: z.enum(SENDABLE).optional(),
  task: TaskId.optional(),
  dedupeKey: z.string().min(1).max(200).optional(),
});

const MailboxParams = z.strictObject({ mailbox: z.string().min(1).max(64) });
const MailboxQuery = z.strictObject({ all: boolParam.optional() });
const CheckpointParams = z.strictObject({
  id: z.string().min(1).max(64),
  checkpoint: z.string().min(1).max(20),
});

/** The directives the agent routes send: the route's name and the directive it is. */
const DIRECTIVE_ROUTES: Array<[string, (typeof DIRECTIVES)[number], string]> = [
  ['pause', 'pause', 'Stop claiming new tasks (the current one finishes)'],
  ['resume', 'resume', 'Claim tasks again'],
  ['restart', 'restart', 'Stop the current task (back to ready) and start the loop afresh'],
  ['reset', 'reset-context', 'Start the next task with a fresh context (no checkpoint)'],
];

/**
 * An agent's definition as the API shows it: a command driver's environment is named but its
 * values are not, since a token that may read the board need not see what a program is given.
 */
function shown(def: AgentConfig): AgentConfig {
  if (!('env' in def.driver) || !def.driver.env) return def;
  const env = Object.fromEntries(Object.keys(def.driver.env).map((name) => [name, '[redacted]']));
  return { ...def, driver: { ...def.driver, env } };
}

export function swarmRoutes(ws: Workspace): Route[] {
  /** An agent as `dreamos agent list --json` shows it: its definition and its state. */
  const agents = () => {
    const states = ws.agentStates();
    return ws.config.agents.map((a, i) => ({ ...shown(a), state: states[i]! }));
  };
  return [
    route({
      method: 'get',
      path: '/api/v1/agents',
      scope: 'read',
      tag: 'agents',
      summary: 'Every agent with its role, driver and state',
      answer: 'Agent[]',
      handle: () => agents(),
    }),
    route({
      method: 'get',
      path: '/api/v1/agents/:id',
      scope: 'read',
      tag: 'agents',
      summary: 'One agent: definition, state, unacknowledged mail and last checkpoint',
      params: AgentParams,
      answer: 'AgentDetail',
      handle: ({ params }) => {
        const def = ws.agent(params.id);
        const state = ws.agentStates().find((s) => s.id === def.id)!;
        const checkpoints = ws.checkpoints(def.id);
        return {
          ...shown(def),
          state,
          mailbox: ws.mailbox(def.id),
          checkpoint: checkpoints[checkpoints.length - 1] ?? null,
        };
      },
    }),
    ...DIRECTIVE_ROUTES.map(([name, directive, summary]) =>
      route({
        method: 'post',
        path: `/api/v1/agents/:id/${name}`,
        scope: 'agents:control',
        tag: 'agents',
        summary,
        params: AgentParams,
        body: DirectiveBody,
        answer: z.object({ mail: z.object({ id: z.string() }).loose() }).loose(),
        handle: ({ params, body }) => ws.directAgent(params.id, directive, body.why),
      }),
    ),
    route({
      method: 'get',
      path: '/api/v1/agents/:id/checkpoints',
      scope: 'read',
      tag: 'checkpoints',
      summary: "An agent's checkpoints, oldest first (operator: the hand-overs of retries)",
      params: AgentParams,
      answer: 'Checkpoint[]',
      handle: ({ params }) => ws.checkpoints(params.id),
    }),
    route({
      method: 'get',
      path: '/api/v1/agents/:id/checkpoints/:checkpoint',
      scope: 'read',
      tag: 'checkpoints',
      summary: 'One checkpoint of an agent',
      params: CheckpointParams,
      answer: 'Checkpoint',
      handle: ({ params }) => {
        const found = ws.checkpoints(params.id).find((c) => c.id === params.checkpoint);
        if (!found) throw notFound(`no checkpoint ${params.checkpoint} for ${params.id}`);
        return found;
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/mail',
      scope: 'tasks:write',
      tag: 'mail',
      summary: 'Send a message from the operator (to an agent id, operator, or all)',
      body: SendBody,
      status: 201,
      answer: 'Mail[]',
      handle: ({ body }) =>
        ws.sendMail({
          to: body.to,
          body: body.body,
          ...(body.type !== undefined ? { type: body.type } : {}),
          ...(body.task !== undefined ? { task: body.task } : {}),
          ...(body.dedupeKey !== undefined ? { dedupeKey: body.dedupeKey } : {}),
        }),
    }),
    route({
      method: 'get',
      path: '/api/v1/mail/:mailbox',
      scope: 'read',
      tag: 'mail',
      summary: 'A mailbox (an agent id or operator), oldest first: unacknowledged unless all=true',
      params: MailboxParams,
      query: MailboxQuery,
      answer: 'Mail[]',
      handle: ({ params, query }) => ws.mailbox(params.mailbox, { all: Boolean(query.all) }),
    }),
  ];
}
