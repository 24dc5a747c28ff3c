/**
 * Journal entries retention deleted before a subscription's deliveries were made of them raise one
 * alert per subscription (kind `webhook-lost`, key `webhook-lost:<subscription>`): raised at the
 * first loss, bumped (its count up, the range of entries widened, open again) by each further loss
 * until the operator resolves it; a loss after that opens it again with its own range.
 */
import type { Plan } from '../../state/backend.js';
import type { Alert } from '../../state/schemas.js';
import { alertByKey, planRaise } from '../drift/plans.js';
import type { Ctx } from '../lifecycle/index.js';
import { cut } from '../sanitize.js';

const lostAlertKey = (subscription: string) => `webhook-lost:${subscription}`;

/** The host (and port) of a receiver's URL: never its path or query, which may carry a token. */
function hostOf(url: string): string {
  return URL.canParse(url) ? new URL(url).host : 'an unreadable address';
}

interface Loss {
  subscription: string;
  url: string;
  /** The first and last journal entries lost. */
  from: number;
  to: number;
}

export function planWebhookLost(ctx: Ctx, loss: Loss): Plan<Alert> {
  const key = lostAlertKey(loss.subscription);
  const existing = alertByKey(ctx.view, key);
  const current = existing && existing.status !== 'resolved' ? existing : undefined;
  const was = current?.evidence as { from?: unknown; to?: unknown } | undefined;
  const from = typeof was?.from === 'number' ? Math.min(was.from, loss.from) : loss.from;
  const to = typeof was?.to === 'number' ? Math.max(was.to, loss.to) : loss.to;
  const host = hostOf(loss.url);
  const at = ctx.now.toISOString();
  const fields = {
    kind: 'webhook-lost' as const,
    severity: 'warning' as const,
    key,
    subject: loss.subscription,
    message: cut(
      `webhook ${loss.subscription} (${host}) missed journal entries ${from}–${to}: retention deleted them before they were delivered, so whichever of them it wanted were not sent`,
      2000,
    ),
    evidence: { subscription: loss.subscription, host, from, to },
    action: 'none: later events are delivered as usual',
    status: 'open' as const,
    updatedAt: at,
  };
  return planRaise(ctx, existing, fields, 'webhook-lost');
}
