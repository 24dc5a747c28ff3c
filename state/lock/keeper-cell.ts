/**
 * The cell a kept lock's two threads share (an Int32Array over a SharedArrayBuffer), and the modes
 * of a kept lock. See docs/decisions/kept-lock.md for why a kept lock has a thread of its own.
 */

/** The slots of the shared cell. */
export const CELL = {
  /** The kept lock's mode (MODE below). */
  mode: 0,
  /** Counts the times the lock was left kept: the thread lets go only if it has not changed since its wait began. */
  round: 1,
  /** 1 once the keeper thread runs: until then the lock is never left kept. */
  running: 2,
  /** How long the thread waits before it lets the lock go (ms). */
  lingerMs: 3,
  /** 1 while the thread is in its timed wait: leaving the lock kept again need not wake it. */
  inTimedWait: 4,
} as const;
export const CELL_SLOTS = 5;

/**
 * The modes of a kept lock. Both threads change `CELL.mode`, only by these transitions:
 *
 * - NOT_HELD: this process does not hold the lock (never took it, or let it go itself). The thread
 *   sleeps until the mode changes. Entered by the main thread only.
 * - BUSY: the main thread holds the lock and is inside a transaction (or refreshing the lock's
 *   mtime). The thread never touches the lock in this mode. The main thread enters it on taking
 *   the lock, and by compare-and-swap from LINGER when it takes a kept lock back.
 * - LINGER: the transaction is over and the lock is left kept for the next one (the main thread
 *   bumps `round` first). The thread waits `lingerMs`; if the mode is still LINGER and the round
 *   the same when the wait ends, it moves to RELEASING by compare-and-swap. Whichever thread wins
 *   the swap out of LINGER owns the lock directory.
 * - RELEASING: the thread removes the lock directory and writes the idle record, as a release
 *   would. The main thread waits for it to end and changes nothing meanwhile.
 * - RELEASED: the thread let the lock go. The directory at the lock's path is no longer this
 *   process's (another may have made a new one): the main thread must not remove or refresh it,
 *   and moves to NOT_HELD when it lets go of its handle.
 */
export const MODE = { NOT_HELD: 0, BUSY: 1, LINGER: 2, RELEASING: 3, RELEASED: 4 } as const;
export type Mode = (typeof MODE)[keyof typeof MODE];
