/**
 * Events from the journal as it is written: an event source for a process that runs no event hub
 * (`dreamos run`). It starts at the journal's end, so only what happens from now on is told. After
 * each read it looks at the attention list again and, when it changed, tells `attention.changed`
 * with the whole list; the first look after the start tells the list as it is then.
 */
import { attention } from '../attention.js';
import { type DreamEvent, eventOf } from '../events.js';
import { followHistory } from '../history-follow.js';
import type { Workspace } from '../workspace.js';
import type { EventSource } from './types.js';

export interface JournalEvents extends EventSource {
  close(): void;
}

/** The attention list as it is now, as an event. */
function attentionEvent(ws: Workspace): DreamEvent {
  const items = attention(ws.view, {
    policies: ws.config.policies,
    agents: ws.config.agents,
    now: new Date(),
    journalLock: ws.journalLockHolder(),
  });
  const seq = ws.view.seq;
  return {
    id: String(seq),
    type: 'attention.changed',
    seq,
    at: new Date().toISOString(),
    by: 'dreamos',
    op: 'attention',
    attention: items.map(({ key, reason, severity, subject, text, action, task, agent, alerts }) => ({
      key,
      reason,
      severity,
      subject,
      text,
      action,
      ...(task ? { task } : {}),
      ...(agent ? { agent } : {}),
      alerts,
    })),
  };
}

export async function journalEvents(
  ws: Workspace,
  onError: (error: unknown) => void = () => undefined,
): Promise<JournalEvents> {
  const listeners = new Set<(event: DreamEvent) => void>();
  const tell = (event: DreamEvent) => {
    for (const listener of [...listeners]) listener(event);
  };
  let told: string | null = null;
  let looking = false;
  const lookAtAttention = () => {
    looking = false;
    try {
      ws.refresh();
      const event = attentionEvent(ws);
      const now = JSON.stringify(event.attention!.map((a) => [a.key, a.reason, a.severity]));
      if (now === told) return;
      told = now;
      tell(event);
    } catch (error) {
      onError(error);
    }
  };
  // A mark at the end of the journal: what was written before the start is not told.
  const { mark } = await ws.history.tail(1);
  const following = followHistory(ws.history, mark, (entry) => {
    tell(eventOf(entry));
    // Once per read, however many entries it brought.
    if (!looking) {
      looking = true;
      setImmediate(lookAtAttention);
    }
  });
  following.done.catch(onError);
  return {
    subscribe(onEvent) {
      listeners.add(onEvent);
      return () => listeners.delete(onEvent);
    },
    close: () => following.close(),
  };
}
