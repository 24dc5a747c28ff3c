/**
 * What the operator does with webhooks (the CLI's `webhook …`, and the HTTP API after it): add,
 * list, enable, disable and remove subscriptions, send a test ping, send a logged delivery again,
 * and the health the attention inbox shows.
 */
import fs from 'node:fs';
import type { History } from '../../state/backend.js';
import type { WorkspacePaths } from '../../state/paths.js';
import type { JournalEntry } from '../../state/schemas.js';
import { DreamError, errnoCode, invalidInput, notFound } from '../errors.js';
import { eventFilter, eventOf } from '../events.js';
import { cut } from '../sanitize.js';
import {
  type AttemptResult,
  appendDelivery,
  attempt,
  type DeliveryRecord,
  eventBody,
  pingBody,
  readDeliveries,
} from './delivery.js';
import { newSecret } from './signing.js';
import { checkUrl, newSubscriptionId, WebhookStore, type WebhookSubscription } from './store.js';

/** What the manage functions need of a workspace (a `Workspace` is one). */
export interface WebhookAdmin {
  readonly paths: WorkspacePaths;
  readonly history: History;
}

export type WebhookState = 'enabled' | 'failing' | 'disabled';

/** A subscription as shown: no secret, no bodies, the outbox as a count. */
export interface WebhookSummary {
  id: string;
  url: string;
  events: string[];
  createdAt: string;
  state: WebhookState;
  disabled: WebhookSubscription['disabled'];
  failures: WebhookSubscription['failures'];
  deliveredAt: string | null;
  cursor: number;
  pending: number;
}

const stateOf = (sub: WebhookSubscription): WebhookState =>
  sub.disabled ? 'disabled' : sub.failures ? 'failing' : 'enabled';

export function summary(sub: WebhookSubscription): WebhookSummary {
  return {
    id: sub.id,
    url: sub.url,
    events: sub.events,
    createdAt: sub.createdAt,
    state: stateOf(sub),
    disabled: sub.disabled,
    failures: sub.failures,
    deliveredAt: sub.deliveredAt,
    cursor: sub.cursor,
    pending: sub.pending.length,
  };
}

/** Read a secret from a file the operator made (never echoed back, whatever is wrong with it). */
export function readSecretFile(path: string): string {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') throw notFound(`no secret file ${JSON.stringify(cut(path, 200))}`);
    throw invalidInput(`cannot read the secret file ${JSON.stringify(cut(path, 200))} (${errnoCode(error)})`);
  }
  return text.trim();
}

/**
 * Subscribe `url` to the events `events` names (all of them when empty), from the next journal
 * entry on. Returns the subscription, and its secret when it was made here (the one time it is shown).
 */
export async function addWebhook(
  ws: WebhookAdmin,
  input: { url: string; events: string[]; secret?: string },
): Promise<{ webhook: WebhookSummary; secret?: string }> {
  const url = checkUrl(input.url);
  const events = input.events.length ? [...new Set(input.events)] : ['*'];
  eventFilter(events);
  const store = new WebhookStore(ws.paths);
  const secret = input.secret ?? newSecret();
  const end = await ws.history.tail(1);
  const id = newSubscriptionId();
  store.writeSecret(id, secret);
  try {
    const sub: WebhookSubscription = {
      id,
      url,
      events,
      createdAt: new Date().toISOString(),
      disabled: null,
      cursor: end.entries.at(-1)?.seq ?? 0,
      failures: null,
      deliveredAt: null,
      pending: [],
    };
    await store.update(
      (file) => {
        file.subscriptions.push(sub);
      },
      { quarantine: true },
    );
    return { webhook: summary(sub), ...(input.secret === undefined ? { secret } : {}) };
  } catch (error) {
    store.removeSecret(id);
    throw error;
  }
}

export function listWebhooks(paths: WorkspacePaths): WebhookSummary[] {
  return new WebhookStore(paths).read().subscriptions.map(summary);
}

function change(
  paths: WorkspacePaths,
  id: string,
  edit: (sub: WebhookSubscription, file: { subscriptions: WebhookSubscription[] }) => void,
): Promise<WebhookSummary> {
  const store = new WebhookStore(paths);
  store.secretPath(id); // checks the id's form before anything is read
  return store.update(
    (file) => {
      const sub = file.subscriptions.find((s) => s.id === id);
      if (!sub) throw notFound(`no webhook ${JSON.stringify(cut(id, 40))} (see \`dreamos webhook list\`)`);
      edit(sub, file);
      return summary(sub);
    },
    { quarantine: true },
  );
}

export async function removeWebhook(paths: WorkspacePaths, id: string): Promise<WebhookSummary> {
  const removed = await change(paths, id, (sub, file) => {
    file.subscriptions.splice(file.subscriptions.indexOf(sub), 1);
  });
  new WebhookStore(paths).removeSecret(id);
  return removed;
}

export function disableWebhook(paths: WorkspacePaths, id: string, why?: string): Promise<WebhookSummary> {
  return change(paths, id, (sub) => {
    if (sub.disabled) throw new DreamError('E_CONFLICT', `${id} is already disabled (${sub.disabled.why})`);
    sub.disabled = {
      at: new Date().toISOString(),
      by: 'operator',
      why: cut(why ?? 'disabled by the operator', 200),
    };
  });
}

/**
 * Deliver again: the outbox is retried from a fresh schedule, and the events missed while disabled
 * are delivered, unless `fromNow`, which drops the outbox and starts at the next journal entry.
 */
export async function enableWebhook(
  ws: WebhookAdmin,
  id: string,
  options: { fromNow?: boolean } = {},
): Promise<WebhookSummary> {
  const end = options.fromNow ? ((await ws.history.tail(1)).entries.at(-1)?.seq ?? 0) : 0;
  return change(ws.paths, id, (sub) => {
    if (!sub.disabled) throw new DreamError('E_CONFLICT', `${id} is not disabled`);
    sub.disabled = null;
    sub.failures = null;
    const now = new Date().toISOString();
    if (options.fromNow) {
      sub.pending = [];
      sub.cursor = Math.max(sub.cursor, end);
    } else
      for (const pending of sub.pending) {
        pending.attempts = 0;
        pending.nextAt = now;
      }
  });
}

export interface SendReport {
  delivery: string;
  subscription: string;
  url: string;
  attempt: number;
  ok: boolean;
  status?: number;
  error?: string;
  durationMs: number;
}

/** Send one message now, from this process, and log it as the operator's. */
async function sendNow(
  store: WebhookStore,
  sub: WebhookSubscription,
  message: { id: string; seq: number; type: string; body: string; attempt: number },
): Promise<{ report: SendReport; result: AttemptResult }> {
  const result = await attempt({ url: sub.url, secret: store.readSecret(sub.id) }, message.id, message.body, {
    timeoutMs: 15_000,
  });
  const record: DeliveryRecord = {
    at: new Date().toISOString(),
    delivery: message.id,
    subscription: sub.id,
    seq: message.seq,
    type: message.type,
    attempt: message.attempt,
    outcome: result.ok ? 'delivered' : 'failed',
    ...(result.status !== undefined ? { status: result.status } : {}),
    ...(result.error !== undefined ? { error: result.error } : {}),
    durationMs: result.durationMs,
    manual: true,
  };
  appendDelivery(store, record);
  const report: SendReport = {
    delivery: message.id,
    subscription: sub.id,
    url: sub.url,
    attempt: message.attempt,
    ok: result.ok,
    ...(result.status !== undefined ? { status: result.status } : {}),
    ...(result.error !== undefined ? { error: result.error } : {}),
    durationMs: result.durationMs,
  };
  return { report, result };
}

/** Send a signed `webhook.test` ping to a subscription now (disabled or not) and say what came back. */
export async function testWebhook(paths: WorkspacePaths, id: string): Promise<SendReport> {
  const store = new WebhookStore(paths);
  store.secretPath(id);
  const sub = store.get(id);
  const at = new Date();
  const message = {
    id: `msg_${sub.id}_test_${at.getTime().toString(36)}`,
    seq: 0,
    type: 'webhook.test',
    body: pingBody(sub.id, at),
    attempt: 1,
  };
  return (await sendNow(store, sub, message)).report;
}

/** The logged attempts, oldest first, of one subscription or of all. */
export function deliveries(paths: WorkspacePaths, id?: string): DeliveryRecord[] {
  const store = new WebhookStore(paths);
  if (id !== undefined) store.get(id);
  return readDeliveries(store).filter((r) => id === undefined || r.subscription === id);
}

/**
 * Send a logged delivery again, now, with the same `webhook-id`: the body from the outbox while it
 * waits there, else made again from its journal entry. Delivered, it leaves the outbox.
 */
export async function redeliver(ws: WebhookAdmin, delivery: string): Promise<SendReport> {
  const store = new WebhookStore(ws.paths);
  const logged = readDeliveries(store).filter((r) => r.delivery === delivery);
  const sub0 = store.read().subscriptions.find((s) => s.pending.some((p) => p.id === delivery));
  const subId = logged.at(-1)?.subscription ?? sub0?.id;
  if (!subId)
    throw notFound(`no delivery ${JSON.stringify(cut(delivery, 80))} (see \`dreamos webhook deliveries\`)`);
  const sub = store.get(subId);
  const pending = sub.pending.find((p) => p.id === delivery);
  const seq = pending?.seq ?? logged.at(-1)!.seq;
  const type = pending?.type ?? logged.at(-1)!.type;
  let body = pending?.body;
  if (body === undefined && seq === 0) body = pingBody(sub.id, new Date());
  if (body === undefined) {
    let found: JournalEntry | undefined;
    await ws.history.forEach(
      (entry) => {
        if (entry.seq === seq) found = entry;
      },
      { heads: { decode: (head) => head.seq === seq, onHead() {} } },
    );
    if (!found)
      throw notFound(`journal entry ${seq} of ${delivery} is no longer kept: it cannot be sent again`);
    body = eventBody(eventOf(found));
  }
  const attempts = Math.max(pending?.attempts ?? 0, ...logged.map((r) => r.attempt));
  const { report, result } = await sendNow(store, sub, {
    id: delivery,
    seq,
    type,
    body,
    attempt: attempts + 1,
  });
  if (result.ok && pending)
    await store.update((file) => {
      const current = file.subscriptions.find((s) => s.id === sub.id);
      if (current) current.pending = current.pending.filter((p) => p.id !== delivery);
    });
  return report;
}

/** A subscription the operator should look at: failing now, or disabled by its receiver or its failures. */
export interface WebhookHealth {
  id: string;
  url: string;
  state: 'failing' | 'disabled';
  why: string;
  since: string;
  failures: number;
  pending: number;
  /** Who disabled it, when disabled. */
  by?: 'receiver' | 'failures';
}

/**
 * The webhooks that need the operator, for the attention inbox. A subscription the operator
 * disabled does not; a subscriptions file that cannot be read does (as one entry, `webhooks`).
 */
export function webhookHealth(paths: WorkspacePaths): WebhookHealth[] {
  let subs: WebhookSubscription[];
  try {
    subs = new WebhookStore(paths).read().subscriptions;
  } catch (error) {
    if (!(error instanceof DreamError) || error.code !== 'E_CORRUPT') throw error;
    return [
      {
        id: 'webhooks',
        url: '',
        state: 'disabled',
        why: error.message,
        since: new Date().toISOString(),
        failures: 0,
        pending: 0,
      },
    ];
  }
  const health: WebhookHealth[] = [];
  for (const sub of subs) {
    if (sub.disabled?.by === 'operator') continue;
    if (sub.disabled)
      health.push({
        id: sub.id,
        url: sub.url,
        state: 'disabled',
        why: sub.disabled.why,
        since: sub.disabled.at,
        failures: sub.failures?.count ?? 0,
        pending: sub.pending.length,
        by: sub.disabled.by,
      });
    else if (sub.failures)
      health.push({
        id: sub.id,
        url: sub.url,
        state: 'failing',
        why: `${sub.failures.count} failed attempt${sub.failures.count === 1 ? '' : 's'} in a row (last: ${sub.failures.last})`,
        since: sub.failures.since,
        failures: sub.failures.count,
        pending: sub.pending.length,
      });
  }
  return health;
}
