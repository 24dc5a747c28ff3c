/**
 * The reports `dreamos status` and `dreamos attention` print, computed in one place so that every
 * face (the CLI, the HTTP API) answers with the same data.
 */
import { type AttentionItem, attention } from './attention.js';
import type { BoardSummary } from './board-queries.js';
import { type NobodyTakes, untakeable } from './orchestrator/takers.js';
import { liveRunners, type Runner } from './runners.js';
import { webhookHealth } from './webhooks/manage.js';
import type { Workspace } from './workspace.js';

export interface StatusReport extends BoardSummary {
  runners: Runner[];
  unassignable: Array<NobodyTakes & { tasks: string[] }>;
  journalLock: ReturnType<Workspace['journalLockHolder']>;
}

/** The board's summary, who runs the agents, the work nobody can take and the journal lock's holder. */
export function statusReport(ws: Workspace): StatusReport {
  const summary = ws.summary();
  const queued = [...ws.view.inStore('ready'), ...ws.view.inStore('backlog')];
  return {
    ...summary,
    runners: liveRunners(ws.view, ws.config.policies, new Date()),
    unassignable: untakeable(queued, ws.config.agents, ws.view),
    journalLock: ws.journalLockHolder(),
  };
}

/** Everything that needs the operator now, ranked (src/attention.ts), as of a fresh look at the state. */
export function attentionNow(ws: Workspace): AttentionItem[] {
  ws.refresh();
  return attention(ws.view, {
    policies: ws.config.policies,
    now: new Date(),
    agents: ws.config.agents,
    journalLock: ws.journalLockHolder(),
    webhooks: webhookHealth(ws.paths),
  });
}
