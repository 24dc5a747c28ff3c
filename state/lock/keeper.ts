/**
 * The main thread's side of a kept lock's keeper thread: starting it, and every change of the
 * shared cell's mode (the modes and their rules are in keeper-cell.ts).
 */
import fs from 'node:fs';
import { LOCK_FS } from './acquire.js';
import { CELL, CELL_SLOTS, MODE } from './keeper-cell.js';
import { type KeeperData, keeperMain } from './keeper-thread.js';
import { lockDir, recordFor, recordLine } from './owners.js';

/** worker_threads is loaded when the first keeper starts: one-shot commands never need it. */

/** The worker's script: keeperMain's own source, called with its data and the worker's require. */
const KEEPER_SCRIPT = `(${keeperMain.toString()})(require('node:worker_threads').workerData, require);`;

/** One keeper thread for one kept lock, and the cell the two threads share. */
export class Keeper {
  private readonly cell = new Int32Array(new SharedArrayBuffer(CELL_SLOTS * Int32Array.BYTES_PER_ELEMENT));
  private readonly worker: import('node:worker_threads').Worker;
  private broken = false;

  constructor(target: string, lingerMs: number) {
    // The record file exists by now (every acquisition writes it), and may say H for a lock this
    // process holds: it is not touched here.
    const workerData: KeeperData = {
      buffer: this.cell.buffer as SharedArrayBuffer,
      cell: CELL,
      mode: MODE,
      lockDir: lockDir(target),
      recordPath: recordFor(target).path,
      idleRecord: recordLine('W'),
    };
    const { Worker } = process.getBuiltinModule('node:worker_threads');
    this.worker = new Worker(KEEPER_SCRIPT, { eval: true, workerData });
    this.setLinger(lingerMs);
    this.worker.unref();
    const fail = () => {
      this.broken = true;
    };
    this.worker.once('error', fail);
    this.worker.once('exit', fail);
  }

  private get mode(): number {
    return Atomics.load(this.cell, CELL.mode);
  }

  /** Can the lock be left kept: is the thread running to let it go? (Read from the shared cell: a
   * burst of transactions may never turn the event loop that would deliver the 'online' event.) */
  get ready(): boolean {
    return !this.broken && Atomics.load(this.cell, CELL.running) === 1;
  }

  held(): void {
    Atomics.store(this.cell, CELL.mode, MODE.BUSY);
  }

  setLinger(ms: number): void {
    Atomics.store(this.cell, CELL.lingerMs, Math.max(1, Math.round(ms)));
  }

  /** Kept (or let go by the thread meanwhile), not inside a transaction. */
  get lingering(): boolean {
    const mode = this.mode;
    return mode === MODE.LINGER || mode === MODE.RELEASING || mode === MODE.RELEASED;
  }

  linger(): void {
    Atomics.add(this.cell, CELL.round, 1);
    Atomics.store(this.cell, CELL.mode, MODE.LINGER);
    // A thread already in its timed wait is not woken (see docs/decisions/kept-lock.md): at the end
    // of that wait it sees the new round and waits again, so the lock is let go between one and
    // two `lingerMs` after the last transaction.
    if (Atomics.load(this.cell, CELL.inTimedWait) === 0) Atomics.notify(this.cell, CELL.mode);
  }

  /**
   * Take the lock back from the keeper thread: 'kept' when it was left kept (it is BUSY now),
   * 'held' when it was not left to the thread, 'gone' when the thread let it go (after waiting for
   * the thread to finish doing so).
   */
  takeBack(): 'kept' | 'held' | 'gone' {
    const was = Atomics.compareExchange(this.cell, CELL.mode, MODE.LINGER, MODE.BUSY);
    if (was === MODE.LINGER) return 'kept';
    return this.letGoByThread() ? 'gone' : 'held';
  }

  /** Has the thread let the lock go? (Waits while it is doing so.) Leaves the mode as it is. */
  private letGoByThread(): boolean {
    while (this.mode === MODE.RELEASING) Atomics.wait(this.cell, CELL.mode, MODE.RELEASING, 5);
    return this.mode === MODE.RELEASED;
  }

  notHeld(): void {
    Atomics.store(this.cell, CELL.mode, MODE.NOT_HELD);
  }

  /**
   * The file operations proper-lockfile uses on a kept lock. Once the keeper thread has removed the
   * directory, another process may have made a new one at the same path: proper-lockfile's release,
   * its exit hook and its mtime-refresh timer must then see it as gone, never remove or touch it.
   */
  lockFs() {
    const gone = (path: string) => Object.assign(new Error(`ENOENT: ${path} was let go`), { code: 'ENOENT' });
    return {
      ...LOCK_FS,
      rmdirSync: (path: string) => {
        if (this.takeBack() !== 'gone') fs.rmdirSync(path);
      },
      // A look only: taking the lock back here would leave it BUSY, and the thread would then never
      // let it go if this process stays idle.
      statSync: (path: string, options?: fs.StatSyncOptions) => {
        if (this.letGoByThread()) throw gone(path);
        return fs.statSync(path, options);
      },
      utimesSync: (path: string, atime: fs.TimeLike, mtime: fs.TimeLike) => {
        // Taken back for the moment of the update, so that the keeper cannot remove the directory
        // in between; left kept again afterwards if it was.
        const from = this.takeBack();
        if (from === 'gone') throw gone(path);
        try {
          fs.utimesSync(path, atime, mtime);
        } finally {
          if (
            from === 'kept' &&
            Atomics.compareExchange(this.cell, CELL.mode, MODE.BUSY, MODE.LINGER) === MODE.BUSY
          )
            Atomics.notify(this.cell, CELL.mode);
        }
      },
    };
  }

  stop(): void {
    this.broken = true;
    void this.worker.terminate();
  }
}
