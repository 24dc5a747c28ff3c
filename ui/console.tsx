/**
 * The console's entry (its own bundle, dist/console.js: headless commands never load ink or react).
 * `startConsole` is the console as a program: the launcher (src/launcher.cts) runs it for `dreamos`
 * and `dreamos console` in a terminal. `runConsole` draws at once, opens the workspace, runs the
 * agents in this process unless attached, and on quit stops them, closes the workspace and restores
 * the terminal (alternate screen). `mountConsole` does the drawing part on any streams (the
 * benchmark); tests render <App> itself.
 */
import { type Instance, render } from 'ink';
import type { ReactElement } from 'react';
import type { Serving } from '../src/commands/serve.js';
import { COMPANIONS_GRACE_MS, type Companions, startCompanions } from '../src/companions.js';
import type { ConsoleRequest } from '../src/console-request.js';
import { DreamError } from '../src/errors.js';
import { reportError } from '../src/output.js';
import type { HostedSource } from '../src/plugins/host.js';
import { exitWhenFlushed, guardOutput } from '../src/process-end.js';
import { openWorkspace, type Workspace } from '../src/workspace.js';
import { App, type AppProps } from './App.js';
import { Splash } from './components/Splash.js';
import { editorRunning } from './editor.js';
import { superviseAgents } from './run-agents.js';

export interface ConsoleOptions {
  home?: string;
  /** Watch and steer a workspace whose agents run elsewhere (`dreamos run`, another console). */
  attach?: boolean;
  /** Hide every command that changes the workspace; implies attach. */
  readOnly?: boolean;
  /** Also serve the HTTP API (docs/api.md): at this address, or the default one for `true`. */
  serve?: string | true;
}

export interface Streams {
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
}

function draw(node: ReactElement, streams: Streams): Instance {
  return render(node, {
    ...(streams.stdin ? { stdin: streams.stdin } : {}),
    ...(streams.stdout ? { stdout: streams.stdout } : {}),
    ...(streams.stderr ? { stderr: streams.stderr } : {}),
    exitOnCtrlC: false,
    patchConsole: false,
    maxFps: 60,
  });
}

export interface Mounted {
  ws: Workspace;
  instance: Instance;
  /** Draw again with some props changed (mode, notice). */
  update(next: Partial<AppProps>): void;
}

/** Draw a first frame at once, then open the workspace and draw the console. */
export async function mountConsole(
  options: ConsoleOptions & Streams & Partial<AppProps> = {},
): Promise<Mounted> {
  const { home, attach, stdin, stdout, stderr, ...rest } = options;
  const streams = { stdin, stdout, stderr } as Streams;
  const instance = draw(<Splash what="opening the workspace…" />, streams);
  let ws: Workspace;
  try {
    ws = await openWorkspace({ ...(home ? { home } : {}), ...(options.readOnly ? { readOnly: true } : {}) });
  } catch (error) {
    instance.unmount();
    throw error;
  }
  const notices = ws.notices.map((n) => n.message);
  let props: AppProps = {
    ws,
    mode: attach || options.readOnly ? 'attached' : 'starting',
    ...(notices.length
      ? {
          notice: {
            level: 'warning',
            text: `${notices[0]}${notices.length > 1 ? ` (+${notices.length - 1} more)` : ''}`,
          },
        }
      : {}),
    ...rest,
  };
  instance.rerender(<App {...props} />);
  let unmounted = false;
  instance.waitUntilExit().finally(() => {
    unmounted = true;
  });
  return {
    ws,
    instance,
    update(next) {
      if (unmounted) return;
      props = { ...props, ...next };
      instance.rerender(<App {...props} />);
    },
  };
}

const ALT_SCREEN_ON = '\u001b[?1049h';
const ALT_SCREEN_OFF = '\u001b[?1049l';
const SHOW_CURSOR = '\u001b[?25h';

export async function runConsole(options: ConsoleOptions = {}): Promise<number> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    process.stderr.write(
      'dreamos: the console needs a terminal; use `dreamos status` or `dreamos task list` from scripts\n',
    );
    return 2;
  }
  if (options.serve !== undefined && options.readOnly)
    throw new DreamError(
      'E_USAGE',
      '--serve makes the changes its clients ask for and --read-only makes none: use one or the other',
    );
  const attach = Boolean(options.attach || options.readOnly);
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    process.stdout.write(`${ALT_SCREEN_OFF}${SHOW_CURSOR}`);
  };
  process.stdout.write(ALT_SCREEN_ON);
  process.once('exit', restore);
  let mounted: Mounted;
  try {
    mounted = await mountConsole({ ...options, attach, readOnly: Boolean(options.readOnly) });
  } catch (error) {
    restore();
    throw error;
  }
  const { ws, instance, update } = mounted;
  const signals = ['SIGTERM', 'SIGHUP', 'SIGINT'] as const;
  // While an editor has the terminal, ctrl-c is the editor's (as git does it).
  const onSignal = (signal: NodeJS.Signals) => {
    if (signal === 'SIGINT' && editorRunning()) return;
    instance.unmount();
  };
  for (const signal of signals) process.on(signal, onSignal);

  const serving = options.serve === undefined ? null : await serveHere(ws, options.serve, update);
  // Webhooks, plugins and notifiers run here too, unless the console only watches; the agents do
  // not wait for plugins to load.
  const companions = options.readOnly ? null : companionsHere(ws, serving, update);
  // The scout of the agents started here reads the plugins' sources once they are loaded.
  let pluginSources: readonly HostedSource[] = [];
  void companions?.then((c) => {
    pluginSources = c?.sources ?? [];
  });

  // The agents start after the first frames, so the console shows at once.
  const agents = attach
    ? null
    : superviseAgents(
        ws,
        (note) => update({ notice: note }),
        (mode) => update({ mode }),
        companions ? () => pluginSources : undefined,
        companions ? async () => (await companions)?.drivers ?? [] : undefined,
      );

  let code = 0;
  try {
    await instance.waitUntilExit();
  } catch (error) {
    code = 1;
    process.stderr.write(`dreamos: ${error instanceof Error ? error.message : String(error)}\n`);
  } finally {
    for (const signal of signals) process.off(signal, onSignal);
    restore();
    await (await companions)?.close(COMPANIONS_GRACE_MS);
    await serving?.close();
    await agents?.stop(() => process.stderr.write('dreamos: stopping the agents…\n'));
    await ws.close();
  }
  return code;
}

/**
 * Serve the API from the console's process; the header shows where and to how many. An address
 * that cannot be had is told in the flash, and the console goes on without serving.
 */
async function serveHere(
  ws: Workspace,
  listen: string | true,
  update: Mounted['update'],
): Promise<Serving | null> {
  try {
    const { DEFAULT_LISTEN, openServing, tokenWarning } = await import('../src/commands/serve.js');
    // The terminal is the console's: a failed read of the event stream goes to the flash.
    const serving = await openServing(ws, listen === true ? DEFAULT_LISTEN : listen, (error) =>
      update({
        notice: {
          level: 'warning',
          text: `the event stream could not read the history (it tries again): ${error instanceof Error ? error.message : String(error)}`,
        },
      }),
    );
    const warning = tokenWarning(serving);
    update({
      serving: serving.server,
      ...(warning ? { notice: { level: 'warning', text: `serving ${serving.server.url}: ${warning}` } } : {}),
    });
    return serving;
  } catch (error) {
    update({
      notice: {
        level: 'error',
        text: `not serving the API: ${error instanceof Error ? error.message : String(error)}`,
      },
    });
    return null;
  }
}

/** The console's companions (src/companions.ts); what goes wrong with them is told in the flash. */
async function companionsHere(
  ws: Workspace,
  serving: Serving | null,
  update: Mounted['update'],
): Promise<Companions | null> {
  const log = (line: string) =>
    update({ notice: { level: 'warning', text: line.replace(/^dreamos: /, '') } });
  try {
    return await startCompanions(ws, {
      ...(serving ? { hub: serving.hub, onWebhookOutcome: serving.webhookOutcome } : {}),
      log,
    });
  } catch (error) {
    log(`no webhooks or plugins here: ${error instanceof Error ? error.message : String(error)}`);
    return null;
  }
}

/** The console as the process's program: run it, report a failure like any command, and exit. */
export function startConsole(request: ConsoleRequest): void {
  guardOutput();
  const options = {
    attach: request.attach,
    readOnly: request.readOnly,
    ...(request.serve !== undefined ? { serve: request.serve } : {}),
  };
  runConsole(request.home ? { ...options, home: request.home } : options).then(exitWhenFlushed, (error) =>
    exitWhenFlushed(reportError(error, request.json)),
  );
}
