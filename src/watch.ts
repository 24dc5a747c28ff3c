/**
 * Live updates without busy polling: the journal folder is watched (inotify on Linux), and every
 * change made by any process appends to it. The callback runs after the workspace has caught up.
 * A slow stat (every 2 s) backs the watcher up on file systems where events can be missed.
 */
import fs from 'node:fs';
import type { Workspace } from './workspace.js';

export interface Watcher {
  close(): void;
}

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
  let watcher: fs.FSWatcher | null = null;
  try {
    watcher = fs.watch(ws.paths.journalDir, { persistent: false }, schedule);
    watcher.on('error', () => undefined);
  } catch {
    watcher = null;
  }
  const timer = setInterval(schedule, options.fallbackMs ?? 2000);
  timer.unref();
  return {
    close() {
      watcher?.close();
      clearInterval(timer);
    },
  };
}
