/**
 * The webhook dispatcher of a long-running process (`dreamos webhook run`, the HTTP server): turns
 * journal entries into messages for each subscription and delivers them, retrying for about three
 * days (docs/webhooks.md, docs/decisions/webhooks.md).
 *
 * Only one process delivers for a workspace folder: the one that leads its role (`webhooksRole`)
 * in the state backend, renewed every third of its term. Modes:
 *
 * - following: another process leads, or the last renewal failed or answered false. Nothing is
 *   read or sent; the role is asked for again at each renewal.
 * - leading: this process leads. It has read the history from the oldest cursor of the enabled
 *   subscriptions and follows it; each new entry a subscription wants becomes a pending delivery
 *   in its outbox, written in the same write that moves its cursor past the entry, so that a crash
 *   neither skips an event nor makes one twice (a delivery made again has the same `webhook-id`).
 *   Due deliveries are sent, a few at a time; each result is written before the next look.
 * - closed: stopped; the role is given up.
 *
 * A subscription whose cursor is behind what this process has read (added, enabled again, or
 * holding a full outbox) is caught up from the history itself.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { hostname } from 'node:os';
import type { History, HistoryMark, Plan } from '../../state/backend.js';
import type { WorkspacePaths } from '../../state/paths.js';
import { realFolder } from '../../state/safe-files.js';
import type { JournalEntry } from '../../state/schemas.js';
import { eventFilter, eventOf, typeOfOp } from '../events.js';
import { type Following, followHistory } from '../history-follow.js';
import type { Ctx } from '../lifecycle/index.js';
import {
  type AttemptResult,
  appendDelivery,
  attempt,
  type DeliveryOutcome,
  type DeliveryRecord,
  describeResult,
  eventBody,
  messageId,
  nextAttemptDelay,
  RETRY_SCHEDULE_MS,
} from './delivery.js';
import { planWebhookLost } from './lost.js';
import { type PendingDelivery, type Subscriptions, WebhookStore, type WebhookSubscription } from './store.js';

/**
 * The role whose holder delivers for this workspace folder. Subscriptions belong to the folder, and
 * a PostgreSQL board may be shared by folders on several machines, each with its own: the role is
 * named after the machine and the folder, so that each folder has its own deliverer.
 */
export function webhooksRole(paths: WorkspacePaths): string {
  let folder = paths.home;
  try {
    folder = fs.realpathSync(paths.home);
  } catch {
    // not there (yet): its name as given
  }
  return `webhooks-${createHash('sha256').update(`${hostname()}\n${folder}`).digest('hex').slice(0, 16)}`;
}

/** A subscription's outbox holds at most this many deliveries; past it, its cursor waits. */
export const OUTBOX_MAX = 10_000;

/** What the dispatcher needs of a workspace (a `Workspace` is one). */
export interface WebhookContext {
  readonly paths: WorkspacePaths;
  readonly history: History;
  readonly db: { lead(role: string, holder: string, ttlMs: number): Promise<boolean> };
  /** Run a plan in one journaled transaction (the alert of lost entries). */
  apply<T>(plan: (ctx: Ctx) => Plan<T>, by?: string): Promise<T>;
}

export interface WebhookOptions {
  /** The waits after each failed attempt (default RETRY_SCHEDULE_MS). */
  scheduleMs?: readonly number[];
  /**
   * Multiplies every period of the dispatcher (the retry waits, the lead's term, the fallback
   * look) but not a receiver's `Retry-After` or the request timeout: tests run the schedule in
   * milliseconds with it (DREAMOS_WEBHOOK_SCHEDULE_SCALE).
   */
  scale?: number;
  /** How long one attempt may take (ms, default 15 s). */
  timeoutMs?: number;
  /** Attempts in flight at once (default 8). */
  concurrency?: number;
  /** The term of the deliverer's role (ms, default 30 s, scaled). */
  leadTtlMs?: number;
  /** Each attempt's outcome (for metrics), with its log line. */
  onOutcome?: (outcome: DeliveryOutcome, record: DeliveryRecord) => void;
  /** This process started or stopped delivering for the workspace. */
  onLeading?: (leading: boolean) => void;
  /** A failure the dispatcher lived through (a renewal, a read, a write); it goes on. */
  onError?: (error: unknown) => void;
}

export type DispatcherMode = 'following' | 'leading' | 'closed';

export interface WebhookStatus {
  mode: DispatcherMode;
  subscriptions: number;
  enabled: number;
  pending: number;
  inFlight: number;
  /** The last journal sequence number read. */
  seen: number;
}

export interface WebhookDispatcher {
  status(): WebhookStatus;
  /** Stop: attempts in flight are abandoned (sent again later, with the same id), the role given up. */
  close(): Promise<void>;
}

/** The options a command takes from the environment: DREAMOS_WEBHOOK_SCHEDULE_SCALE. */
export function webhookOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): Pick<WebhookOptions, 'scale'> {
  const scale = Number(env.DREAMOS_WEBHOOK_SCHEDULE_SCALE);
  return env.DREAMOS_WEBHOOK_SCHEDULE_SCALE && Number.isFinite(scale) && scale > 0 ? { scale } : {};
}

const BASE_LOOK_MS = 5_000;
/** Cursors of subscriptions that wanted none of the new entries are written at most this often. */
const CURSOR_WRITE_MS = 10_000;

export async function startWebhooks(
  ws: WebhookContext,
  options: WebhookOptions = {},
): Promise<WebhookDispatcher> {
  const store = new WebhookStore(ws.paths);
  const scale = options.scale ?? 1;
  const schedule = options.scheduleMs ?? RETRY_SCHEDULE_MS;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const concurrency = options.concurrency ?? 8;
  const ttlMs = Math.max(Math.round((options.leadTtlMs ?? 30_000) * scale), 200);
  const lookMs = Math.max(Math.round(BASE_LOOK_MS * scale), 50);
  const holder = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const role = webhooksRole(ws.paths);
  const report = (error: unknown) => options.onError?.(error);

  let mode: DispatcherMode = 'following';
  /** The end of the term while leading, on performance.now()'s clock. */
  let until = 0;
  let following: Following | null = null;
  let seen = 0;
  const queue: JournalEntry[] = [];
  /** How far each subscription has been looked at in memory: its cursor, or past it when nothing was wanted. */
  const looked = new Map<string, number>();
  let cursorsWrittenAt = 0;
  const inFlight = new Map<string, AbortController>();
  /** Deliveries whose last result could not be recorded, held back until then (epoch ms). */
  const held = new Map<string, number>();
  let last: Subscriptions = { version: 1, subscriptions: [] };
  /** Alerts of lost entries being written: close waits for them. */
  const alerting = new Set<Promise<void>>();

  const leads = () => mode === 'leading' && performance.now() < until;
  const cursorOf = (sub: WebhookSubscription) => Math.max(sub.cursor, looked.get(sub.id) ?? 0);
  const wants = (sub: WebhookSubscription) => {
    try {
      return eventFilter(sub.events);
    } catch {
      return () => false; // a filter word no longer known (written by a newer version): nothing matches
    }
  };

  // ------------------------------------------------------------ turning entries into deliveries

  /** Add the wanted entries after each subscription's cursor to its outbox and move the cursor, in one write. */
  const enqueue = async (
    entries: readonly JournalEntry[],
    upTo: number,
    only: ReadonlySet<string> | null,
  ): Promise<void> => {
    const applies = (sub: WebhookSubscription) =>
      !sub.disabled && (only ? only.has(sub.id) : cursorOf(sub) >= seen);
    const current = store.read();
    const anyWanted = current.subscriptions.some(
      (sub) => applies(sub) && entries.some((e) => e.seq > cursorOf(sub) && wants(sub)(typeOfOp(e.op))),
    );
    if (!anyWanted && Date.now() - cursorsWrittenAt < CURSOR_WRITE_MS) {
      for (const sub of current.subscriptions)
        if (applies(sub)) looked.set(sub.id, Math.max(cursorOf(sub), upTo));
      return;
    }
    const now = new Date().toISOString();
    last = await store.update((file) => {
      for (const sub of file.subscriptions) {
        if (!applies(sub)) continue;
        const filter = wants(sub);
        let cursor = cursorOf(sub);
        let full = false;
        for (const entry of entries) {
          if (entry.seq <= cursor) continue;
          if (filter(typeOfOp(entry.op))) {
            if (sub.pending.length >= OUTBOX_MAX) {
              full = true;
              break;
            }
            const event = eventOf(entry);
            sub.pending.push({
              id: messageId(sub.id, entry.seq),
              seq: entry.seq,
              type: event.type,
              body: eventBody(event),
              attempts: 0,
              nextAt: now,
              createdAt: now,
            });
          }
          cursor = entry.seq;
        }
        if (!full) cursor = Math.max(cursor, upTo);
        sub.cursor = cursor;
        looked.set(sub.id, cursor);
      }
      return file;
    });
    cursorsWrittenAt = Date.now();
  };

  /**
   * Entries `from`..`to` are gone from the history (retention deleted them before they were read):
   * each subscription that had not got past them says so in the delivery log, once per run, and
   * raises (or bumps) its `webhook-lost` alert (src/webhooks/lost.ts). Delivering does not wait for
   * the alert's write (close does); one that fails is reported, and the log line stays.
   */
  const recordLost = (subs: readonly WebhookSubscription[], from: number, to: number) => {
    const at = new Date().toISOString();
    for (const sub of subs) {
      const first = Math.max(from, cursorOf(sub) + 1);
      if (sub.disabled || first > to) continue;
      appendDelivery(store, {
        at,
        delivery: `lost_${sub.id}_${first}_${to}`,
        subscription: sub.id,
        seq: to,
        type: 'events-lost',
        attempt: 0,
        outcome: 'lost',
        error: `journal entries ${first}–${to} were deleted by retention before they were delivered; whichever of them this subscription wanted were not sent`,
        durationMs: 0,
      });
      const loss = { subscription: sub.id, url: sub.url, from: first, to };
      const raise = async () => ws.apply((ctx) => planWebhookLost(ctx, loss), 'webhooks');
      const raising = raise().then(() => undefined, report);
      alerting.add(raising);
      void raising.finally(() => alerting.delete(raising));
    }
  };

  /** Read the history again for subscriptions behind what this process has read. */
  const catchUp = async (behind: WebhookSubscription[]) => {
    const from = Math.min(...behind.map(cursorOf));
    const filters = behind.map(wants);
    const entries: JournalEntry[] = [];
    let upTo = from;
    /** The first entry after `from` the history still holds: one past it means retention went past. */
    let first = Number.POSITIVE_INFINITY;
    const mark = await ws.history.forEach(
      (entry) => {
        upTo = Math.max(upTo, entry.seq);
        if (entry.seq > from) first = Math.min(first, entry.seq);
        if (entries.length < OUTBOX_MAX * behind.length) entries.push(entry);
      },
      {
        heads: {
          decode: (head) => head.seq > from && filters.some((f) => f(typeOfOp(head.op))),
          onHead: (head) => {
            upTo = Math.max(upTo, head.seq);
            if (head.seq > from) first = Math.min(first, head.seq);
          },
        },
      },
    );
    if (Number.isFinite(first) && first > from + 1) recordLost(behind, from + 1, first - 1);
    // Entries left out above the cap are read again at the next catch-up: the cursor stops before them.
    const complete = entries.length < OUTBOX_MAX * behind.length;
    await enqueue(entries, complete ? upTo : (entries.at(-1)?.seq ?? from), new Set(behind.map((s) => s.id)));
    seen = Math.max(seen, upTo);
    return mark;
  };

  // ------------------------------------------------------------ sending

  const record = async (sub: WebhookSubscription, pending: PendingDelivery, result: AttemptResult) => {
    const now = new Date();
    const attempts = pending.attempts + 1;
    let outcome: DeliveryOutcome = 'retrying';
    let nextAttemptAt: string | undefined;
    last = await store.update((file) => {
      const current = file.subscriptions.find((s) => s.id === sub.id);
      const index = current?.pending.findIndex((p) => p.id === pending.id) ?? -1;
      if (!current || index < 0) {
        // Removed meanwhile (the subscription or its outbox): only the log tells of this attempt.
        outcome = result.ok ? 'delivered' : 'failed';
        return file;
      }
      const item = current.pending[index]!;
      if (result.ok) {
        outcome = 'delivered';
        current.pending.splice(index, 1);
        current.failures = null;
        current.deliveredAt = now.toISOString();
        return file;
      }
      const what = describeResult(result);
      current.failures = {
        count: (current.failures?.count ?? 0) + 1,
        since: current.failures?.since ?? now.toISOString(),
        last: what,
      };
      item.attempts = attempts;
      if (result.status === 410) {
        outcome = 'disabled';
        item.nextAt = now.toISOString();
        if (!current.disabled)
          current.disabled = { at: now.toISOString(), by: 'receiver', why: 'the receiver answered 410 Gone' };
        return file;
      }
      const delay = nextAttemptDelay(attempts, schedule, scale, result.retryAfterMs);
      if (delay === null) {
        outcome = 'failed';
        current.pending.splice(index, 1);
        if (!current.disabled)
          current.disabled = {
            at: now.toISOString(),
            by: 'failures',
            why: `a delivery failed ${attempts} times since ${item.createdAt} (last: ${what})`,
          };
        return file;
      }
      nextAttemptAt = new Date(now.getTime() + delay).toISOString();
      item.nextAt = nextAttemptAt;
      return file;
    });
    const line: DeliveryRecord = {
      at: now.toISOString(),
      delivery: pending.id,
      subscription: sub.id,
      seq: pending.seq,
      type: pending.type,
      attempt: attempts,
      outcome,
      ...(result.status !== undefined ? { status: result.status } : {}),
      ...(result.error !== undefined ? { error: result.error } : {}),
      durationMs: result.durationMs,
      ...(nextAttemptAt ? { nextAttemptAt } : {}),
    };
    appendDelivery(store, line);
    options.onOutcome?.(outcome, line);
  };

  /** One attempt; a secret that cannot be read is a failed attempt, so the schedule says when to look again. */
  const tryOnce = async (sub: WebhookSubscription, pending: PendingDelivery, signal: AbortSignal) => {
    let secret: string;
    try {
      secret = store.readSecret(sub.id);
    } catch (error) {
      return { ok: false, error: (error as Error).message, durationMs: 0 } satisfies AttemptResult;
    }
    return attempt({ url: sub.url, secret }, pending.id, pending.body, { timeoutMs, signal });
  };

  const send = (sub: WebhookSubscription, pending: PendingDelivery) => {
    const abort = new AbortController();
    inFlight.set(pending.id, abort);
    void (async () => {
      try {
        const result = await tryOnce(sub, pending, abort.signal);
        // Abandoned (closed, or the role lost): whoever delivers next sends it again.
        if (abort.signal.aborted) return;
        await record(sub, pending, result);
        held.delete(pending.id);
      } catch (error) {
        // Not recorded (the subscriptions could not be written): not sent again before the next look.
        held.set(pending.id, Date.now() + lookMs);
        report(error);
      } finally {
        inFlight.delete(pending.id);
        wake();
      }
    })();
  };

  // ------------------------------------------------------------ the loop

  let timer: NodeJS.Timeout | null = null;
  let pumping = false;
  let again = false;

  const pump = async () => {
    if (!leads()) return;
    const entries = queue.splice(0);
    if (entries.length) {
      const upTo = entries.at(-1)!.seq;
      await enqueue(entries, upTo, null);
      seen = Math.max(seen, upTo);
    }
    last = store.read();
    const behind = last.subscriptions.filter(
      (s) => !s.disabled && cursorOf(s) < seen && s.pending.length < OUTBOX_MAX / 2,
    );
    if (behind.length) {
      await catchUp(behind);
      last = store.read();
    }
    if (!leads()) return;
    const now = Date.now();
    let soonest = now + lookMs;
    for (const sub of last.subscriptions) {
      if (sub.disabled) continue;
      for (const pending of sub.pending) {
        if (inFlight.has(pending.id)) continue;
        const at = Math.max(Date.parse(pending.nextAt), held.get(pending.id) ?? 0);
        if (at > now) soonest = Math.min(soonest, at);
        else if (inFlight.size < concurrency) send(sub, pending);
      }
    }
    if (timer) clearTimeout(timer);
    timer = setTimeout(wake, Math.max(soonest - Date.now(), 10));
  };

  function wake(): void {
    if (mode !== 'leading') return;
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    void (async () => {
      do {
        again = false;
        try {
          await pump();
        } catch (error) {
          report(error);
        }
      } while (again && mode === 'leading');
      pumping = false;
    })();
  }

  // ------------------------------------------------------------ leading

  const startLeading = async () => {
    mode = 'leading';
    options.onLeading?.(true);
    seen = 0;
    looked.clear();
    last = store.read();
    const enabled = last.subscriptions.filter((s) => !s.disabled);
    let mark: HistoryMark;
    if (enabled.length > 0) mark = await catchUp(enabled);
    else {
      // Nothing to deliver yet: the end of the history is where a subscription enabled later is behind.
      const end = await ws.history.tail(1);
      mark = end.mark;
      seen = end.entries.at(-1)?.seq ?? 0;
    }
    following = followHistory(
      ws.history,
      mark,
      (entry) => {
        queue.push(entry);
        wake();
      },
      undefined,
      (lost) => recordLost(store.read().subscriptions, lost.from, lost.to),
    );
    following.done.catch((error: unknown) => {
      report(error);
      void stopLeading();
    });
    wake();
  };

  const stopLeading = async () => {
    if (mode !== 'leading') return;
    mode = 'following';
    until = 0;
    following?.close();
    following = null;
    for (const abort of inFlight.values()) abort.abort();
    queue.length = 0;
    if (timer) clearTimeout(timer);
    options.onLeading?.(false);
  };

  const renew = async () => {
    if (mode === 'closed') return;
    const asked = performance.now();
    try {
      const won = await ws.db.lead(role, holder, ttlMs);
      if (!won) return await stopLeading();
      until = asked + ttlMs;
      if (mode === 'following') await startLeading();
      else wake();
    } catch (error) {
      report(error);
      await stopLeading();
    }
  };

  // Wake on changes to the subscriptions (an add, an enable) as well as on the fallback look.
  realFolder(ws.paths.home, ws.paths.webhooksDir);
  let watcher: fs.FSWatcher | null = null;
  try {
    watcher = fs.watch(ws.paths.webhooksDir, { persistent: false }, () => wake());
    watcher.on('error', () => undefined);
  } catch {
    watcher = null; // the fallback look still sees changes
  }

  let renewing = Promise.resolve();
  const renewal = setInterval(
    () => {
      renewing = renewing.then(renew);
    },
    Math.max(Math.floor(ttlMs / 3), 50),
  );
  renewing = renewing.then(renew);
  await renewing;

  return {
    status: () => ({
      mode,
      subscriptions: last.subscriptions.length,
      enabled: last.subscriptions.filter((s) => !s.disabled).length,
      pending: last.subscriptions.reduce((n, s) => n + s.pending.length, 0),
      inFlight: inFlight.size,
      seen,
    }),
    close: async () => {
      if (mode === 'closed') return;
      clearInterval(renewal);
      await renewing;
      const held = mode === 'leading';
      await stopLeading();
      await Promise.all(alerting);
      mode = 'closed';
      watcher?.close();
      // Give the role up so that another process delivers from its next renewal.
      if (held) await ws.db.lead(role, holder, 0).catch(report);
    },
  };
}
