/**
 * One delivery attempt and what it leads to: the body of a message, the request (signed, with a
 * timeout, redirects not followed: a signed body goes only where the subscription says), the
 * answer read as an outcome, the retry schedule, and the append-only delivery log.
 */
import fs from 'node:fs';
import { realFolder } from '../../state/safe-files.js';
import type { DreamEvent } from '../events.js';
import { oneLine } from '../sanitize.js';
import { signedHeaders } from './signing.js';
import type { WebhookStore } from './store.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/**
 * The wait after each failed attempt: the first attempt is immediate, the last of these about three
 * days after the event. A delivery that fails once more after the last wait is given up.
 */
export const RETRY_SCHEDULE_MS: readonly number[] = [
  5 * SECOND,
  5 * MINUTE,
  30 * MINUTE,
  2 * HOUR,
  5 * HOUR,
  10 * HOUR,
  10 * HOUR,
  14 * HOUR,
  14 * HOUR,
  16 * HOUR,
];

/** The longest `Retry-After` taken at its word; a longer one is cut to this. */
const RETRY_AFTER_MAX_MS = 24 * HOUR;

/**
 * The body of the message an event makes, in the shape the Standard Webhooks specification
 * recommends: the event's type, when it happened, and the event itself as `data`.
 */
export function eventBody(event: DreamEvent): string {
  return JSON.stringify({ type: event.type, timestamp: event.at, data: event });
}

/** The ping `webhook test` sends: no journal entry behind it. */
export function pingBody(subscription: string, at: Date): string {
  return JSON.stringify({
    type: 'webhook.test',
    timestamp: at.toISOString(),
    data: { subscription, message: 'a test message from dreamos webhook test' },
  });
}

/** The `webhook-id` of an event's message to a subscription: the same for every attempt and after a restart. */
export const messageId = (subscription: string, seq: number) => `msg_${subscription}_${seq}`;

export interface AttemptResult {
  ok: boolean;
  /** The receiver's HTTP status, when it answered. */
  status?: number;
  /** Why no answer came (refused, timed out, …). */
  error?: string;
  durationMs: number;
  /** What the receiver asked in `Retry-After` with a 429 or 503. */
  retryAfterMs?: number;
}

function retryAfter(header: string | null, now: number): number | undefined {
  if (!header) return undefined;
  const text = header.trim();
  const ms = /^\d+$/.test(text) ? Number(text) * SECOND : Date.parse(text) - now;
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), RETRY_AFTER_MAX_MS) : undefined;
}

/** Send one signed message; never throws: a failure is in the result. */
export async function attempt(
  target: { url: string; secret: string },
  id: string,
  body: string,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<AttemptResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const timeout = AbortSignal.timeout(options.timeoutMs);
  try {
    const response = await fetch(target.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'dreamos-webhooks',
        ...signedHeaders(target.secret, id, body, new Date()),
      },
      body,
      redirect: 'manual',
      signal: options.signal ? AbortSignal.any([timeout, options.signal]) : timeout,
    });
    // The answer's body is of no use: drop it so that the connection is free again.
    await response.body?.cancel().catch(() => undefined);
    const status = response.status;
    const wait =
      status === 429 || status === 503
        ? retryAfter(response.headers.get('retry-after'), Date.now())
        : undefined;
    return {
      ok: status >= 200 && status < 300,
      status,
      durationMs: elapsed(),
      ...(wait !== undefined ? { retryAfterMs: wait } : {}),
    };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const why = timeout.aborted
      ? `no answer within ${options.timeoutMs} ms`
      : (cause?.code ?? cause?.message ?? (error as Error).message);
    return { ok: false, error: oneLine(String(why), 200), durationMs: elapsed() };
  }
}

/** An attempt's result in a few words, for the log and the attention inbox. */
export const describeResult = (result: AttemptResult) =>
  result.status !== undefined ? `HTTP ${result.status}` : (result.error ?? 'failed');

/**
 * When to try again after failed attempt number `attempts` (1 is the first), or null when the
 * schedule is used up. Jitter of ±20% spreads the retries of many deliveries; `Retry-After` is
 * honoured: never sooner than the receiver asked.
 */
export function nextAttemptDelay(
  attempts: number,
  schedule: readonly number[],
  scale: number,
  retryAfterMs?: number,
): number | null {
  const base = schedule[attempts - 1];
  if (base === undefined) return null;
  const jittered = base * scale * (0.8 + Math.random() * 0.4);
  return Math.round(Math.max(jittered, retryAfterMs ?? 0));
}

/**
 * What came of an attempt; `lost` is no attempt: entries that retention deleted from the history
 * before they were turned into deliveries (PostgreSQL), recorded so that the gap is seen.
 */
export type DeliveryOutcome = 'delivered' | 'retrying' | 'failed' | 'disabled' | 'lost';

/** One line of the delivery log: one attempt and what came of it. */
export interface DeliveryRecord {
  at: string;
  /** The delivery's id, which is its `webhook-id`. */
  delivery: string;
  subscription: string;
  /** The journal sequence number of the event; 0 for a test ping. */
  seq: number;
  type: string;
  attempt: number;
  outcome: DeliveryOutcome;
  status?: number;
  error?: string;
  durationMs: number;
  nextAttemptAt?: string;
  /** Sent by the operator (`webhook test`, `webhook redeliver`), not by the dispatcher. */
  manual?: boolean;
}

/** Add a line to the log, in one write (lines of concurrent writers never mix), made durable. */
export function appendDelivery(store: WebhookStore, record: DeliveryRecord): void {
  realFolder(store.paths.home, store.dir);
  const { O_WRONLY, O_CREAT, O_APPEND, O_NOFOLLOW } = fs.constants;
  const fd = fs.openSync(store.log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0o600);
  try {
    fs.writeSync(fd, `${JSON.stringify(record)}\n`);
    fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Every line of the log, oldest first; a line cut short by a crash is skipped. */
export function readDeliveries(store: WebhookStore): DeliveryRecord[] {
  let text: string;
  try {
    text = fs.readFileSync(store.log, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const records: DeliveryRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const record = JSON.parse(line) as DeliveryRecord;
      if (typeof record.delivery === 'string' && typeof record.subscription === 'string')
        records.push(record);
    } catch {
      // a torn last line: the attempt it was writing is attempted again
    }
  }
  return records;
}
