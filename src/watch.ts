/**
 * Live updates without busy polling: the state backend says when any process may have changed the
 * state (the JSON store watches its journal folder), and the callback runs once the workspace has
 * caught up. A slow check (every 2 s) backs the backend's wake-up where it can miss a change.
 */
import type { Watching } from '../state/backend.js';
import type { Workspace } from './workspace.js';

/** What watchWorkspace returns: the same handle as the backend's own watch. */
export type Watcher = Watching;

export function watchWorkspace(
  ws: Workspace,
  onChange: (seq: number) => void,
  options: { fallbackMs?: number } = {},
): Watcher {
  let lastSeq = ws.view.seq;
  let scheduled = false;
  const check = () => {
    scheduled = false;
    try {
      ws.refresh();
    } catch {
      return; // a damaged line is reported by the next write; watching goes on
    }
    if (ws.view.seq !== lastSeq) {
      lastSeq = ws.view.seq;
      onChange(lastSeq);
    }
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(check);
  };
  let watching: Watching | null = null;
  try {
    // A wake-up that fails (now or later) leaves the slow check below to do its work.
    watching = ws.db.watch(schedule, { persistent: false, onError: () => undefined });
  } catch {
    watching = null;
  }
  const timer = setInterval(schedule, options.fallbackMs ?? 2000);
  timer.unref();
  return {
    close() {
      watching?.close();
      clearInterval(timer);
    },
  };
}
