/**
 * The console's container: services and theme in contexts, the live console view, the UI state (held in
 * a ref so that key handlers never read a stale closure, published to React on every change), the
 * input dispatcher, and the frame: header, body, footer — or "too small" below the minimum size.
 */
import { relative } from 'node:path';
import { Box, useApp, useInput, useStdout } from 'ink';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { ServingStatus } from '../src/api/context.js';
import { plural } from '../src/output.js';
import type { Workspace } from '../src/workspace.js';
import { Body } from './Body.js';
import { Footer } from './components/Footer.js';
import { type AgentsMode, Header } from './components/Header.js';
import { TooSmall } from './components/TooSmall.js';
import { useTaskDiff } from './data/diff.js';
import { JournalFeed } from './data/journal.js';
import { LogHub } from './data/logs.js';
import { taskText, wrapLines } from './data/task-text.js';
import { keyContext, makeDeriver, moved, selectionFor, unpicked } from './derive.js';
import { handleKeys } from './dispatch.js';
import { type Env, errorText } from './effects.js';
import { helpBar } from './help.js';
import {
  type Services,
  ServicesContext,
  useConsoleView,
  useJournal,
  useServices,
  useTaskLog,
  useTerminalSize,
} from './hooks.js';
import { keyEvents } from './input.js';
import { KeyCommand, lookup, VIEW_TITLES } from './keymap.js';
import { computeLayout, type Size } from './layout.js';
import { type FlashLevel, initialState, reduce, type UiAction } from './model.js';
import { useRunning } from './running.js';
import { type Theme, ThemeContext, themeFor } from './theme.js';
import { useAttach } from './use-attach.js';
import { useHandover } from './use-handover.js';
import { type InboxOptions, useInbox } from './use-inbox.js';

export interface AppProps {
  ws: Workspace;
  readOnly?: boolean;
  mode?: AgentsMode;
  /** A fixed size (tests, benchmarks); otherwise the terminal's, following resizes. */
  size?: Size;
  theme?: Theme;
  /** The HTTP API this process serves (`--serve`), shown in the header. */
  serving?: ServingStatus;
  /** A message to show first (e.g. why the agents do not run here). */
  notice?: { level: FlashLevel; text: string };
  onQuit?: () => void;
  /** Where the bell and desktop notifications are written; the terminal by default. */
  terminal?: { write(bytes: string): unknown };
}

const FLASH_MS: Record<FlashLevel, number> = { info: 4000, warning: 6000, error: 10_000 };
/** Log panes take new lines five times a second: lively, and cheap with eight agents streaming. */
const LOG_FLUSH_MS = 200;

/** How often the count of clients is looked at: connections come and go without a change to the board. */
const CLIENTS_LOOK_MS = 1000;

/** `serving 127.0.0.1:7420, 2 clients`, kept current; null when this process does not serve. */
function useServing(serving: ServingStatus | undefined): string | null {
  const [clients, setClients] = useState(() => serving?.clients() ?? 0);
  useEffect(() => {
    if (!serving) return;
    const timer = setInterval(() => setClients(serving.clients()), CLIENTS_LOOK_MS);
    return () => clearInterval(timer);
  }, [serving]);
  if (!serving) return null;
  const address = serving.url.replace(/^https?:\/\//, '').replace(/\/api\/v1$/, '');
  return `serving ${address}, ${plural(clients, 'client')}`;
}

export function App(props: AppProps) {
  const services = useMemo<Services>(
    () => ({
      ws: props.ws,
      logs: new LogHub(props.ws.paths.logsDir, { flushMs: LOG_FLUSH_MS }),
      journal: new JournalFeed(props.ws.history),
    }),
    [props.ws],
  );
  useEffect(() => () => services.logs.close(), [services]);
  return (
    <ThemeContext.Provider value={props.theme ?? themeFor()}>
      <ServicesContext.Provider value={services}>
        <Console {...props} />
      </ServicesContext.Provider>
    </ThemeContext.Provider>
  );
}

function Console(props: AppProps) {
  const { ws } = useServices();
  const { exit } = useApp();
  const readOnly = Boolean(props.readOnly);
  const consoleView = useConsoleView(ws);
  const size = useTerminalSize(props.size);
  const layout = computeLayout(size, consoleView.agents.length);

  const stateRef = useRef(initialState());
  const [state, setState] = useState(stateRef.current);
  const dispatch = useCallback((action: UiAction) => {
    stateRef.current = reduce(stateRef.current, action);
    setState(stateRef.current);
  }, []);

  const attach = useAttach(ws, (level, text) => dispatch({ type: 'flash', level, text }));
  const serving = useServing(props.serving);
  const { stdout } = useStdout();
  const terminal = props.terminal ?? stdout;
  const inboxOptions = useMemo<InboxOptions | null>(
    () =>
      readOnly
        ? null
        : {
            ...ws.config.console,
            tmux: Boolean(process.env.TMUX),
            name: ws.config.name,
            write: (bytes) => terminal.write(bytes),
          },
    [readOnly, ws, terminal],
  );
  const unseen = useInbox(consoleView.attention, state.view === 'alerts', inboxOptions);
  // Back from an editor the screen is blank, yet Ink believes it shows the last frame (drawn while
  // away, not written): one empty frame, then the console, makes it write the console in full.
  const [blank, setBlank] = useState(false);
  const redraw = useCallback(() => setBlank(true), []);
  useEffect(() => {
    if (blank) setBlank(false);
  }, [blank]);
  const handover = useHandover(redraw);
  const progress = useRunning(state.running);
  const journal = useJournal(state.view === 'journal', consoleView.seq);
  const pagerTask = state.view === 'log' ? state.logTaskId : null;
  const logLines = useTaskLog(state.logWhat === 'log' ? pagerTask : null, consoleView.seq);
  const derive = useMemo(makeDeriver, []);
  const lists = derive(consoleView, state, journal);
  const textTask = pagerTask && state.logWhat === 'text' ? lists.task(pagerTask) : undefined;
  const textLines = useMemo(
    () => (textTask ? wrapLines(taskText(textTask), layout.width - 3) : null),
    [textTask, layout.width],
  );
  const log = useMemo(
    () => ({ lines: textLines ?? logLines, rows: layout.list.rows }),
    [textLines, logLines, layout.list.rows],
  );
  const diffCode = state.view === 'diff' && state.diffTaskId ? lists.task(state.diffTaskId)?.code : undefined;
  const diffState = useTaskDiff(
    state.view === 'diff' ? state.diffTaskId : null,
    `${diffCode?.head ?? ''}:${diffCode?.merged ?? ''}`,
  );
  const diff = useMemo(
    () => ({ parsed: diffState.parsed, error: diffState.error, rows: layout.list.rows }),
    [diffState, layout.list.rows],
  );
  const selection = selectionFor(state, lists, log, diff);
  const ctx = keyContext(state, selection, readOnly);
  // The rows shown under cursors nobody has moved yet: the cursors stay on them from now on.
  const shown = JSON.stringify(unpicked(state, lists));
  useEffect(() => {
    if (shown !== '{}') dispatch({ type: 'pick', picks: JSON.parse(shown), missing: true });
  }, [shown, dispatch]);
  // Rows that moved under their cursors: their place is stored, for when they leave the list.
  const rowsMoved = JSON.stringify(moved(state, lists));
  useEffect(() => {
    if (rowsMoved !== '{}') dispatch({ type: 'moved', cursors: JSON.parse(rowsMoved) });
  }, [rowsMoved, dispatch]);

  const live = useRef({ consoleView, journal, layout, log, diff });
  live.current = { consoleView, journal, layout, log, diff };
  const quit = useCallback(() => {
    props.onQuit?.();
    exit();
  }, [exit, props.onQuit]);

  useInput((input, key) => {
    // An attach has the keys (ui/attach.ts reads them as the terminal sends them).
    if (attach.activeRef.current) return;
    const events = keyEvents(input, key);
    if (live.current.layout.tooSmall) {
      if (events.some((e) => lookup(['global'], e.name)?.command === KeyCommand.Quit)) quit();
      return;
    }
    const envFor = (): Env => {
      const s = stateRef.current;
      const l = derive(live.current.consoleView, s, live.current.journal);
      const sel = selectionFor(s, l, live.current.log, live.current.diff);
      const pageSize = s.view === 'board' ? live.current.layout.board.rows : live.current.layout.list.rows;
      return {
        ws,
        state: s,
        lists: l,
        selection: sel,
        ctx: keyContext(s, sel, readOnly),
        pageSize,
        dispatch,
        quit,
        handover,
        attach: attach.open,
      };
    };
    try {
      handleKeys(events, envFor);
    } catch (error) {
      dispatch({ type: 'flash', level: 'error', text: errorText(error) });
    }
  });

  useEffect(() => {
    if (props.notice) dispatch({ type: 'flash', ...props.notice });
  }, [props.notice, dispatch]);
  const flash = state.flash;
  useEffect(() => {
    if (!flash) return;
    const timer = setTimeout(() => dispatch({ type: 'flash-clear', id: flash.id }), FLASH_MS[flash.level]);
    return () => clearTimeout(timer);
  }, [flash, dispatch]);

  // An empty frame while an attach has the terminal.
  if (attach.active) return null;
  if (blank) return <Box width={layout.width} height={layout.height} />;
  if (layout.tooSmall) return <TooSmall size={layout.size} />;
  const detail =
    state.view === 'agent'
      ? (selection.agent?.name ?? state.agentId)
      : state.view === 'task'
        ? state.taskId
        : state.view === 'log'
          ? state.logTaskId
          : state.view === 'diff'
            ? state.diffTaskId
            : null;
  const where = relative(process.cwd(), ws.home);
  // Marked tasks are what the task keys act on, in every view: the count is always in sight.
  const marked = state.marked.size ? ` · ${state.marked.size} marked` : '';
  const status = `${plural(consoleView.total, 'task')}${marked} · ${plural(consoleView.openAlerts, 'open alert')} · journal #${consoleView.seq}${serving ? ` · ${serving}` : ''} · ${where.length < ws.home.length ? where : ws.home}`;
  return (
    <Box flexDirection="column" width={layout.width} height={layout.height}>
      <Header
        view={state.view}
        origin={state.back[0] ?? null}
        detail={
          detail
            ? `${state.view === 'log' && state.logWhat === 'text' ? 'Text' : VIEW_TITLES[state.view]} ${detail}`
            : null
        }
        mode={props.mode ?? 'attached'}
        runners={consoleView.runners}
        readOnly={readOnly}
        unseen={unseen}
        width={layout.width}
      />
      <Body state={state} lists={lists} selection={selection} ctx={ctx} layout={layout} />
      <Footer
        dialog={state.dialog}
        flash={state.flash}
        status={status}
        help={helpBar(ctx, layout.width)}
        width={layout.width}
        progress={progress}
      />
    </Box>
  );
}
