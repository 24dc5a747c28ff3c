/**
 * followHistory (`dreamos log --follow`) over a history whose reads take a while to answer, as a
 * backend over the network's do: wake-ups that come while a read is under way must not make reads
 * overlap, or the same entries are handed over twice.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { followHistory } from '../../../src/history-follow.js';
import { initWorkspace, type Workspace } from '../../../src/index.js';
import type { History, HistoryFollower, HistoryMark } from '../../../state/backend.js';
import { tempDir } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
let ws: Workspace;

beforeEach(async () => {
  tmp = tempDir();
  ws = await initWorkspace({ dir: tmp.dir });
});
afterEach(async () => {
  await ws.close();
  tmp.cleanup();
});

/**
 * The workspace's history read the way a remote backend reads it: a follower asks for the entries
 * after its mark, and moves its mark only when the answer arrives, which is when the test says.
 * Its watch is woken by the test.
 */
class SlowHistory implements History {
  wake: () => void = () => undefined;
  private answers: Array<() => void> = [];

  constructor(
    private readonly inner: History,
    private readonly fail = false,
  ) {}

  forEach: History['forEach'] = (onEntry, options) => this.inner.forEach(onEntry, options);
  tail: History['tail'] = (limit, options) => this.inner.tail(limit, options);

  follow(mark?: HistoryMark): HistoryFollower {
    const { inner } = this;
    let at = mark ?? inner.follow().mark;
    const answered = () => new Promise<void>((resolve) => this.answers.push(resolve));
    const fail = this.fail;
    return {
      get mark() {
        return at;
      },
      async readNew() {
        const asked = inner.follow(at);
        const entries = await asked.readNew();
        await answered();
        if (fail) throw new Error('the connection was lost');
        at = asked.mark;
        return entries;
      },
    };
  }

  watch(onMaybeChanged: () => void) {
    this.wake = onMaybeChanged;
    return { close: () => (this.wake = () => undefined) };
  }

  /** Answer every read under way, until none is left. */
  async answerAll(): Promise<void> {
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      if (!this.answers.length) return;
      for (const answer of this.answers.splice(0)) answer();
    }
  }
}

describe('followHistory', () => {
  it('hands each entry over once, in order, however the wake-ups overlap the reads', async () => {
    const mark = await ws.history.forEach(() => {});
    const start = ws.view.seq;
    await ws.addTask({ title: 'before the watch' });
    const slow = new SlowHistory(ws.history);
    const seen: number[] = [];
    // Each read that found entries is told of after they were all handed over.
    const reads: number[][] = [];
    const following = followHistory(
      slow,
      mark,
      (e) => seen.push(e.seq),
      (entries) => {
        expect(seen.slice(-entries.length)).toEqual(entries.map((e) => e.seq));
        reads.push(entries.map((e) => e.seq));
      },
    );
    // Before any wake-up: the entry written between the mark and the watch.
    await slow.answerAll();
    expect(seen).toEqual([start + 1]);
    await ws.addTask({ title: 'a' });
    slow.wake();
    await ws.addTask({ title: 'b' });
    slow.wake();
    slow.wake();
    await slow.answerAll();
    await ws.addTask({ title: 'c' });
    slow.wake();
    slow.wake();
    await slow.answerAll();
    expect(ws.view.seq).toBe(start + 4);
    expect(seen).toEqual([start + 1, start + 2, start + 3, start + 4]);
    expect(reads.flat()).toEqual(seen);
    following.close();
    await following.done;
  });

  it('stops, and says why, when a read fails', async () => {
    const mark = await ws.history.forEach(() => {});
    const slow = new SlowHistory(ws.history, true);
    const following = followHistory(slow, mark, () => undefined);
    slow.wake();
    const stopped = expect(following.done).rejects.toThrow('the connection was lost');
    await slow.answerAll();
    await stopped;
  });
});
