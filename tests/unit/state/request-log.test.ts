/**
 * The shared writer's request log (state/writer/request-log.ts), driven with a fake of the narrow
 * db context it is given: it follows requests through the entries it is shown, and turns only the
 * db knobs that serving needs.
 */
import { describe, expect, it } from 'vitest';
import type { EntryObserver, ObservedDb } from '../../../state/db.js';
import type { JournalEntry } from '../../../state/schemas.js';
import { RequestLog } from '../../../state/writer/request-log.js';

function fakeDb() {
  const calls: string[] = [];
  let observer: EntryObserver | null = null;
  const db: ObservedDb = {
    syncJournal: () => calls.push('sync'),
    setLinger: (ms) => calls.push(`linger ${ms}`),
    setSnapshotScale: (scale) => calls.push(`scale ${scale}`),
  };
  const log = new RequestLog((o) => {
    observer = o;
    return db;
  });
  const show = (entry: Partial<JournalEntry>) => observer!.onEntry(entry as JournalEntry);
  return { log, calls, show };
}

describe('the request log', () => {
  it('keeps the entry made for an awaited request, and every request id it is shown', () => {
    const { log, show } = fakeDb();
    log.awaitRequest('1-a-1');
    show({ seq: 1, op: 'add' });
    expect(log.requestEntry('1-a-1')).toBeNull();
    show({ seq: 2, op: 'claim', req: { id: '1-a-1', task: 'T-1' } });
    show({ seq: 3, op: 'claim', req: { id: '2-b-1', task: null } });
    expect(log.requestEntry('1-a-1')).toMatchObject({ seq: 2 });
    expect(log.requestEntry('2-b-1')).toBeNull(); // not awaited here
    expect(log.requestRecorded('2-b-1')).toBe(true);
    expect(log.requestRecorded('3-c-1')).toBe(false);
    log.forgetRequest('1-a-1');
    expect(log.requestEntry('1-a-1')).toBeNull();
  });

  it('tells the db how many processes it writes for', () => {
    const { log, calls } = fakeDb();
    log.serving(0);
    log.serving(3);
    log.syncJournal();
    expect(calls).toEqual(['linger null', 'scale 1', 'linger 10', 'scale 4', 'sync']);
  });

  it('after the state is loaded anew, forgets what it read and takes the requests the journal holds', () => {
    const { log, show } = fakeDb();
    expect(log.reloadFrom()).toBeNull(); // nothing under way: nothing to read again
    log.awaitRequest('1-a-1', 40);
    log.serveRequest('2-b-1', 35);
    expect(log.reloadFrom()).toBe(36);
    show({ seq: 30, op: 'claim', req: { id: '4-d-1', task: 'T-3' } });
    show({ seq: 41, op: 'claim', req: { id: '1-a-1', task: 'T-1' } });
    show({ seq: 42, op: 'claim', req: { id: '3-c-1', task: 'T-2' } });
    expect(log.requestEntry('1-a-1')).toMatchObject({ seq: 41 });
    // A crash took back entries from 41 on; another request's entry is at 41 now. What was read
    // before the entries read again is kept.
    log.onReload([{ seq: 41, op: 'settle-request', req: { id: '2-b-1', task: null } } as JournalEntry], 36);
    expect(log.requestEntry('1-a-1')).toBeNull();
    expect(log.requestRecorded('3-c-1')).toBe(false);
    expect(log.requestRecorded('2-b-1')).toBe(true);
    expect(log.requestRecorded('4-d-1')).toBe(true);
    log.servedRequest('2-b-1');
    log.forgetRequest('1-a-1');
    expect(log.reloadFrom()).toBeNull();
  });
});
