/**
 * Planners that turn drift findings into journaled changes: the alert (raised, bumped, resolved)
 * and the corrective action of its policy, in one transaction. Each re-evaluates its rule on the
 * fresh state inside the transaction, so a condition that cleared meanwhile changes nothing.
 */
import type { Change, Plan, StateView } from '../../state/backend.js';
import { ALERT_ID_RE, type Alert, idOf, type Task } from '../../state/schemas.js';
import { invalidInput, invalidTransition, notFound } from '../errors.js';
import { type Ctx, planCancel, planFail, transition, withFollowUps } from '../lifecycle/index.js';
import { defaultAgentState, planDirective } from '../mail.js';
import { cut } from '../sanitize.js';
import {
  clearedAlerts,
  type DriftInput,
  type DriftKind,
  evaluateDrift,
  type Finding,
  judgedHere,
} from './index.js';

export const alertIdOf = (n: number) => idOf('A', n);

/** What the caller observed outside the state (index.ts): the rest comes from the transaction. */
export type Observed = Omit<DriftInput, 'view' | 'now' | 'policies'>;

export interface DriftScope {
  /** Agents run by the caller. */
  mine: ReadonlySet<string>;
  /** Whether the caller also judges agents no live orchestrator runs (default true). */
  others?: boolean;
  /** Every configured agent (directives go only to known recipients). */
  agentIds: readonly string[];
  /** Set when the caller has stopped the recorded process of a stale agent. */
  childStopped?: ReadonlySet<string>;
}

/** What an alert says: all but its id, count, creation and revision, which raising it sets. */
export type AlertFields = Omit<Alert, 'id' | 'count' | 'createdAt' | 'rev'>;

/**
 * An alert raised, or the one with its key (`existing`) bumped: its count up and its fields new, so
 * a trouble that comes back is one alert, not one per time.
 */
export function planRaise(
  ctx: Ctx,
  existing: Alert | undefined,
  fields: AlertFields,
  op: string,
): Plan<Alert> {
  let counter = ctx.view.counters.alert;
  const alert: Alert = existing
    ? { ...existing, ...fields, count: existing.count + 1 }
    : { ...fields, id: alertIdOf(++counter), count: 1, createdAt: ctx.now.toISOString(), rev: 0 };
  return { change: { op, by: ctx.by, alerts: [alert], counters: { alert: counter } }, result: alert };
}

export function alertByKey(view: StateView, key: string): Alert | undefined {
  for (const alert of view.alerts()) if (alert.key === key) return alert;
  return undefined;
}

/** A finding is recorded (and acted on) once per occurrence: when its alert is missing or saw another. */
export function isNewOccurrence(view: StateView, finding: Finding): boolean {
  return alertByKey(view, finding.key)?.evidence.occurrence !== finding.occurrence;
}

const input = (ctx: Ctx, observed: Observed): DriftInput => ({
  ...observed,
  view: ctx.view,
  now: ctx.now,
  policies: ctx.policies,
});

/** A task taken back from its agent by drift: to ready, counted as a stall (too many fail it). */
function requeueAsStall(ctx: Ctx, task: Task, why: string): Task {
  const stalls = task.stalls + 1;
  return stalls >= ctx.policies.maxStalls
    ? transition(task, 'failed', ctx, `${why}; too many stalls`, {
        stalls,
        lease: null,
        result: { ok: false, error: why, errorCode: 'E_STALLED' },
      })
    : transition(task, 'ready', ctx, why, { stalls, lease: null, agent: null });
}

const heldBy = (view: StateView, id: string | null, agent: string) => {
  const task = id ? view.task(id) : undefined;
  return task?.status === 'working' && (task.lease?.owner ?? task.agent) === agent ? task : undefined;
};

/**
 * An agent whose orchestrator hung or died: marked stale, and the task it holds returns to ready at
 * once (its lease is expired early), counted as a stall.
 */
export function planStaleAgent(
  ctx: Ctx,
  agentId: string,
  why: string,
  childStopped = false,
): Plan<Task | null> {
  const state = ctx.view.agentState(agentId) ?? defaultAgentState(agentId, ctx.now);
  const task =
    heldBy(ctx.view, state.task, agentId) ??
    [...ctx.view.inStore('working')].find(
      (t) => t.status === 'working' && (t.lease?.owner ?? t.agent) === agentId,
    );
  const next = task ? requeueAsStall(ctx, task, why) : null;
  const change: Change = next ? withFollowUps(ctx, 'agent-stale', [next]) : { op: 'agent-stale', by: ctx.by };
  const agent = {
    ...state,
    status: 'stale' as const,
    task: null,
    progress: null,
    child: childStopped ? null : state.child,
    updatedAt: ctx.now.toISOString(),
  };
  return { change: { ...change, agents: [agent] }, result: next };
}

/** The change of a finding's action, and what was done (for the alert). */
function planAction(ctx: Ctx, f: Finding, scope: DriftScope): { change: Change | null; done: string } {
  const why = `drift (${f.kind}): ${cut(f.message, 300)}`;
  if (f.action === 'escalate') return { change: null, done: 'escalated to the operator' };
  if (f.action === 'pause' || f.action === 'reset-context') {
    const state = ctx.view.agentState(f.agent);
    if (f.action === 'pause' && state?.paused) return { change: null, done: `${f.agent} is already paused` };
    const sent = planDirective(ctx, scope.agentIds, f.agent, f.action, why);
    return {
      change: sent.change,
      done: f.action === 'pause' ? `paused ${f.agent}` : `reset the context of ${f.agent}`,
    };
  }
  if (f.kind === 'stall' && !f.key.startsWith('stall:T-')) {
    const stale = planStaleAgent(ctx, f.agent, why, scope.childStopped?.has(f.agent));
    const task = stale.result;
    return {
      change: stale.change,
      done: `marked ${f.agent} stale${task ? `; ${task.id} returned to ${task.status}` : ''}`,
    };
  }
  const task = heldBy(ctx.view, f.task, f.agent);
  if (!task) return { change: null, done: `nothing to ${f.action}: ${f.task ?? 'the task'} has moved on` };
  if (f.action === 'requeue') {
    const next = requeueAsStall(ctx, task, why);
    return {
      change: withFollowUps(ctx, 'drift-requeue', [next]),
      done: `${task.id} returned to ${next.status}`,
    };
  }
  if (f.action === 'cancel')
    return { change: planCancel(ctx, task.id, why).change, done: `cancelled ${task.id}` };
  const failed = planFail(ctx, task.id, {
    agent: f.agent,
    reason: why,
    ...(f.errorCode ? { errorCode: f.errorCode } : {}),
    final: f.final ?? false,
  });
  return { change: failed.change, done: `stopped ${task.id}; it is ${failed.result.status} now` };
}

function merge(base: Change, extra: Change | null): Change {
  if (!extra) return base;
  return {
    ...base,
    ...(extra.tasks ? { tasks: extra.tasks } : {}),
    ...(extra.archived ? { archived: extra.archived } : {}),
    ...(extra.agents ? { agents: extra.agents } : {}),
    ...(extra.mail ? { mail: extra.mail } : {}),
    counters: { ...extra.counters, ...base.counters },
  };
}

export interface DriftRecord {
  alert: Alert;
  finding: Finding;
  /** What the action did. */
  done: string;
}

/**
 * Record one finding (found by the caller under `key`) if it still holds and is a new occurrence:
 * its alert (new, bumped, or reopened) and its action, in one change.
 */
export function planDriftFinding(
  ctx: Ctx,
  observed: Observed,
  kind: DriftKind,
  key: string,
  scope: DriftScope,
): Plan<DriftRecord | null> {
  const state = input(ctx, observed);
  const f = evaluateDrift(state, [kind]).find((x) => x.key === key);
  if (!f || !judgedHere(state, f.agent, scope.mine, scope.others) || !isNewOccurrence(ctx.view, f))
    return { change: null, result: null };
  const act = planAction(ctx, f, scope);
  const at = ctx.now.toISOString();
  const fields = {
    kind: f.kind,
    severity: f.severity,
    key: cut(f.key, 300),
    subject: cut(f.subject, 300),
    message: cut(f.message, 2000),
    evidence: { ...f.evidence, agent: f.agent, task: f.task, occurrence: f.occurrence },
    action: cut(`${f.action}: ${act.done}`, 500),
    // A new occurrence is news even after an acknowledgement: the ack covered what was seen then.
    status: 'open' as const,
    updatedAt: at,
  };
  const raised = planRaise(ctx, alertByKey(ctx.view, f.key), fields, `drift-${f.kind}`);
  return {
    change: merge(raised.change!, act.change),
    result: { alert: raised.result, finding: f, done: act.done },
  };
}

/** Resolve the drift alerts whose condition has cleared (re-checked on the fresh state). */
export function planResolveDrift(
  ctx: Ctx,
  observed: Observed,
  scope: DriftScope,
  kinds?: readonly DriftKind[],
): Plan<Alert[]> {
  const state = input(ctx, observed);
  const cleared = clearedAlerts(state, evaluateDrift(state, kinds), scope.mine, kinds, scope.others);
  const at = ctx.now.toISOString();
  const resolved = cleared.map((a) => ({
    ...a,
    status: 'resolved' as const,
    updatedAt: at,
    evidence: { ...a.evidence, resolution: 'the condition cleared' },
  }));
  return {
    change: resolved.length ? { op: 'alert-resolve', by: ctx.by, alerts: resolved } : null,
    result: resolved,
  };
}

/** The operator's ack or resolve. Acknowledging or resolving twice changes nothing; a resolved alert is not acknowledged. */
export function planAlertStatus(
  ctx: Ctx,
  id: string,
  to: 'acknowledged' | 'resolved',
  why?: string,
): Plan<Alert> {
  if (!ALERT_ID_RE.test(id))
    throw invalidInput(`not an alert id: ${JSON.stringify(id).slice(0, 60)} (ids look like A-0001A)`);
  const alert = ctx.view.alert(id);
  if (!alert) throw notFound(`no alert ${id}`);
  if (alert.status === to) return { change: null, result: alert };
  if (alert.status === 'resolved')
    throw invalidTransition(`${id} is resolved; only an open alert can be acknowledged`);
  const next: Alert = {
    ...alert,
    status: to,
    updatedAt: ctx.now.toISOString(),
    evidence: {
      ...alert.evidence,
      [to === 'resolved' ? 'resolution' : 'acknowledgement']: why ?? `by ${ctx.by}`,
    },
  };
  return {
    change: { op: to === 'resolved' ? 'alert-resolve' : 'alert-ack', by: ctx.by, alerts: [next] },
    result: next,
  };
}
