/**
 * A source that keeps failing raises one alert (kind `source-failing`, key `scout:<source>`): raised
 * when its failures reach the threshold, left alone while it stays open or acknowledged (one alert,
 * not one per run), resolved by the first run that works again.
 */
import type { Plan } from '../../state/backend.js';
import type { Alert } from '../../state/schemas.js';
import { alertByKey, planRaise } from '../drift/plans.js';
import type { Ctx } from '../lifecycle/index.js';
import { cut } from '../sanitize.js';

export const sourceAlertKey = (sourceId: string) => `scout:${sourceId}`;

export function planSourceFailing(
  ctx: Ctx,
  sourceId: string,
  failures: number,
  error: string,
): Plan<Alert | null> {
  const existing = alertByKey(ctx.view, sourceAlertKey(sourceId));
  if (existing && existing.status !== 'resolved') return { change: null, result: null };
  const at = ctx.now.toISOString();
  const fields = {
    kind: 'source-failing' as const,
    severity: 'warning' as const,
    key: sourceAlertKey(sourceId),
    subject: sourceId,
    message: cut(`scout source ${sourceId} failed ${failures} runs in a row: ${error}`, 2000),
    evidence: { source: sourceId, failures, error: cut(error, 500) },
    action: 'none: the scout keeps trying at its interval',
    status: 'open' as const,
    updatedAt: at,
  };
  return planRaise(ctx, existing, fields, 'scout-failing');
}

export function planSourceRecovered(ctx: Ctx, sourceId: string): Plan<Alert | null> {
  const existing = alertByKey(ctx.view, sourceAlertKey(sourceId));
  if (!existing || existing.status === 'resolved') return { change: null, result: null };
  const alert: Alert = {
    ...existing,
    status: 'resolved',
    updatedAt: ctx.now.toISOString(),
    evidence: { ...existing.evidence, resolution: 'the source works again' },
  };
  return { change: { op: 'alert-resolve', by: ctx.by, alerts: [alert] }, result: alert };
}
