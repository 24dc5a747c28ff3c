/**
 * A plugin's trouble as an alert (kind `plugin`, one per plugin file or package): refused at start,
 * or switched off after a call threw or hung; and an agent whose driver kind no loaded plugin
 * provides (one per agent). Raising it again while it is open bumps its count,
 * as drift alerts do, so a plugin that fails at every start is one alert, not one per start.
 */
import type { Plan } from '../../state/backend.js';
import type { Alert } from '../../state/schemas.js';
import { alertByKey, planRaise } from '../drift/plans.js';
import type { Ctx } from '../lifecycle/index.js';
import { cut } from '../sanitize.js';
import type { Workspace } from '../workspace.js';
import type { PluginReport } from './load.js';

export const PLUGIN_ALERT_OP = 'plugin-off';

export function planPluginAlert(ctx: Ctx, report: PluginReport, message: string): Plan<Alert> {
  return planAlert(ctx, {
    key: `plugin:${report.from}`,
    subject: report.name ?? report.from,
    message,
    evidence: { from: report.from, origin: report.origin, state: report.state, reason: report.reason },
    action: report.state === 'refused' ? 'not loaded' : 'switched off until the process restarts',
  });
}

interface AlertFields {
  key: string;
  subject: string;
  message: string;
  evidence: Record<string, unknown>;
  action: string;
}

function planAlert(ctx: Ctx, what: AlertFields): Plan<Alert> {
  const at = ctx.now.toISOString();
  const existing = alertByKey(ctx.view, what.key);
  const fields = {
    kind: 'plugin' as const,
    severity: 'warning' as const,
    key: cut(what.key, 300),
    subject: cut(what.subject, 300),
    message: cut(what.message, 2000),
    evidence: what.evidence,
    action: cut(what.action, 500),
    status: 'open' as const,
    updatedAt: at,
  };
  return planRaise(ctx, existing, fields, PLUGIN_ALERT_OP);
}

/** An agent that does not run because its driver cannot be made (docs/plugins.md#drivers). */
export function planAgentDriverAlert(ctx: Ctx, agentId: string, message: string): Plan<Alert> {
  return planAlert(ctx, {
    key: `driver:${agentId}`,
    subject: agentId,
    message,
    evidence: { agent: agentId },
    action: 'the agent does not run until its driver can be made and the orchestrator starts again',
  });
}

/** The agent's driver could be made at last: its alert, if open, is resolved. */
export function planAgentDriverMade(ctx: Ctx, agentId: string): Plan<Alert | null> {
  const existing = alertByKey(ctx.view, `driver:${agentId}`);
  if (!existing || existing.status === 'resolved') return { change: null, result: null };
  const alert: Alert = {
    ...existing,
    status: 'resolved',
    updatedAt: ctx.now.toISOString(),
    evidence: { ...existing.evidence, resolution: 'its driver was made: the agent runs' },
  };
  return { change: { op: 'alert-resolve', by: ctx.by, alerts: [alert] }, result: alert };
}

/** The open alert about an agent whose driver could not be made, if any. */
export function agentDriverAlert(view: Ctx['view'], agentId: string): Alert | null {
  const alert = alertByKey(view, `driver:${agentId}`);
  return alert && alert.status !== 'resolved' ? alert : null;
}

export async function raiseAgentDriverAlert(
  ws: Workspace,
  agentId: string,
  message: string,
  log: (line: string) => void,
): Promise<void> {
  try {
    await ws.apply((ctx) => planAgentDriverAlert(ctx, agentId, message), 'plugins');
  } catch (error) {
    log(`could not record the alert about ${agentId}'s driver: ${(error as Error).message}`);
  }
}

/** Record the alert; a failure to write it is told on `log`, never thrown at the caller. */
export async function raisePluginAlert(
  ws: Workspace,
  report: PluginReport,
  message: string,
  log: (line: string) => void,
): Promise<void> {
  try {
    await ws.apply((ctx) => planPluginAlert(ctx, report, message), 'plugins');
  } catch (error) {
    log(`dreamos: could not record the alert about plugin ${report.from}: ${(error as Error).message}`);
  }
}
