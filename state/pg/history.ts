/**
 * The journal table as a `History` (state/backend.ts): entries read in pages by sequence number,
 * oldest first, or from the end for a tail. A mark is a sequence number. Each entry is stored as the
 * line the JSON journal would hold, so it is checked the same way (its crc and its schema), and an
 * entry that fails is skipped and reported, never shown changed.
 */
import type {
  EntryHead,
  FollowOptions,
  ForEachOptions,
  History,
  HistoryFollower,
  HistoryMark,
  TailOptions,
  Watching,
  WatchOptions,
} from '../backend.js';
import { invalidInput } from '../errors.js';
import { decodeLine } from '../journal-reader.js';
import type { JournalEntry } from '../schemas.js';
import type { Doorbell } from './doorbell.js';
import type { Session } from './session.js';

const PAGE = 2000;
const TAIL_PAGE = 500;

/** A mark of this history: the sequence number a reader has read up to. */
class SeqMark {
  readonly #seq: number;

  private constructor(seq: number) {
    this.#seq = seq;
  }

  static of(seq: number): HistoryMark {
    return new SeqMark(seq) as unknown as HistoryMark;
  }

  static seq(mark: HistoryMark): number {
    if (!(mark instanceof SeqMark))
      throw invalidInput('a history mark that is not from this PostgreSQL history');
    return mark.#seq;
  }
}

interface Row {
  seq: string;
  at: Date;
  op: string;
  has_tasks: boolean;
  line: string;
}

const COLUMNS = 'seq, at, op, has_tasks, entry::text AS line';

export class PgHistory implements History {
  constructor(
    private readonly session: Session,
    private readonly bell: Doorbell,
  ) {}

  private rows(sql: string, values: unknown[]): Promise<Row[]> {
    return this.session.query<Row>(sql, values).then((r) => r.rows);
  }

  async forEach(onEntry: (entry: JournalEntry) => void, options: ForEachOptions = {}): Promise<HistoryMark> {
    let after = 0;
    for (;;) {
      const rows = await this.rows(
        `SELECT ${COLUMNS} FROM journal WHERE seq > $1 ORDER BY seq LIMIT ${PAGE}`,
        [after],
      );
      for (const row of rows) {
        after = Number(row.seq);
        const head: EntryHead = { seq: after, at: row.at.toISOString(), op: row.op, hasTasks: row.has_tasks };
        if (options.heads && !options.heads.decode(head)) {
          options.heads.onHead(head);
          continue;
        }
        const decoded = decodeLine(row.line);
        if ('error' in decoded) options.onUnreadable?.(`entry ${after}: ${decoded.error}`);
        else onEntry(decoded.entry);
      }
      if (rows.length < PAGE) return SeqMark.of(after);
    }
  }

  async tail(
    limit: number,
    options: TailOptions = {},
  ): Promise<{ entries: JournalEntry[]; mark: HistoryMark }> {
    const end = Number(
      (await this.session.query<{ seq: string | null }>('SELECT max(seq) AS seq FROM journal')).rows[0]
        ?.seq ?? 0,
    );
    const found: JournalEntry[] = [];
    let before = end + 1;
    let bytes = 0;
    while (found.length < limit && before > 1) {
      const rows = await this.rows(
        `SELECT ${COLUMNS} FROM journal WHERE seq < $1 ORDER BY seq DESC LIMIT ${TAIL_PAGE}`,
        [before],
      );
      if (rows.length === 0) break;
      for (const row of rows) {
        before = Number(row.seq);
        bytes += row.line.length;
        const decoded = decodeLine(row.line);
        if ('error' in decoded) continue;
        if (options.matches && !options.matches(decoded.entry)) continue;
        found.push(decoded.entry);
        if (found.length >= limit) break;
      }
      if (options.maxBytes !== undefined && bytes >= options.maxBytes) break;
    }
    return { entries: found.reverse(), mark: SeqMark.of(end) };
  }

  /**
   * From `mark`, or from the first entry there is. Retention deletes entries from the journal's
   * start: when the first entry after the mark is past the next number, the ones between were
   * deleted before this follower read them, and `onLost` is told which.
   */
  follow(mark?: HistoryMark, options: FollowOptions = {}): HistoryFollower {
    let at = mark ? SeqMark.seq(mark) : 0;
    // Without a mark, the journal starts wherever retention left it: nothing was lost to this reader.
    let fromStart = mark === undefined;
    const rows = (after: number) =>
      this.rows(`SELECT ${COLUMNS} FROM journal WHERE seq > $1 ORDER BY seq LIMIT ${PAGE}`, [after]);
    return {
      get mark() {
        return SeqMark.of(at);
      },
      // The position moves only once every page has arrived: a failed read is read again whole.
      readNew: async () => {
        const out: JournalEntry[] = [];
        let lost: { from: number; to: number } | null = null;
        let skipGap = fromStart;
        let to = at;
        for (;;) {
          const page = await rows(to);
          for (const row of page) {
            const seq = Number(row.seq);
            if (seq > to + 1 && !skipGap) lost ??= { from: to + 1, to: seq - 1 };
            skipGap = false;
            to = seq;
            const decoded = decodeLine(row.line);
            if (!('error' in decoded)) out.push(decoded.entry);
          }
          if (page.length < PAGE) break;
        }
        at = to;
        if (to > 0) fromStart = false;
        if (lost) options.onLost?.(lost);
        return out;
      },
    };
  }

  watch(onMaybeChanged: () => void, options?: WatchOptions): Watching {
    return this.bell.subscribe(onMaybeChanged, options);
  }
}
