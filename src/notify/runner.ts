/**
 * The notifier runner (docs/notifiers.md): events from a source go to every notifier that wants
 * them, in batches, best effort (docs/decisions/notifiers.md). Each notifier has its own lane, so a
 * slow or failing one never holds up another; a lane is in one of four modes:
 *
 * - idle: nothing waits; the next event it wants starts a window.
 * - gathering: a window is open; every event it wants joins the batch until the window closes.
 * - sending: one call to `notify` is under way, with a timeout; events that come meanwhile wait for
 *   the next batch (one call at a time keeps a notifier's messages in order).
 * - waiting: the call failed; the same batch is tried again after a backoff (or the wait a
 *   `RetryLater` named). After the last attempt the batch is dropped with a logged reason.
 *
 * A burst therefore makes one call: fifty failures within the window are one batch.
 */
import type { DreamEvent } from '../events.js';
import { eventFilter } from '../events.js';
import { oneLine } from '../sanitize.js';
import type { EventSource, Notifier } from './types.js';
import { RetryLater } from './types.js';

export interface NotifierRunOptions {
  /** How long a batch gathers events after its first (default 2 s). */
  windowMs?: number;
  /** How long one call to `notify` may take (default 15 s). */
  timeoutMs?: number;
  /** Calls made for one batch before it is dropped (default 4). */
  attempts?: number;
  /** The wait after the first failed call, doubled after each (default 1 s). */
  backoffMs?: number;
  /** Waits a `RetryLater` may ask for, each at most `maxWaitMs` (default 10, of at most 5 min). */
  waits?: number;
  maxWaitMs?: number;
  /** Events buffered per notifier; past it the oldest are dropped, with a logged count (default 10,000). */
  queueLimit?: number;
  /** Where dropped batches are told (default: stderr). Never given a secret: notifiers redact theirs. */
  log?: (line: string) => void;
  /** How to wait (tests record the waits asked for instead of spending them). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface NotifierRun {
  /** Settles once every lane is idle, with nothing gathered or under way. */
  idle(): Promise<void>;
  /** Stop listening; calls under way are aborted and what was gathered is dropped. */
  stop(): void;
}

type Mode = 'idle' | 'gathering' | 'sending' | 'waiting';

const DEFAULTS = {
  windowMs: 2000,
  timeoutMs: 15_000,
  attempts: 4,
  backoffMs: 1000,
  waits: 10,
  maxWaitMs: 300_000,
  queueLimit: 10_000,
};

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

const describe = (error: unknown) => oneLine(error instanceof Error ? error.message : String(error), 300);

/** Call `notify` once, giving up (and aborting it) after `timeoutMs`. */
async function callWithTimeout(
  notifier: Notifier,
  batch: DreamEvent[],
  workspace: string,
  timeoutMs: number,
  stopping: AbortSignal,
): Promise<void> {
  const controller = new AbortController();
  const onStop = () => controller.abort(new Error('the runner stopped'));
  stopping.addEventListener('abort', onStop, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`no answer within ${timeoutMs} ms`);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    await Promise.race([
      Promise.resolve().then(() => notifier.notify(batch, { signal: controller.signal, workspace })),
      timedOut,
    ]);
  } finally {
    clearTimeout(timer);
    stopping.removeEventListener('abort', onStop);
  }
}

class Lane {
  mode: Mode = 'idle';
  private buffer: DreamEvent[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly notifier: Notifier,
    private readonly wants: (event: DreamEvent) => boolean,
    private readonly run: Runner,
  ) {}

  push(event: DreamEvent): void {
    if (!this.wants(event)) return;
    this.buffer.push(event);
    const over = this.buffer.length - this.run.options.queueLimit;
    if (over > 0) {
      this.buffer.splice(0, over);
      this.run.options.log(
        `dreamos: notifier ${this.notifier.name} dropped ${over} old event(s): more came than it could deliver`,
      );
    }
    if (this.mode === 'idle') this.gather();
  }

  private gather(): void {
    this.mode = 'gathering';
    this.timer = setTimeout(() => void this.send(), this.run.options.windowMs);
  }

  private async send(): Promise<void> {
    const batch = this.buffer;
    this.buffer = [];
    this.mode = 'sending';
    const { attempts, backoffMs, waits, maxWaitMs, timeoutMs } = this.run.options;
    let failures = 0;
    let waited = 0;
    let lastError: unknown;
    while (!this.run.stopped.aborted) {
      try {
        this.mode = 'sending';
        await callWithTimeout(this.notifier, batch, this.run.workspace, timeoutMs, this.run.stopped);
        lastError = undefined;
        break;
      } catch (error) {
        lastError = error;
        if (this.run.stopped.aborted) break;
        let wait: number;
        if (error instanceof RetryLater && waited < waits) {
          waited++;
          wait = Math.min(Math.max(error.afterMs, 0), maxWaitMs);
        } else {
          failures++;
          if (failures >= attempts) break;
          wait = backoffMs * 2 ** (failures - 1);
        }
        this.mode = 'waiting';
        await this.run.options.sleep(wait, this.run.stopped);
      }
    }
    if (lastError !== undefined && !this.run.stopped.aborted)
      this.run.options.log(
        `dreamos: notifier ${this.notifier.name} dropped ${batch.length} event(s) after ${failures + waited} failed tries: ${describe(lastError)}`,
      );
    this.mode = 'idle';
    if (this.run.stopped.aborted) this.buffer = [];
    else if (this.buffer.length > 0) this.gather();
    this.run.check();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.buffer = [];
  }
}

class Runner implements NotifierRun {
  readonly options: Required<NotifierRunOptions>;
  private readonly controller = new AbortController();
  private readonly lanes: Lane[];
  private readonly unsubscribe: () => void;
  private waiters: (() => void)[] = [];

  constructor(
    readonly workspace: string,
    events: EventSource,
    notifiers: readonly Notifier[],
    options: NotifierRunOptions,
  ) {
    this.options = {
      ...DEFAULTS,
      log: (line) => process.stderr.write(`${line}\n`),
      sleep,
      ...options,
    };
    // An unknown filter word is refused here, before anything listens.
    this.lanes = notifiers.map((n) => {
      const matches = eventFilter(n.events ?? []);
      return new Lane(n, (event) => matches(event.type), this);
    });
    this.unsubscribe = events.subscribe((event) => {
      if (this.stopped.aborted) return;
      for (const lane of this.lanes) lane.push(event);
    });
  }

  get stopped(): AbortSignal {
    return this.controller.signal;
  }

  check(): void {
    if (!this.lanes.every((lane) => lane.mode === 'idle')) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.check();
    });
  }

  stop(): void {
    if (this.stopped.aborted) return;
    this.unsubscribe();
    this.controller.abort();
    for (const lane of this.lanes) lane.stop();
    for (const lane of this.lanes) if (lane.mode === 'gathering') lane.mode = 'idle';
    this.check();
  }
}

/**
 * Start feeding `notifiers` from `events`. Each notifier's `events` words are checked first: an
 * unknown word is refused (invalid input) and nothing starts.
 */
export function startNotifiers(
  workspace: { config: { name: string } },
  events: EventSource,
  notifiers: readonly Notifier[],
  options: NotifierRunOptions = {},
): NotifierRun {
  return new Runner(workspace.config.name, events, notifiers, options);
}
