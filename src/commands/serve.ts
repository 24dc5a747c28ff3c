/**
 * `dreamos serve [--listen HOST:PORT]`: the HTTP API of the workspace (docs/api.md) until SIGINT or
 * SIGTERM; `startServing` does the same for a process that also runs agents (`run --serve`). hono
 * and prom-client are loaded here only, through dynamic imports of src/api/, so that no other
 * command loads them.
 */
import type { Command } from 'commander';
import type { EventHub } from '../api/event-hub.js';
import type { RunningServer } from '../api/server.js';
import { COMPANIONS_GRACE_MS, startCompanions } from '../companions.js';
import type { GithubConfig } from '../github/config.js';
import { type OutputOptions, plural, say } from '../output.js';
import { oneLine } from '../sanitize.js';
import type { Workspace } from '../workspace.js';
import { withWorkspace } from './common.js';

export const DEFAULT_LISTEN = '127.0.0.1:7420';

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Resolves at the first stop signal, and stops listening for them. */
function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      for (const s of STOP_SIGNALS) process.off(s, stop);
      resolve(signal);
    };
    for (const s of STOP_SIGNALS) process.on(s, stop);
  });
}

/** The API served by this process, and how to stop serving it. */
export interface Serving {
  server: RunningServer;
  /** The events of this process (the stream, the metrics): what else wants them subscribes here. */
  hub: EventHub;
  /** Tokens that can be used now (they are read live: this is only what they were at the start). */
  usable: number;
  /** Why the token store could not be read, when it could not (every request is refused). */
  problem: string | null;
  /** Count a webhook delivery's outcome in the metrics this process serves. */
  webhookOutcome(outcome: string): void;
  /** End the event streams, close the server (requests under way finish) and drop the metrics. */
  close(): Promise<void>;
}

/**
 * Serve the API of an open workspace at `listen`, saying nothing (the console shows it itself): the
 * routes, the event stream (one hub following the history, which also feeds the metrics) and the
 * metrics. `onError`: a failed read of the history; the hub reads on after a pause.
 */
export async function openServing(
  ws: Workspace,
  listen: string,
  onError: (error: unknown) => void = (error) =>
    say(
      `dreamos: the event stream could not read the history (it tries again): ${oneLine(String(error), 300)}`,
    ),
): Promise<Serving> {
  const { openTokenStore } = await import('../tokens.js');
  const tokens = openTokenStore(ws.paths);
  const [{ createApp }, { startServer }, { createMetrics }, { EventHub }, { eventsHandler }] =
    await Promise.all([
      import('../api/app.js'),
      import('../api/server.js'),
      import('../api/metrics.js'),
      import('../api/event-hub.js'),
      import('../api/events-route.js'),
    ]);
  const metrics = createMetrics(ws);
  const hub = await EventHub.start(ws, { onError });
  hub.subscribe((event) => metrics.observe(event));
  const github = ws.config.github ? await openGithub(ws, ws.config.github, hub) : null;
  const discord = ws.config.discord
    ? (await import('../hooks/discord.js')).discordHook({ workspace: ws, config: ws.config.discord })
    : null;
  // One app under /hooks: each hook answers at its own path (/github, /discord).
  const hooks = github && discord ? github.hooks.route('/', discord) : (github?.hooks ?? discord);
  const app = createApp({
    workspace: ws,
    tokens,
    events: eventsHandler(hub),
    metrics: (c) => metrics.handler(c),
    ...(hooks ? { hooks } : {}),
  });
  let server: RunningServer;
  try {
    server = await startServer({ app, listen, tokens });
  } catch (error) {
    github?.comments?.stop();
    hub.close();
    metrics.close();
    throw error;
  }
  return {
    server,
    hub,
    usable: tokens.usable(),
    problem: tokens.problem,
    webhookOutcome: (outcome) => metrics.webhookOutcome(outcome),
    close: async () => {
      // The streams end first, as their hub closes; then the server stops.
      github?.comments?.stop();
      hub.close();
      await server.close();
      metrics.close();
    },
  };
}

/**
 * The GitHub hook (`POST /hooks/github`) and the comment back fed by the hub, for a workspace whose
 * config has a `github` section (docs/github.md). What they have to say goes to stderr.
 */
async function openGithub(ws: Workspace, config: GithubConfig, hub: EventHub) {
  const [{ githubHook }, { startCommentBack }, { githubSecret }] = await Promise.all([
    import('../github/hook.js'),
    import('../github/comments.js'),
    import('../github/secret.js'),
  ]);
  const log = (line: string) => say(`dreamos: ${line}`);
  const secret = githubSecret(ws.paths.home, config);
  if ('problem' in secret) log(`warning: ${secret.problem}: POST /hooks/github refuses every delivery`);
  // The secret found here is the hook's: it is not looked up (and its file read) a second time.
  const hooks = githubHook({
    workspace: ws,
    config,
    log,
    ...('secret' in secret ? { secret: secret.secret } : {}),
  });
  const comments = startCommentBack({
    workspace: ws,
    hub,
    config,
    apiBaseUrl: config.apiBaseUrl ?? ws.config.scout.githubBaseUrl,
    log,
  });
  return { hooks, comments };
}

/** What is wrong with the tokens, if anything: every request will be refused until it is mended. */
export function tokenWarning(serving: Pick<Serving, 'usable' | 'problem'>): string | null {
  if (serving.problem) return `${oneLine(serving.problem, 500)}: every request is refused until it is mended`;
  if (serving.usable === 0)
    return 'no usable token: every request is refused until `dreamos token create --scope read` (tokens are read live: no restart needed)';
  return null;
}

/**
 * Serve the API of an open workspace at `listen`, and say where: one line on stderr, a warning when
 * no token can be used, and a `serving` JSON line on stdout with --json.
 */
export async function startServing(ws: Workspace, listen: string, options: OutputOptions): Promise<Serving> {
  const serving = await openServing(ws, listen);
  const { server, usable } = serving;
  say(`dreamos: serving ${server.url} (${plural(usable, 'token')})`);
  const warning = tokenWarning(serving);
  if (warning) say(`dreamos: warning: ${warning}`);
  if (options.json)
    process.stdout.write(
      `${JSON.stringify({ type: 'serving', url: server.url, origin: server.origin, host: server.host, port: server.port, tokens: usable })}\n`,
    );
  return serving;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve the HTTP API of this workspace (docs/api.md) until stopped (SIGINT/SIGTERM)')
    .option(
      '--listen <host:port>',
      'the address (anything but loopback needs a token: dreamos token create)',
      DEFAULT_LISTEN,
    )
    .action(async (o: { listen: string }, command: Command) => {
      await withWorkspace(
        command,
        async (ws, options) => {
          const serving = await startServing(ws, o.listen, options);
          const companions = await startCompanions(ws, {
            hub: serving.hub,
            onWebhookOutcome: serving.webhookOutcome,
            log: say,
          });
          const signal = await stopSignal();
          await companions.close(COMPANIONS_GRACE_MS);
          await serving.close();
          if (options.json) process.stdout.write(`${JSON.stringify({ type: 'stopped', signal })}\n`);
          else say(`dreamos: stopped serving (${signal})`);
        },
        { share: true },
      );
    });
}
