/**
 * Wake-ups for waiters: one inotify watch per locks folder, shared by every wait in this process.
 * A holder's rmdir changes the folder, which wakes every waiter at once; the timer is the fallback
 * (no inotify, or a change it does not report).
 */
import fs from 'node:fs';
import { registry, type Watch } from './registry.js';

/** Until `dir` changes, or `maxMs` has passed. */
export function waitForChange(dir: string, maxMs: number): Promise<void> {
  const { watches } = registry();
  let entry = watches.get(dir);
  if (!entry) {
    const created: Watch = { watcher: null, wake: new Set() };
    try {
      created.watcher = fs.watch(dir, { persistent: false }, () => {
        for (const wake of [...created.wake]) wake();
      });
      created.watcher.on('error', () => undefined);
    } catch {
      created.watcher = null; // out of inotify watches, or none at all: the timer alone wakes waiters
    }
    watches.set(dir, created);
    entry = created;
  }
  const { wake } = entry;
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      wake.delete(done);
      resolve();
    };
    const timer = setTimeout(done, maxMs);
    wake.add(done);
  });
}
