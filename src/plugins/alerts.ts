/**
 * A plugin's trouble as an alert (kind `plugin`, one per plugin file or package): refused at start,
 * or switched off after a call threw or hung. Raising it again while it is open bumps its count,
 * as drift alerts do, so a plugin that fails at every start is one alert, not one per start.
 */
import type { Plan } from '../../state/backend.js';
import type { Alert } from '../../state/schemas.js';
import { alertByKey, alertIdOf } from '../drift/plans.js';
import type { Ctx } from '../lifecycle/index.js';
import { cut } from '../sanitize.js';
import type { Workspace } from '../workspace.js';
import type { PluginReport } from './load.js';

export const PLUGIN_ALERT_OP = 'plugin-off';

export function planPluginAlert(ctx: Ctx, report: PluginReport, message: string): Plan<Alert> {
  const at = ctx.now.toISOString();
  const existing = alertByKey(ctx.view, `plugin:${report.from}`);
  const fields = {
    kind: 'plugin' as const,
    severity: 'warning' as const,
    key: cut(`plugin:${report.from}`, 300),
    subject: cut(report.name ?? report.from, 300),
    message: cut(message, 2000),
    evidence: { from: report.from, origin: report.origin, state: report.state, reason: report.reason },
    action: cut(report.state === 'refused' ? 'not loaded' : 'switched off until the process restarts', 500),
    updatedAt: at,
  };
  let counter = ctx.view.counters.alert;
  const alert: Alert = existing
    ? { ...existing, ...fields, count: existing.count + 1, status: 'open' }
    : { ...fields, id: alertIdOf(++counter), status: 'open', count: 1, createdAt: at, rev: 0 };
  return {
    change: { op: PLUGIN_ALERT_OP, by: ctx.by, alerts: [alert], counters: { alert: counter } },
    result: alert,
  };
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
