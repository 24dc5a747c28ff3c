/**
 * What a long-running process of a workspace runs beside its own work (`run`, `serve`, the console):
 * the webhook deliveries, of which one process of the folder makes at a time (docs/webhooks.md),
 * and the plugins with their notifiers (docs/plugins.md). A process that serves feeds the plugins
 * from the event hub it serves; another starts a hub for them when it has any. Either way, a
 * webhook configured while only `dreamos run` runs is still delivered.
 */
import type { DriverKind } from '../agents/drivers/registry.js';
import type { EventHub } from './api/event-hub.js';
import type { HostedSource } from './plugins/host.js';
import type { RunningPlugins } from './plugins/index.js';
import { oneLine } from './sanitize.js';
import type { DeliveryRecord, WebhookDispatcher } from './webhooks/index.js';
import type { Workspace } from './workspace.js';

/** How often a process without webhooks looks whether one was added. */
const SUBSCRIPTIONS_LOOK_MS = 5000;

/** How long webhooks and notifiers under way may take to finish when a process stops. */
export const COMPANIONS_GRACE_MS = 5000;

export interface CompanionOptions {
  /** The event hub of a process that serves; without one, plugins get a hub of their own. */
  hub?: EventHub;
  /** Each webhook delivery attempt, by the metrics' name of its outcome (src/api/metrics.ts). */
  onWebhookOutcome?: (outcome: string) => void;
  /** Where the companions tell what went wrong (they go on). */
  log: (line: string) => void;
}

export interface Companions {
  /** The loaded plugins' sources, for the scout of the process's orchestrator. */
  sources: HostedSource[];
  /** The loaded plugins' driver kinds, for the driver registry of the process's orchestrator. */
  drivers: DriverKind[];
  /** Let what is under way finish, for at most `graceMs`, then stop. */
  close(graceMs: number): Promise<void>;
}

/**
 * The metrics' outcome of a delivery attempt: a retry after a 429 or 503 is the receiver asking to
 * wait, a 410 is the receiver going away, a failure with no retry left is given up.
 */
export function metricOf(record: Pick<DeliveryRecord, 'outcome' | 'status'>): string {
  switch (record.outcome) {
    case 'delivered':
      return 'delivered';
    case 'retrying':
      return record.status === 429 || record.status === 503 ? 'rate_limited' : 'failed';
    case 'disabled':
      return 'gone';
    case 'failed':
      return 'abandoned';
    case 'lost':
      return 'other'; // not an attempt: the dispatcher never reports it as one
  }
}

export async function startCompanions(ws: Workspace, options: CompanionOptions): Promise<Companions> {
  const { log } = options;
  const [
    { listWebhooks, startWebhooks, webhookOptionsFromEnv },
    { startPlugins, startPluginsOnJournal, wantsPlugins },
  ] = await Promise.all([import('./webhooks/index.js'), import('./plugins/index.js')]);
  const logError = (error: unknown) =>
    log(`dreamos: webhooks: ${oneLine((error as Error).message ?? String(error), 300)}`);
  // The dispatcher starts once the workspace has a subscription: until then it would only follow
  // the journal and renew a role for nothing. A subscription added later is seen within a look.
  let webhooks: WebhookDispatcher | null = null;
  let closed = false;
  const startIfSubscribed = async () => {
    if (webhooks || closed || !hasSubscriptions(ws, listWebhooks)) return;
    webhooks = await startWebhooks(ws, {
      ...webhookOptionsFromEnv(),
      ...(options.onWebhookOutcome
        ? { onOutcome: (_, record) => options.onWebhookOutcome!(metricOf(record)) }
        : {}),
      onError: logError,
    });
  };
  await startIfSubscribed();
  const looking = setInterval(() => void startIfSubscribed().catch(logError), SUBSCRIPTIONS_LOOK_MS);
  looking.unref();
  let plugins: RunningPlugins | null = null;
  try {
    plugins = options.hub
      ? wantsPlugins(ws)
        ? await startPlugins(ws, options.hub, { log })
        : null
      : await startPluginsOnJournal(ws, { log });
  } catch (error) {
    clearInterval(looking);
    await (webhooks as WebhookDispatcher | null)?.close();
    throw error;
  }
  return {
    sources: plugins?.host.sources() ?? [],
    drivers: plugins?.host.driverKinds() ?? [],
    async close(graceMs) {
      if (plugins) {
        await within(plugins.idle(), graceMs);
        plugins.stop();
      }
      closed = true;
      clearInterval(looking);
      // A state backend that does not answer (its renewal of the delivering role under way) must not
      // hold the process past its grace: what was not delivered is in the outbox for the next one.
      if (webhooks && !(await within(webhooks.close(), graceMs)))
        log('dreamos: webhooks did not stop in time; what they had not delivered waits in their outbox');
    },
  };
}

/** Whether the workspace has a webhook; a damaged file counts as one, for the dispatcher to report. */
function hasSubscriptions(ws: Workspace, list: (paths: Workspace['paths']) => readonly unknown[]): boolean {
  try {
    return list(ws.paths).length > 0;
  } catch {
    return true;
  }
}

/** Whether `work` settled within `ms` (it is left to go on, or not, when it did not). */
async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([work.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}
