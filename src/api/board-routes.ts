/**
 * `/api/v1/status`, `/alerts`, `/attention` and `/stats`: what `dreamos status`, `alert …`,
 * `attention` and `stats` show, with the same data as their `--json`.
 */
import * as z from 'zod';
import { ALERT_KINDS, ALERT_STATUSES } from '../../state/schemas.js';
import { parseSince } from '../commands/stats.js';
import { attentionNow, statusReport } from '../reports.js';
import { collectTelemetry } from '../telemetry.js';
import type { Workspace } from '../workspace.js';
import { type Route, route, WhyBody } from './routes.js';

const AlertQuery = z.strictObject({
  status: z.enum(ALERT_STATUSES).optional(),
  kind: z.enum(ALERT_KINDS).optional(),
});
const AlertParams = z.strictObject({ id: z.string().min(1).max(20) });
const StatsQuery = z.strictObject({
  /** A duration back from now (30m, 2h, 7d) or a date (2025-01-31, an ISO time). */
  since: z.string().min(1).max(40).optional(),
});

/** A report whose shape is documented with its command (docs/cli.md) rather than here. */
const Report = z.object({}).loose();

export function boardRoutes(ws: Workspace): Route[] {
  const alertChange = (name: 'ack' | 'resolve', to: 'acknowledged' | 'resolved', summary: string) =>
    route({
      method: 'post',
      path: `/api/v1/alerts/:id/${name}`,
      scope: 'tasks:write',
      tag: 'alerts',
      summary,
      params: AlertParams,
      body: WhyBody,
      answer: 'Alert',
      handle: ({ params, body }) => ws.setAlertStatus(params.id, to, body.why),
    });
  return [
    route({
      method: 'get',
      path: '/api/v1/status',
      scope: 'read',
      tag: 'board',
      summary: 'Board counts, working tasks, runners, work nobody can take, open alerts (dreamos status)',
      answer: Report,
      handle: () => statusReport(ws),
    }),
    route({
      method: 'get',
      path: '/api/v1/alerts',
      scope: 'read',
      tag: 'alerts',
      summary: 'Alerts, newest first (all of them unless status is given)',
      query: AlertQuery,
      answer: 'Alert[]',
      handle: ({ query }) =>
        ws
          .alerts(query.status)
          .filter((a) => query.kind === undefined || a.kind === query.kind)
          .sort((a, b) => (a.updatedAt < b.updatedAt ? 1 : a.updatedAt > b.updatedAt ? -1 : 0)),
    }),
    alertChange('ack', 'acknowledged', 'Acknowledge an alert: seen, being handled'),
    alertChange('resolve', 'resolved', 'Resolve an alert (it opens again if its condition happens anew)'),
    route({
      method: 'get',
      path: '/api/v1/attention',
      scope: 'read',
      tag: 'board',
      summary: 'Everything that needs the operator, ranked, each with its reason and action',
      answer: z.array(Report),
      handle: () => attentionNow(ws),
    }),
    route({
      method: 'get',
      path: '/api/v1/stats',
      scope: 'read',
      tag: 'board',
      summary: 'Throughput, success, durations, utilisation, tokens, cost and failures, from the journal',
      query: StatsQuery,
      answer: Report,
      handle: ({ query }) => {
        const until = new Date();
        const since = query.since !== undefined ? parseSince(query.since, until) : undefined;
        const roles = new Map(ws.config.agents.map((a) => [a.id, a.role]));
        return collectTelemetry(ws.history, { ...(since ? { since } : {}), until, roles });
      },
    }),
  ];
}
