/**
 * "Journal lock held by a stopped process" is an attention item (issue 12): `attention`, `status`
 * and the console's view name the stopped holder and what to do, read without waiting for the
 * lock; once the holder is resumed the item goes.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AttentionItem } from '../../../src/attention.js';
import { openWorkspace } from '../../../src/workspace.js';
import { buildConsoleView } from '../../../ui/data/console-view.js';
import { waitFor } from '../../helpers/agents.js';
import { holdLock, type LockHolderProcess } from '../../helpers/busy-run.js';
import { type Board, board, show } from '../../helpers/cli.js';

let b: Board;
let holder: LockHolderProcess | null = null;

beforeEach(() => {
  b = board();
});
afterEach(async () => {
  await holder?.kill();
  holder = null;
  b.cleanup();
});

const isStopped = (pid: number) => {
  const r = b.run('status', '--json');
  const lock = r.json<{ journalLock: { pid: number; state: string } | null }>().journalLock;
  return lock?.pid === pid && lock.state === 'stopped';
};

describe('a journal lock held by a stopped process', () => {
  it('is an attention item in attention, status and the console, until the holder resumes', async () => {
    b.add('waiting work', '--run', 'true');
    holder = await holdLock(path.join(b.dir, '.dreamos'), b.dir);
    const { pid } = holder;
    expect(b.json<AttentionItem[]>('attention').filter((i) => i.reason === 'lock-stopped')).toEqual([]);

    holder.child.kill('SIGSTOP');
    await waitFor(() => isStopped(pid));

    const items = b.json<AttentionItem[]>('attention');
    expect(items[0]).toMatchObject({
      reason: 'lock-stopped',
      severity: 'critical',
      subject: `pid ${pid}`,
    });
    expect(items[0]!.text).toMatch(
      new RegExp(`^journal lock held by a stopped process \\(pid ${pid}, node `),
    );
    expect(items[0]!.action).toMatch(new RegExp(`\`kill -CONT ${pid}\``));
    const text = b.run('attention');
    expect(text.code, show(text)).toBe(0);
    expect(text.stdout).toMatch(/lock-stopped +critical/);

    const status = b.run('status');
    expect(status.code, show(status)).toBe(0);
    expect(status.stdout).toMatch(
      new RegExp(`journal lock held by a stopped process: it is held by pid ${pid} .*\`kill -CONT ${pid}\``),
    );

    const ws = await openWorkspace({ home: b.dir });
    try {
      expect(buildConsoleView(ws).attention[0]).toMatchObject({
        reason: 'lock-stopped',
        subject: `pid ${pid}`,
      });
    } finally {
      await ws.close();
    }

    // Resumed (it still holds the lock, but can let go): no longer an item.
    holder.child.kill('SIGCONT');
    await waitFor(() => !isStopped(pid));
    expect(b.json<AttentionItem[]>('attention').filter((i) => i.reason === 'lock-stopped')).toEqual([]);
    expect(b.run('status').stdout).not.toMatch(/stopped process/);
  }, 120_000);
});
