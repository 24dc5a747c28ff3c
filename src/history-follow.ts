/**
 * Following a history as it grows (`dreamos log --follow`): the entries after a mark are read at
 * each wake-up of the history's watch, and once when following starts (for what was written
 * before the watch began). Reads are asynchronous, so they are made one at a time, in one of two
 * modes:
 *
 * - idle: no read under way; a wake-up starts one.
 * - reading: a read is under way; a wake-up only asks for one more after it, however many come,
 *   so every entry written before the last wake-up is read.
 *
 * No two reads overlap, so no entry is handed over twice or out of order. Closing, or a read or
 * the watch failing, stops both; `done` settles then (rejected with the failure).
 */
import type { History, HistoryMark, LostEntries } from '../state/backend.js';
import type { JournalEntry } from '../state/schemas.js';

export interface Following {
  /** Settles when following stops: resolved by `close()`, rejected by a failed read or watch. */
  readonly done: Promise<void>;
  close(): void;
}

export function followHistory(
  history: History,
  mark: HistoryMark,
  onEntry: (entry: JournalEntry) => void,
  /** After each read that found entries, once they have all been handed to `onEntry`. */
  onRead?: (entries: readonly JournalEntry[]) => void,
  /** Entries deleted (by retention) before they were read, told before the entries after them. */
  onLost?: (lost: LostEntries) => void,
): Following {
  const lostSoFar: LostEntries[] = [];
  const follower = history.follow(mark, { onLost: (lost) => lostSoFar.push(lost) });
  let mode: 'idle' | 'reading' = 'idle';
  let again = false;
  let stopped = false;
  let settle: (error?: unknown) => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    settle = (error) => (error === undefined ? resolve() : reject(error));
  });

  const stop = (error?: unknown) => {
    if (stopped) return;
    stopped = true;
    watching.close();
    settle(error);
  };

  const read = async () => {
    do {
      again = false;
      const entries = await follower.readNew();
      // Each run of lost entries in its place: after the entries before it, before those after it.
      const lost = lostSoFar.splice(0).sort((a, b) => a.from - b.from);
      for (const entry of entries) {
        while (lost[0] && lost[0].to < entry.seq && !stopped) onLost?.(lost.shift()!);
        if (stopped) return;
        onEntry(entry);
      }
      for (const run of lost) if (!stopped) onLost?.(run);
      if (entries.length > 0) onRead?.(entries);
    } while (again && !stopped);
  };

  const wake = () => {
    if (stopped) return;
    if (mode === 'reading') {
      again = true;
      return;
    }
    mode = 'reading';
    read().then(
      () => {
        mode = 'idle';
      },
      (error: unknown) => {
        mode = 'idle';
        stop(error);
      },
    );
  };

  const watching = history.watch(wake, { onError: stop });
  wake();
  return { done, close: () => stop() };
}
