/**
 * The checkpoints one run reports, paced before they are journaled: a driven program can print
 * `::dreamos {"checkpoint":…}` lines as fast as it likes (or echo a file full of them), and each
 * journaled checkpoint is an fdatasync'ed entry of up to ~115 KB that no log cap trims.
 *
 * - At most one checkpoint is written per `everyMs`; those reported meanwhile are coalesced, the
 *   newest replacing the older ones (a checkpoint is a position: only the latest one matters).
 * - The bytes written count against `maxBytes` for the run; past it, only the newest is kept, and
 *   written when the run ends.
 * - `flush()`, when the run ends, writes the newest one still waiting, so the last checkpoint the
 *   run reported is always saved, before its outcome is recorded.
 */

export interface PacerOptions {
  /** At most one write per this many milliseconds (default 1000). */
  everyMs?: number;
  /** Bytes of checkpoints (as JSON) one run may write before its end (default 10 MiB). */
  maxBytes?: number;
}

export const CHECKPOINT_EVERY_MS = 1000;
export const MAX_CHECKPOINT_BYTES_PER_RUN = 10 * 1024 * 1024;

export class CheckpointPacer<T> {
  private pending: T | null = null;
  private writing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastAt = Number.NEGATIVE_INFINITY;
  private written = 0;
  private ended = false;
  private readonly everyMs: number;
  private readonly maxBytes: number;

  constructor(
    private readonly write: (checkpoint: T) => Promise<unknown>,
    private readonly onError: (error: unknown) => void,
    options: PacerOptions = {},
  ) {
    this.everyMs = options.everyMs ?? CHECKPOINT_EVERY_MS;
    this.maxBytes = options.maxBytes ?? MAX_CHECKPOINT_BYTES_PER_RUN;
  }

  /** Bytes written so far by this run (JSON of each checkpoint). */
  get bytes(): number {
    return this.written;
  }

  offer(checkpoint: T): void {
    if (this.ended) return;
    this.pending = checkpoint;
    this.schedule();
  }

  /** The run ended: write the newest checkpoint still waiting, after the one being written. */
  async flush(): Promise<void> {
    this.ended = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.writing;
    if (this.pending !== null) this.writeNow();
    await this.writing;
  }

  private schedule(): void {
    if (this.ended || this.writing || this.timer || this.written >= this.maxBytes) return;
    const wait = this.lastAt + this.everyMs - Date.now();
    if (wait <= 0) this.writeNow();
    else this.timer = setTimeout(() => this.writeNow(), wait);
  }

  private writeNow(): void {
    this.timer = null;
    const checkpoint = this.pending;
    this.pending = null;
    if (checkpoint === null) return;
    this.lastAt = Date.now();
    this.written += Buffer.byteLength(JSON.stringify(checkpoint) ?? '');
    this.writing = this.write(checkpoint)
      .then(
        () => undefined,
        (error: unknown) => this.onError(error),
      )
      .finally(() => {
        this.writing = null;
        if (this.pending !== null) this.schedule();
      });
  }
}
