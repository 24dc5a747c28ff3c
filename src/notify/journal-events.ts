/**
 * Events from the journal as it is written: an event source for a process that runs no event hub
 * (`dreamos run`). It starts at the journal's end, so only what happens from now on is told, and
 * it makes no `attention.changed` (no journal entry holds the attention list).
 */
import { type DreamEvent, eventOf } from '../events.js';
import { followHistory } from '../history-follow.js';
import type { Workspace } from '../workspace.js';
import type { EventSource } from './types.js';

export interface JournalEvents extends EventSource {
  close(): void;
}

export async function journalEvents(
  ws: Workspace,
  onError: (error: unknown) => void = () => undefined,
): Promise<JournalEvents> {
  const listeners = new Set<(event: DreamEvent) => void>();
  const { mark } = await ws.history.tail(0);
  const following = followHistory(ws.history, mark, (entry) => {
    const event = eventOf(entry);
    for (const listener of [...listeners]) listener(event);
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
