/**
 * Driving the console the way a user does: a real workspace in a temporary folder, the App rendered
 * by ink-testing-library, and `press()` that writes ONE key and waits for the frame it causes.
 */
import { cleanup as inkCleanup, render } from 'ink-testing-library';
import type { AgentConfig } from '../../src/config.js';
import { stripControl } from '../../src/sanitize.js';
import { initWorkspace, type Workspace } from '../../src/workspace.js';
import { App, type AppProps } from '../../ui/App.js';
import { type KeyCommand, keysOf } from '../../ui/keymap.js';
import { noColourTheme } from '../../ui/theme.js';
import { tempDir } from './workspace.js';

export const SIZE = { columns: 100, rows: 40 };

const SEQUENCES: Record<string, string> = {
  enter: '\r',
  esc: '\u001b',
  tab: '\t',
  'shift-tab': '\u001b[Z',
  up: '\u001b[A',
  down: '\u001b[B',
  right: '\u001b[C',
  left: '\u001b[D',
  pageup: '\u001b[5~',
  pagedown: '\u001b[6~',
  home: '\u001b[H',
  end: '\u001b[F',
  backspace: '\u007f',
  space: ' ',
  'ctrl-c': '\u0003',
  'ctrl-u': '\u0015',
};

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface Harness {
  ws: Workspace;
  dir: string;
  frame(): string;
  /** Every frame drawn so far, oldest first. */
  frames(): string[];
  /** The last frame as written to the terminal, escape sequences and all. */
  raw(): string;
  /** One key (a name from the keymap, e.g. `j`, `enter`, `shift-tab`); waits for the next frame. */
  press(key: string): Promise<void>;
  /** The first key bound to a command. */
  run(command: KeyCommand): Promise<void>;
  /** Text, one character at a time. */
  type(text: string): Promise<void>;
  /** Several keys in ONE write, as a paste, a macro or fast typing over SSH sends them. */
  write(raw: string): Promise<void>;
  waitFor(predicate: (frame: string) => boolean, what?: string, timeoutMs?: number): Promise<string>;
  quitCalls: number;
  /** What the console wrote to the terminal beside its frames: the bell and desktop notifications. */
  rung: string[];
  close(): Promise<void>;
}

const dirs: Array<() => void> = [];
const workspaces: Workspace[] = [];

export async function workspace(agents?: AgentConfig[]): Promise<{ ws: Workspace; dir: string }> {
  const tmp = tempDir('dreamos-ui-');
  dirs.push(tmp.cleanup);
  const ws = await initWorkspace({ dir: tmp.dir, ...(agents ? { agents } : {}) });
  workspaces.push(ws);
  return { ws, dir: tmp.dir };
}

export async function open(
  options: { ws?: Workspace; dir?: string; agents?: AgentConfig[] } & Partial<AppProps> = {},
): Promise<Harness> {
  const { ws, dir } = options.ws
    ? { ws: options.ws, dir: options.dir ?? '' }
    : await workspace(options.agents);
  const h: Harness = {
    ws,
    dir,
    quitCalls: 0,
    rung: [],
    frame: () => '',
    frames: () => [],
    raw: () => '',
    press: async () => undefined,
    run: async () => undefined,
    type: async () => undefined,
    write: async () => undefined,
    waitFor: async () => '',
    close: async () => undefined,
  };
  const { ws: _ws, dir: _dir, agents: _agents, ...props } = options;
  const r = render(
    <App
      ws={ws}
      size={SIZE}
      theme={noColourTheme}
      onQuit={() => {
        h.quitCalls += 1;
      }}
      terminal={{ write: (bytes: string) => h.rung.push(bytes) }}
      {...props}
    />,
  );
  h.frame = () => stripControl(r.lastFrame() ?? '');
  h.frames = () => r.frames.map((f) => stripControl(f));
  h.raw = () => r.lastFrame() ?? '';
  h.waitFor = async (predicate, what = 'the expected frame', timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = h.frame();
      if (predicate(frame)) return frame;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the last frame:\n${frame}`);
      await sleep(10);
    }
  };
  h.write = async (raw) => {
    const before = r.frames.length;
    r.stdin.write(raw);
    const deadline = Date.now() + 250;
    while (r.frames.length === before && Date.now() < deadline) await sleep(5);
  };
  h.press = (key) => h.write(SEQUENCES[key] ?? key);
  h.run = (command) => h.press(keysOf(command)[0]!);
  h.type = async (text) => {
    for (const ch of text) await h.press(ch === ' ' ? 'space' : ch);
  };
  h.close = async () => r.unmount();
  // The first frame, with the workspace read.
  await h.waitFor((f) => f.includes('Dream.OS'), 'the first frame');
  return h;
}

/** Unmount every console and remove every workspace (call in afterEach). */
export async function cleanupAll(): Promise<void> {
  inkCleanup();
  for (const ws of workspaces.splice(0)) await ws.close().catch(() => undefined);
  for (const cleanup of dirs.splice(0)) cleanup();
}
