/**
 * The live screen of a `pty` agent for its pane (docs/console.md#live-sessions): a read-only
 * connection to the agent's session (`stream: 'screen'`, plain text only, never the raw stream),
 * drawn at most every 100 ms.
 */
import { useEffect, useState } from 'react';
import { connectSession, type ScreenSnapshot, sessionSocketPath } from '../src/sessions.js';

/**
 * Panes take new screens five times a second, all on one tick (as the log panes take new lines):
 * the sessions send up to twenty a second each, and eight panes drawn apart would be forty frames.
 */
const PANE_FLUSH_MS = 200;
const pending = new Set<() => void>();
let tick: NodeJS.Timeout | null = null;
function onTick(draw: () => void): () => void {
  pending.add(draw);
  tick ??= setInterval(() => {
    if (pending.size === 0 && tick) {
      clearInterval(tick);
      tick = null;
    }
    const due = [...pending];
    pending.clear();
    for (const fn of due) fn();
  }, PANE_FLUSH_MS);
  return () => {
    pending.delete(draw);
  };
}
/** How long to wait before looking for a session again (the task has just started, or it restarted). */
const RETRY_MS = 500;

export type LiveScreen =
  | { state: 'connecting' }
  | { state: 'live'; screen: ScreenSnapshot }
  | { state: 'ended'; screen: ScreenSnapshot | null };

/**
 * The screen of `agentId`'s session while `task` runs (null: none to follow), live. The connection
 * is read-only whatever the console is; it is made again when the session goes and the task is
 * still shown (a restarted program), and closed when the pane goes.
 */
export function useLiveScreen(home: string, agentId: string, task: string | null): LiveScreen {
  const [live, setLive] = useState<LiveScreen>({ state: 'connecting' });
  useEffect(() => {
    setLive({ state: 'connecting' });
    if (task === null) return;
    let stopped = false;
    let close: (() => void) | null = null;
    let retry: NodeJS.Timeout | null = null;
    let cancelDraw: () => void = () => undefined;
    let latest: ScreenSnapshot | null = null;
    const show = () => {
      if (!stopped && latest) setLive({ state: 'live', screen: latest });
    };
    const connect = () => {
      retry = null;
      connectSession(sessionSocketPath(home, agentId), {
        mode: 'read',
        stream: 'screen',
        timeoutMs: 2000,
      }).then(
        (client) => {
          if (stopped) {
            client.close();
            return;
          }
          close = () => client.close();
          client.subscribe((event) => {
            if (event.type === 'screen') {
              latest = event.screen;
              cancelDraw = onTick(show);
            } else if (event.type === 'closed') {
              close = null;
              if (stopped) return;
              setLive({ state: 'ended', screen: latest });
              retry = setTimeout(connect, RETRY_MS);
            }
          });
        },
        () => {
          if (!stopped) retry = setTimeout(connect, RETRY_MS);
        },
      );
    };
    connect();
    return () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      cancelDraw();
      close?.();
    };
  }, [home, agentId, task]);
  return live;
}
