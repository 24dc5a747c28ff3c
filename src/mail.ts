/**
 * Mailboxes (docs/swarm.md): typed messages between the operator and agents, journaled like every
 * other change. Recipients must exist in the registry; a `dedupeKey` makes a re-send (at-least-once
 * senders) deliver once; `ack` marks a message handled, and `read` only marks it seen.
 */
import type { Plan } from '../state/backend.js';
import { type AgentState, DIRECTIVES, idOf, MAIL_TYPES, type Mail } from '../state/schemas.js';
import { OPERATOR } from './config.js';
import { invalidInput, notFound } from './errors.js';
import type { Ctx } from './lifecycle/index.js';
import { checkMailLimits } from './limits.js';

export const mailIdOf = (n: number) => idOf('M', n);

/**
 * The reason a directive carries (`--why`). Directives are never refused for a full mailbox, so
 * their size is bounded here instead.
 */
export const MAX_DIRECTIVE_CHARS = 1000;

export interface SendInput {
  to: string;
  body: string;
  type?: (typeof MAIL_TYPES)[number];
  directive?: (typeof DIRECTIVES)[number];
  task?: string;
  dedupeKey?: string;
}

/** `to` may be an agent id, "operator", or "all" (a broadcast: one message to each agent). */
export function planSend(ctx: Ctx, agentIds: readonly string[], input: SendInput): Plan<Mail[]> {
  if (input.type && !MAIL_TYPES.includes(input.type)) {
    throw invalidInput(
      `unknown message type ${JSON.stringify(input.type)} (one of ${MAIL_TYPES.join(', ')})`,
    );
  }
  if (input.directive && !DIRECTIVES.includes(input.directive)) {
    throw invalidInput(
      `unknown directive ${JSON.stringify(input.directive)} (one of ${DIRECTIVES.join(', ')})`,
    );
  }
  if (input.type === 'directive' && !input.directive) {
    throw invalidInput(
      'directives are sent with `dreamos agent pause|resume|restart|reset ID`, not as mail (--type is one of message, status, assignment, alert, broadcast)',
    );
  }
  if (input.directive && input.body.length > MAX_DIRECTIVE_CHARS) {
    throw invalidInput(
      `the reason of a directive (--why) is at most ${MAX_DIRECTIVE_CHARS.toLocaleString('en-US')} characters, got ${input.body.length.toLocaleString('en-US')}`,
    );
  }
  const broadcast = input.to === 'all';
  const recipients = broadcast ? [...agentIds] : [input.to];
  for (const to of recipients) {
    if (to !== OPERATOR && !agentIds.includes(to)) {
      throw notFound(
        `no agent ${JSON.stringify(to).slice(0, 60)} to send to (known: ${agentIds.join(', ')}, operator, all)`,
      );
    }
  }
  if (!input.body.trim() && !input.directive) throw invalidInput('a message needs a body');
  let counter = ctx.view.counters.mail;
  const at = ctx.now.toISOString();
  const out: Mail[] = [];
  const existing: Mail[] = [];
  for (const to of recipients) {
    const dedupeKey = input.dedupeKey ? `${input.dedupeKey}` : undefined;
    const duplicate = dedupeKey ? ctx.view.mailbox(to).find((m) => m.dedupeKey === dedupeKey) : undefined;
    if (duplicate) {
      existing.push(duplicate);
      continue;
    }
    counter += 1;
    out.push({
      id: mailIdOf(counter),
      to,
      from: ctx.by,
      type: input.directive ? 'directive' : broadcast ? 'broadcast' : (input.type ?? 'message'),
      ...(input.directive ? { directive: input.directive } : {}),
      ...(input.task ? { task: input.task } : {}),
      body: input.body,
      ...(dedupeKey ? { dedupeKey } : {}),
      createdAt: at,
      readAt: null,
      ackedAt: null,
      rev: 0,
    });
  }
  checkMailLimits(ctx.view, ctx.policies.limits, agentIds, out);
  return {
    change: out.length ? { op: 'mail', by: ctx.by, mail: out, counters: { mail: counter } } : null,
    result: [...existing, ...out],
  };
}

export function planMark(
  ctx: Ctx,
  mailbox: string,
  ids: readonly string[],
  mark: 'read' | 'ack',
): Plan<Mail[]> {
  const at = ctx.now.toISOString();
  const changed: Mail[] = [];
  for (const id of ids) {
    const mail = ctx.view.mail(id);
    if (!mail || mail.to !== mailbox) throw notFound(`no message ${id} in the mailbox of ${mailbox}`);
    if (mark === 'ack' && mail.ackedAt) continue;
    if (mark === 'read' && mail.readAt) continue;
    changed.push(
      mark === 'ack' ? { ...mail, ackedAt: at, readAt: mail.readAt ?? at } : { ...mail, readAt: at },
    );
  }
  return {
    change: changed.length
      ? { op: mark === 'ack' ? 'mail-ack' : 'mail-read', by: ctx.by, mail: changed }
      : null,
    result: changed,
  };
}

/** `mail ack --all` acknowledges in changes of at most this many messages and characters of body. */
const ACK_BATCH_MESSAGES = 500;
const ACK_BATCH_CHARS = 1024 * 1024;

/**
 * The next batch of `mail ack --all`: the oldest unacknowledged messages of a mailbox that are not
 * directives (the agent's loop acts on those), bounded so that a flooded mailbox is acknowledged in
 * many small journal entries rather than one giant one. Empty when nothing is left.
 */
export function planAckBatch(ctx: Ctx, mailbox: string): Plan<Mail[]> {
  const ids: string[] = [];
  let size = 0;
  for (const m of ctx.view.mailbox(mailbox)) {
    if (m.ackedAt || m.type === 'directive') continue;
    if (ids.length > 0 && (ids.length >= ACK_BATCH_MESSAGES || size + m.body.length > ACK_BATCH_CHARS)) break;
    ids.push(m.id);
    size += m.body.length;
  }
  return planMark(ctx, mailbox, ids, 'ack');
}

export function defaultAgentState(id: string, now: Date): AgentState {
  return {
    id,
    status: 'idle',
    paused: false,
    task: null,
    heartbeatAt: null,
    runner: null,
    child: null,
    progress: null,
    failures: 0,
    contextResets: 0,
    updatedAt: now.toISOString(),
    rev: 0,
  };
}

/**
 * An operator directive to an agent: recorded as directive mail (the agent's loop acts on it and
 * acknowledges it); pause and resume also set the agent's state at once, so a pause holds even
 * while no orchestrator is running.
 */
export function planDirective(
  ctx: Ctx,
  agentIds: readonly string[],
  agentId: string,
  directive: (typeof DIRECTIVES)[number],
  why?: string,
): Plan<{ mail: Mail; state: AgentState }> {
  const sent = planSend(ctx, agentIds, { to: agentId, directive, body: why ?? directive });
  const current = ctx.view.agentState(agentId) ?? defaultAgentState(agentId, ctx.now);
  const at = ctx.now.toISOString();
  let state = current;
  if (directive === 'pause')
    state = { ...current, paused: true, status: current.task ? current.status : 'paused', updatedAt: at };
  if (directive === 'resume') {
    state = {
      ...current,
      paused: false,
      status: current.status === 'paused' ? 'idle' : current.status,
      updatedAt: at,
    };
  }
  const mail = sent.result[0]!;
  return {
    change: {
      ...sent.change!,
      op: `agent-${directive}`,
      ...(state !== current || !ctx.view.agentState(agentId) ? { agents: [state] } : {}),
    },
    result: { mail, state },
  };
}
