/**
 * The loaded plugins at run time (docs/plugins.md): every call into a plugin goes through one
 * guard with a timeout, so a plugin that throws or hangs is switched off, told once (the alert and
 * a log line), and never takes the process down. What counts as failing depends on the call:
 *
 * - `onEvent`: throwing or running past the timeout switches the plugin off.
 * - a notifier's `notify`: throwing is a failed delivery, which the notifier runner tries again
 *   (docs/decisions/notifiers.md); running past the timeout switches the plugin off.
 * - a source's `fetch`: throwing is a failed run, told to its caller; running past the timeout,
 *   or returning what is not a list of items, switches the plugin off.
 *
 * - a driver's `run`: throwing, returning what is not a result, or not ending within the timeout
 *   once asked to stop, switches the plugin off and fails the attempt (drivers.ts).
 *
 * A switched-off plugin is called no more until the process restarts. Errors a plugin throws from
 * its own timers, outside any call, are beyond this guard (docs/plugins.md#what-a-plugin-can-break).
 */
import type { DriverKind } from '../../agents/drivers/registry.js';
import type { DreamEvent } from '../events.js';
import type { EventSource, Notifier, NotifyContext } from '../notify/types.js';
import { oneLine } from '../sanitize.js';
import { hostedDriverKind } from './drivers.js';
import { DEFAULT_PLUGIN_TIMEOUT_MS, type LoadedPlugin, type PluginReport } from './load.js';
import { firstIssue, type PluginCallContext, type SourceItem, SourceItems } from './types.js';

export interface PluginHostOptions {
  /** How long one call may take (default 10 s). */
  timeoutMs?: number;
  /** Events waiting for one plugin's `onEvent`; past it the oldest are dropped (default 10,000). */
  queueLimit?: number;
  log?: (line: string) => void;
  /** Called once when a plugin is switched off, with the reason (the caller raises the alert). */
  onSwitchedOff?: (report: PluginReport, reason: string) => void;
}

/** A plugin's source as the scout calls it: through the guard. */
export interface HostedSource {
  plugin: string;
  id: string;
  description?: string;
  intervalSeconds?: number;
  fetch(): Promise<SourceItem[]>;
}

class Hung extends Error {}

const messageOf = (error: unknown) => oneLine(error instanceof Error ? error.message : String(error), 300);

/** One loaded plugin's run-time state: its events waiting, and whether one is being handled. */
class Hosted {
  queue: DreamEvent[] = [];
  draining = false;
  constructor(readonly loaded: LoadedPlugin) {}
  get on(): boolean {
    return this.loaded.report.state === 'on';
  }
  get name(): string {
    return this.loaded.plugin.name;
  }
}

export class PluginHost {
  private readonly hosted: Hosted[];
  private readonly timeoutMs: number;
  private readonly queueLimit: number;
  private readonly log: (line: string) => void;
  private idleWaiters: (() => void)[] = [];

  constructor(
    readonly reports: readonly PluginReport[],
    loaded: readonly LoadedPlugin[],
    private readonly options: PluginHostOptions = {},
  ) {
    this.hosted = loaded.map((l) => new Hosted(l));
    this.timeoutMs = options.timeoutMs ?? DEFAULT_PLUGIN_TIMEOUT_MS;
    this.queueLimit = options.queueLimit ?? 10_000;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  private switchOff(h: Hosted, reason: string): void {
    if (!h.on) return;
    h.loaded.report.state = 'off';
    h.loaded.report.reason = reason;
    h.queue = [];
    this.log(`dreamos: plugin ${h.name} switched off: ${reason}`);
    this.options.onSwitchedOff?.(h.loaded.report, reason);
  }

  /** Run one call into a plugin with the timeout; a hang switches the plugin off and throws `Hung`. */
  private async guard<T>(h: Hosted, what: string, call: (context: PluginCallContext) => T | Promise<T>) {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const reason = `${what} ran past its ${this.timeoutMs} ms timeout`;
        controller.abort(new Error(reason));
        this.switchOff(h, reason);
        reject(new Hung(reason));
      }, this.timeoutMs);
    });
    try {
      return await Promise.race([Promise.resolve().then(() => call({ signal: controller.signal })), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  // ------------------------------------------------------------ events

  /** Hand an event to every plugin with `onEvent`: in order, one call at a time per plugin. */
  onEvent(event: DreamEvent): void {
    for (const h of this.hosted) {
      if (!h.on || typeof h.loaded.plugin.onEvent !== 'function') continue;
      h.queue.push(event);
      const over = h.queue.length - this.queueLimit;
      if (over > 0) {
        h.queue.splice(0, over);
        this.log(`dreamos: plugin ${h.name} missed ${over} event(s): its onEvent is slower than they come`);
      }
      if (!h.draining) void this.drain(h);
    }
  }

  private async drain(h: Hosted): Promise<void> {
    h.draining = true;
    while (h.on && h.queue.length > 0) {
      const event = h.queue.shift()!;
      try {
        await this.guard(h, 'onEvent', (context) => h.loaded.plugin.onEvent!(event, context));
      } catch (error) {
        if (!(error instanceof Hung)) this.switchOff(h, `onEvent threw: ${messageOf(error)}`);
      }
    }
    h.draining = false;
    if (this.hosted.every((x) => !x.draining)) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Settles once no plugin has an event waiting or being handled. */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      if (this.hosted.every((x) => !x.draining)) resolve();
      else this.idleWaiters.push(resolve);
    });
  }

  /** Feed every plugin's `onEvent` from `events`; returns the unsubscribe. */
  attach(events: EventSource): () => void {
    return events.subscribe((event) => this.onEvent(event));
  }

  // ------------------------------------------------------------ notifiers

  /** The plugins' notifiers, each call guarded; a switched-off plugin's notifier delivers nothing. */
  notifiers(): Notifier[] {
    return this.hosted.flatMap((h) =>
      (h.loaded.plugin.notifiers ?? []).map(
        (n): Notifier => ({
          name: `${h.name}/${n.name}`,
          ...(n.events ? { events: n.events } : {}),
          notify: async (batch: DreamEvent[], context: NotifyContext) => {
            if (!h.on) return;
            await this.guard(h, `notifier ${n.name}`, (call) =>
              n.notify(batch, { ...context, signal: AbortSignal.any([context.signal, call.signal]) }),
            ).catch((error: unknown) => {
              // A hang has switched the plugin off: nothing to try again.
              if (!(error instanceof Hung)) throw error;
            });
          },
        }),
      ),
    );
  }

  // ------------------------------------------------------------ sources

  /** The plugins' sources, for the scout: each fetch guarded and its items checked. */
  sources(): HostedSource[] {
    return this.hosted.flatMap((h) =>
      (h.loaded.plugin.sources ?? []).map((s) => ({
        plugin: h.name,
        id: s.id,
        ...(s.description !== undefined ? { description: s.description } : {}),
        ...(s.intervalSeconds !== undefined ? { intervalSeconds: s.intervalSeconds } : {}),
        fetch: async () => {
          if (!h.on) throw new Error(`plugin ${h.name} is switched off: ${h.loaded.report.reason}`);
          const items = await this.guard(h, `source ${s.id}`, (context) => s.fetch(context));
          const parsed = SourceItems.safeParse(items);
          if (!parsed.success) {
            const reason = `source ${s.id} returned what is not a list of items: ${firstIssue(parsed.error)}`;
            this.switchOff(h, reason);
            throw new Error(reason);
          }
          return parsed.data;
        },
      })),
    );
  }

  // ------------------------------------------------------------ drivers

  /** The plugins' driver kinds, for the driver registry: each run guarded (drivers.ts). */
  driverKinds(): DriverKind[] {
    return this.hosted.flatMap((h) =>
      (h.loaded.plugin.drivers ?? []).map((d) =>
        hostedDriverKind(d, {
          plugin: h.name,
          on: () => h.on,
          why: () => h.loaded.report.reason,
          switchOff: (reason) => this.switchOff(h, reason),
          timeoutMs: this.timeoutMs,
        }),
      ),
    );
  }
}
