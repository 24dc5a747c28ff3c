/**
 * What a notifier is (docs/notifiers.md): something that tells the outside world about events, in
 * batches. The Discord notifier and every plugin's notifiers implement this one interface, and one
 * runner (./runner.ts) feeds them all.
 */
import type { DreamEvent } from '../events.js';

/** What a notifier gets with each batch. */
export interface NotifyContext {
  /** Aborted when the call runs past its timeout or the runner stops: stop waiting then. */
  signal: AbortSignal;
  /** The workspace's name (`name` in config.json), to say where the news comes from. */
  workspace: string;
}

export interface Notifier {
  /** Lower-case letters, digits, `.`, `_` and `-`: how logs and `plugin list` name it. */
  name: string;
  /**
   * Which events it wants, as filter words: a type (`task.failed`), a kind (`task`) or `*`.
   * Absent: every event.
   */
  events?: readonly string[];
  /**
   * Deliver one batch: the events that came within a short window, oldest first. Throwing says the
   * delivery failed, and the runner tries again after a while; throw `RetryLater` to say when.
   */
  notify(batch: DreamEvent[], context: NotifyContext): Promise<void> | void;
}

/** A failed delivery that names how long to wait before the next try (a rate limit's answer). */
export class RetryLater extends Error {
  constructor(
    message: string,
    readonly afterMs: number,
  ) {
    super(message);
    this.name = 'RetryLater';
  }
}

/** Where events come from: the event hub of the process (src/api/event-hub.ts). */
export interface EventSource {
  /** Call `onEvent` for every event from now on, in order; returns the unsubscribe. */
  subscribe(onEvent: (event: DreamEvent) => void): () => void;
}
