/**
 * Plugins and notifiers started together, for a long-running process (docs/plugins.md): load the
 * plugins, record an alert for each one refused, make the built-in notifiers the config asks for,
 * and feed every notifier and every plugin's `onEvent` from one event source.
 */
import fs from 'node:fs';
import { join } from 'node:path';
import { EventHub } from '../api/event-hub.js';
import { DISCORD_URL_ENV, discordFromConfig } from '../notify/discord.js';
import { type NotifierRun, type NotifierRunOptions, startNotifiers } from '../notify/runner.js';
import type { EventSource, Notifier } from '../notify/types.js';
import { oneLine } from '../sanitize.js';
import type { Workspace } from '../workspace.js';
import { raisePluginAlert } from './alerts.js';
import { type HostedSource, PluginHost } from './host.js';
import { loadPlugins, PLUGIN_DIR } from './load.js';

export { type HostedSource, PluginHost } from './host.js';
export { loadPlugins, type PluginReport } from './load.js';

export interface StartPluginsOptions {
  /** How long one call into a plugin (and importing one) may take (default 10 s). */
  timeoutMs?: number;
  notify?: NotifierRunOptions;
  log?: (line: string) => void;
}

export interface RunningPlugins {
  host: PluginHost;
  notifiers: NotifierRun;
  /** Settles once no event waits for a plugin or a notifier. */
  idle(): Promise<void>;
  stop(): void;
}

export interface PluginsOnJournal extends RunningPlugins {
  /** Let what is under way finish, for at most `ms`, then stop. */
  close(ms: number): Promise<void>;
}

/** The built-in notifiers config.json asks for; one that cannot be made is told on `log` and left out. */
export function builtInNotifiers(ws: Workspace, log: (line: string) => void): Notifier[] {
  try {
    const discord = discordFromConfig(ws.home, ws.config.notifiers.discord);
    return discord ? [discord] : [];
  } catch (error) {
    log(`dreamos: no Discord notifications: ${oneLine((error as Error).message, 500)}`);
    return [];
  }
}

export async function startPlugins(
  ws: Workspace,
  events: EventSource,
  options: StartPluginsOptions = {},
): Promise<RunningPlugins> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const timeouts = options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {};
  const { reports, loaded } = await loadPlugins(ws, timeouts);
  const alerts: Promise<void>[] = [];
  for (const report of reports)
    if (report.state === 'refused') {
      log(`dreamos: plugin ${report.from} not loaded: ${report.reason}`);
      alerts.push(raisePluginAlert(ws, report, `plugin ${report.from} not loaded: ${report.reason}`, log));
    }
  // Alerts being written, so that idle() means they are recorded too.
  const writing = new Set<Promise<void>>();
  const host = new PluginHost(reports, loaded, {
    ...timeouts,
    log,
    onSwitchedOff: (report, reason) => {
      const done = raisePluginAlert(ws, report, `plugin ${report.name} switched off: ${reason}`, log);
      writing.add(done);
      void done.finally(() => writing.delete(done));
    },
  });
  await Promise.all(alerts);
  const notifiers = startNotifiers(ws, events, [...builtInNotifiers(ws, log), ...host.notifiers()], {
    log,
    ...options.notify,
  });
  const detach = host.attach(events);
  return {
    host,
    notifiers,
    idle: async () => {
      await host.idle();
      await notifiers.idle();
      await Promise.all(writing);
    },
    stop() {
      detach();
      notifiers.stop();
    },
  };
}

/**
 * The plugins' sources for one command (`dreamos scout run|sources`): the plugins are loaded as a
 * start loads them, a refused one is told on `log`; with `alerts`, a plugin switched off while the
 * command runs raises its alert, which `settled` waits for.
 */
export async function loadPluginSources(
  ws: Workspace,
  options: { log: (line: string) => void; alerts: boolean; timeoutMs?: number },
): Promise<{ sources: HostedSource[]; settled(): Promise<void> }> {
  const { log } = options;
  const timeouts = options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {};
  const { reports, loaded } = await loadPlugins(ws, timeouts);
  for (const report of reports)
    if (report.state === 'refused') log(`dreamos: plugin ${report.from} not loaded: ${report.reason}`);
  const writing: Promise<void>[] = [];
  const host = new PluginHost(reports, loaded, {
    ...timeouts,
    log,
    onSwitchedOff: (report, reason) => {
      if (options.alerts)
        writing.push(raisePluginAlert(ws, report, `plugin ${report.name} switched off: ${reason}`, log));
    },
  });
  return { sources: host.sources(), settled: async () => void (await Promise.all(writing)) };
}

/** Whether the workspace has anything for startPlugins to run: plugin files or packages, or a notifier. */
export function wantsPlugins(ws: Workspace, env: NodeJS.ProcessEnv = process.env): boolean {
  let files: string[] = [];
  try {
    files = fs.readdirSync(join(ws.home, PLUGIN_DIR)).filter((n) => n.endsWith('.mjs'));
  } catch {
    // No plugins folder: nothing there to load.
  }
  return (
    files.length > 0 ||
    ws.config.plugins.length > 0 ||
    ws.config.notifiers.discord !== undefined ||
    Boolean(env[DISCORD_URL_ENV])
  );
}

/**
 * For a process that serves no event stream (`dreamos run`): plugins and notifiers fed by an event
 * hub of their own, which follows the journal from its end. Null when the workspace has none, so
 * that nothing follows the journal for nothing.
 */
export async function startPluginsOnJournal(
  ws: Workspace,
  options: StartPluginsOptions = {},
): Promise<PluginsOnJournal | null> {
  if (!wantsPlugins(ws)) return null;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const events = await EventHub.start(ws, {
    onError: (error) =>
      log(`dreamos: plugins do not see events for now: ${oneLine((error as Error).message, 300)}`),
  });
  const running = await startPlugins(ws, events, { ...options, log });
  const stop = () => {
    running.stop();
    events.close();
  };
  return {
    ...running,
    stop,
    async close(ms) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([running.idle(), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
      clearTimeout(timer);
      stop();
    },
  };
}
