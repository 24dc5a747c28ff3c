/**
 * The journal as a history of entries, for what shows or sums it up (`dreamos log`, `dreamos stats`,
 * the console's journal view). They get JournalEntry values and an opaque mark of how far they have
 * read; segments, offsets and the line framing stay in journal-reader.ts. Reading takes no lock and
 * writes nothing, and damaged lines are skipped (the commands that open the state report them).
 */
import fs from 'node:fs';
import {
  type EntryHead,
  forEachEntry,
  type HeadsOnly,
  JournalCursor,
  type JournalDamage,
  journalStart,
  type ReadFrom,
  SegmentModes,
  tailEntries,
} from './journal-reader.js';
import type { WorkspacePaths } from './paths.js';
import type { JournalEntry } from './schemas.js';

export type { EntryHead, HeadsOnly };

/** How far a reader has read the history: what to follow it from. */
export class HistoryMark {
  readonly #at: ReadFrom;

  constructor(at: ReadFrom) {
    this.#at = { pos: { ...at.pos }, lastSeq: at.lastSeq };
  }

  static at(mark: HistoryMark): ReadFrom {
    return mark.#at;
  }
}

export interface ForEachOptions {
  /** Each line that cannot be read as an entry, with the reason. */
  onUnreadable?: (reason: string) => void;
  heads?: HeadsOnly;
}

export interface TailOptions {
  matches?: (entry: JournalEntry) => boolean;
  /** Look at most this many bytes back from the end. */
  maxBytes?: number;
}

/** The entries written after a mark, each time `readNew()` is called. */
export class HistoryFollower {
  private at: ReadFrom;

  constructor(
    private readonly paths: WorkspacePaths,
    from: HistoryMark,
  ) {
    this.at = HistoryMark.at(from);
  }

  readNew(): JournalEntry[] {
    const cursor = new JournalCursor(this.paths, this.at.pos, this.at.lastSeq, SegmentModes.WHEN_NEXT_EXISTS);
    try {
      const entries = cursor.readNew();
      this.at = { pos: cursor.pos, lastSeq: cursor.lastSeq };
      return entries;
    } finally {
      // Nothing stays open between reads: a follower may be dropped without being closed.
      cursor.close();
    }
  }

  get mark(): HistoryMark {
    return new HistoryMark(this.at);
  }
}

export class JournalHistory {
  constructor(private readonly paths: WorkspacePaths) {}

  /** Every entry, oldest first, streamed. Returns a mark at the end, to follow from. */
  forEach(onEntry: (entry: JournalEntry) => void, options: ForEachOptions = {}): HistoryMark {
    const { onUnreadable, heads } = options;
    const end = forEachEntry(this.paths, {
      onEntry,
      ...(heads ? { heads } : {}),
      // A repeated entry is the store's to report: here it is only left out, as the store leaves it.
      ...(onUnreadable
        ? { onDamage: (d: JournalDamage) => (d.kind === 'unreadable' ? onUnreadable(d.reason) : undefined) }
        : {}),
    });
    return new HistoryMark(end);
  }

  /** The last `limit` entries that match, oldest first, and a mark at the end of the history. */
  tail(limit: number, options: TailOptions = {}): { entries: JournalEntry[]; mark: HistoryMark } {
    const { entries, end } = tailEntries(this.paths, { limit, ...options });
    return { entries, mark: new HistoryMark(end) };
  }

  /** New entries after `mark` (default: from the start), as they are written. */
  follow(mark: HistoryMark = this.start()): HistoryFollower {
    return new HistoryFollower(this.paths, mark);
  }

  /** Call `onChange` whenever new entries may have been written, until the returned stop is called. */
  watch(onChange: () => void, options: { persistent?: boolean } = {}): () => void {
    const watcher = fs.watch(this.paths.journalDir, { persistent: options.persistent ?? true }, onChange);
    return () => watcher.close();
  }

  private start(): HistoryMark {
    return new HistoryMark(journalStart(this.paths));
  }
}
