/**
 * The console's hooks: the live console view (journal watcher, coalesced), log tails, the journal feed,
 * and the terminal size. Services (workspace, log hub, journal feed) come from one context.
 */
import { useStdout } from 'ink';
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
} from 'react';
import { watchWorkspace } from '../src/watch.js';
import type { Workspace } from '../src/workspace.js';
import { buildConsoleView, type ConsoleView } from './data/console-view.js';
import type { JournalFeed, JournalRow } from './data/journal.js';
import { type LogHub, TaskLogReader } from './data/logs.js';
import type { Size } from './layout.js';

export interface Services {
  ws: Workspace;
  logs: LogHub;
  journal: JournalFeed;
}

export const ServicesContext = createContext<Services | null>(null);

export function useServices(): Services {
  const services = useContext(ServicesContext);
  if (!services) throw new Error('the console services are missing');
  return services;
}

/** How often the console looks whether the journal lock's holder is stopped (ms). */
const LOCK_LOOK_MS = 2000;

/**
 * How often the console view is rebuilt with no journal change (ms): an orchestrator that dies or hangs,
 * a lease or heartbeat running out and the age of a stopped lock holder move no journal line.
 * Every heartbeat, between 1 and 5 s.
 */
const refreshMs = (heartbeatSeconds: number) => Math.min(5, Math.max(1, heartbeatSeconds)) * 1000;

/**
 * The workspace as the console shows it, rebuilt when any process changes the journal: at once when
 * the last rebuild is older than `minMs`, else once at the end of that interval (changes made by
 * other processes show within 200 ms; a burst of changes costs one rebuild per interval); and at
 * each heartbeat, for what changes with time alone.
 */
export function useConsoleView(ws: Workspace, minMs = 100): ConsoleView {
  const [consoleView, setConsoleView] = useState(() => buildConsoleView(ws));
  const latest = useRef(consoleView);
  useEffect(() => {
    let last = 0;
    let timer: NodeJS.Timeout | null = null;
    const rebuild = () => {
      timer = null;
      last = Date.now();
      try {
        latest.current = buildConsoleView(ws, latest.current);
        setConsoleView(latest.current);
      } catch {
        // a half-written state is caught up with by the next change
      }
    };
    const changed = () => {
      if (timer) return;
      const wait = minMs - (Date.now() - last);
      if (wait <= 0) rebuild();
      else timer = setTimeout(rebuild, wait);
    };
    const watcher = watchWorkspace(ws, changed);
    // Our own changes are applied to the view before the watcher hears of them.
    changed();
    // A lock holder stopping or resuming changes no journal line: look for it now and then.
    let stopped = false;
    const lookAtLock = setInterval(() => {
      const now = ws.journalLockHolder()?.state === 'stopped';
      if (now !== stopped) changed();
      stopped = now;
    }, LOCK_LOOK_MS);
    lookAtLock.unref();
    const refresh = setInterval(changed, refreshMs(ws.config.policies.heartbeatSeconds));
    refresh.unref();
    return () => {
      watcher.close();
      clearInterval(lookAtLock);
      clearInterval(refresh);
      if (timer) clearTimeout(timer);
    };
  }, [ws, minMs]);
  return consoleView;
}

const NO_LINES: readonly string[] = [];

/** The last lines of a log file (null: none), live. */
export function useLogLines(path: string | null): readonly string[] {
  const { logs } = useServices();
  // A stable subscribe: a new one each render would close and reopen the tail.
  const subscribe = useCallback(
    (listener: () => void) => (path ? logs.subscribe(path, listener) : () => undefined),
    [logs, path],
  );
  return useSyncExternalStore(subscribe, () => (path ? logs.lines(path) : NO_LINES));
}

/**
 * Every line of a task's logs for the pager (null: no pager open), live: read again when one of its
 * files changes (the log hub's watchers) and when the board moves (a run by another agent starts
 * another file).
 */
export function useTaskLog(taskId: string | null, seq: number): readonly string[] {
  const { ws, logs } = useServices();
  // Read at once: the pager's first frame shows the log, and its keys know its length.
  const reader = useMemo(
    () => (taskId ? new TaskLogReader(ws.home, ws.paths.logsDir, taskId) : null),
    [ws, taskId],
  );
  const [, setVersion] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: seq is the trigger to look for new files
  useEffect(() => {
    if (!reader) return;
    const update = () => {
      if (reader.refresh()) setVersion((v) => v + 1);
    };
    update();
    const unsubscribe = reader.paths().map((path) => logs.subscribe(path, update));
    return () => {
      for (const stop of unsubscribe) stop();
    };
  }, [reader, logs, seq]);
  return reader?.lines ?? NO_LINES;
}

/** The journal rows, read lazily (only while a view needs them) and brought up to date on each change. */
export function useJournal(active: boolean, seq: number): readonly JournalRow[] {
  const { journal } = useServices();
  const [rows, setRows] = useState(journal.rows);
  // biome-ignore lint/correctness/useExhaustiveDependencies: seq is the trigger to read further
  useEffect(() => {
    if (!active) return;
    // Each update shows the rows as they are when it ends, even one that ends after a newer one
    // was asked for (updates end in the order they were asked).
    journal.update().then(
      () => setRows(journal.rows),
      () => {
        // an unreadable segment: the rows read so far stay
      },
    );
  }, [active, seq, journal]);
  return rows;
}

/** The terminal size, following resizes; `fixed` (tests, benchmarks) wins. */
export function useTerminalSize(fixed?: Size): Size {
  const { stdout } = useStdout();
  const read = (): Size => fixed ?? { columns: stdout.columns || 80, rows: stdout.rows || 24 };
  const [size, setSize] = useState(read);
  const readRef = useRef(read);
  readRef.current = read;
  useEffect(() => {
    if (fixed) return;
    const onResize = () => setSize(readRef.current());
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout, fixed]);
  return fixed ?? size;
}
