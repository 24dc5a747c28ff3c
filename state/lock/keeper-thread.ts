/**
 * The keeper thread's code. It runs in a worker started with `eval: true` from this function's
 * source text (keeper.ts), so that it works the same from the sources, the CommonJS CLI bundle and
 * the ES module bundles without a file of its own to ship. Hence its rule: it may use only its
 * parameters and JavaScript's globals, never an import or anything else of this module's scope
 * (the bundler renames those, and the worker would not have them). Built-ins come through `load`.
 */
import type { CELL, MODE } from './keeper-cell.js';

export interface KeeperData {
  buffer: SharedArrayBuffer;
  /** The slot indices and mode numbers (keeper-cell.ts), passed in for the reason above. */
  cell: typeof CELL;
  mode: typeof MODE;
  lockDir: string;
  recordPath: string;
  /** The owner record's idle line, written over the H record when the thread lets the lock go. */
  idleRecord: string;
}

/**
 * Sleeps while the lock is not left kept; once it is (LINGER), waits `lingerMs` and, if the main
 * thread has not taken it back meanwhile (left kept again since counts as taken back: the round
 * changed), lets it go as a release would. It needs no event loop: it blocks in Atomics.wait.
 */
export function keeperMain(data: KeeperData, load: (id: string) => unknown): void {
  const fs = load('node:fs') as typeof import('node:fs');
  const { cell: CELL, mode: MODE, lockDir, recordPath, idleRecord } = data;
  const cell = new Int32Array(data.buffer);
  Atomics.store(cell, CELL.running, 1);
  for (;;) {
    const mode = Atomics.load(cell, CELL.mode);
    if (mode !== MODE.LINGER) {
      Atomics.wait(cell, CELL.mode, mode);
      continue;
    }
    const round = Atomics.load(cell, CELL.round);
    Atomics.store(cell, CELL.inTimedWait, 1);
    const waited = Atomics.wait(cell, CELL.mode, MODE.LINGER, Atomics.load(cell, CELL.lingerMs));
    Atomics.store(cell, CELL.inTimedWait, 0);
    if (waited !== 'timed-out') continue;
    if (Atomics.load(cell, CELL.round) !== round) continue;
    if (Atomics.compareExchange(cell, CELL.mode, MODE.LINGER, MODE.RELEASING) !== MODE.LINGER) continue;
    // Failures here have nobody to report to: a directory left behind is a dead-looking lock of a
    // live process whose record says idle, which the breaker clears.
    try {
      fs.rmdirSync(lockDir);
    } catch {}
    try {
      const fd = fs.openSync(recordPath, fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW);
      try {
        fs.writeSync(fd, idleRecord, 0);
      } finally {
        fs.closeSync(fd);
      }
    } catch {}
    Atomics.store(cell, CELL.mode, MODE.RELEASED);
    Atomics.notify(cell, CELL.mode);
  }
}
