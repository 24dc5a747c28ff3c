/**
 * The journal as a `History` (state/backend.ts): the JSON backend's history of entries, for what
 * shows or sums it up (`dreamos log`, `dreamos stats`, the console's journal view). Readers get
 * JournalEntry values and an opaque mark of how far they have read; segments, offsets and the line
 * framing stay in journal-reader.ts. Reading takes no lock and writes nothing, and damaged lines are
 * skipped (the commands that open the state report them). The journal is local files, read with
 * synchronous calls inside the interface's asynchronous methods: `forEach` still streams, one
 * entry at a time, and a follower's position moves only when a read succeeds.
 */
import fs from 'node:fs';
import type {
  ForEachOptions,
  History,
  HistoryFollower,
  HistoryMark,
  TailOptions,
  Watching,
  WatchOptions,
} from './backend.js';
import { invalidInput } from './errors.js';
import {
  forEachEntry,
  JournalCursor,
  type JournalDamage,
  journalStart,
  type ReadFrom,
  SegmentModes,
  tailEntries,
} from './journal-reader.js';
import type { WorkspacePaths } from './paths.js';
import type { JournalEntry } from './schemas.js';

/** A mark of this history: where in the journal a reader stopped. */
class JournalMark {
  readonly #at: ReadFrom;

  private constructor(at: ReadFrom) {
    this.#at = { pos: { ...at.pos }, lastSeq: at.lastSeq };
  }

  /** The one place a journal position becomes an opaque mark. */
  static of(at: ReadFrom): HistoryMark {
    return new JournalMark(at) as unknown as HistoryMark;
  }

  static at(mark: HistoryMark): ReadFrom {
    if (!(mark instanceof JournalMark)) throw invalidInput('a history mark that is not from the journal');
    return mark.#at;
  }
}

/** The entries written after a mark, each time `readNew()` is called. */
class JournalFollower implements HistoryFollower {
  private at: ReadFrom;

  constructor(
    private readonly paths: WorkspacePaths,
    from: HistoryMark,
  ) {
    this.at = JournalMark.at(from);
  }

  async readNew(): Promise<JournalEntry[]> {
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
    return JournalMark.of(this.at);
  }
}

export class JournalHistory implements History {
  constructor(private readonly paths: WorkspacePaths) {}

  async forEach(onEntry: (entry: JournalEntry) => void, options: ForEachOptions = {}): Promise<HistoryMark> {
    const { onUnreadable, heads } = options;
    const end = forEachEntry(this.paths, {
      onEntry,
      ...(heads ? { heads } : {}),
      // A repeated entry is the store's to report: here it is only left out, as the store leaves it.
      ...(onUnreadable
        ? { onDamage: (d: JournalDamage) => (d.kind === 'unreadable' ? onUnreadable(d.reason) : undefined) }
        : {}),
    });
    return JournalMark.of(end);
  }

  async tail(
    limit: number,
    options: TailOptions = {},
  ): Promise<{ entries: JournalEntry[]; mark: HistoryMark }> {
    const { entries, end } = tailEntries(this.paths, { limit, ...options });
    return { entries, mark: JournalMark.of(end) };
  }

  follow(mark: HistoryMark = JournalMark.of(journalStart(this.paths))): HistoryFollower {
    return new JournalFollower(this.paths, mark);
  }

  /** Every change of any process appends to the journal folder: watching it (inotify on Linux) sees them. */
  watch(onMaybeChanged: () => void, options: WatchOptions = {}): Watching {
    const watcher = fs.watch(this.paths.journalDir, { persistent: options.persistent ?? true }, () =>
      onMaybeChanged(),
    );
    if (options.onError) watcher.on('error', options.onError);
    return { close: () => watcher.close() };
  }
}
