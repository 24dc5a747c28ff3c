/**
 * The journal view, calm: heartbeats and lease renewals hidden until `.` shows them, filters by
 * task, agent and kind typed after `/`, and follow mode (`f`) that stays on a row or follows the
 * newest one.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { planHeartbeat } from '../../../src/orchestrator/plans.js';
import type { Workspace } from '../../../src/workspace.js';
import { keepRows } from '../../../ui/data/journal.js';
import { KeyCommand } from '../../../ui/keymap.js';
import { cleanupAll, open } from '../../helpers/ui.js';

afterEach(cleanupAll);

async function heartbeat(ws: Workspace): Promise<void> {
  await ws.db.transact((view, now) =>
    planHeartbeat(
      { view, now, by: 'orchestrator', policies: ws.config.policies },
      new Map([['agent-1', null]]),
    ),
  );
}

/** The rows of the journal as shown: `op by summary`, one per line, without the time. */
const rowsOf = (frame: string) =>
  frame
    .split('\n')
    .filter((line) => /^[▶ ]\s+\d+\s+\d\d:\d\d:\d\d/.test(line))
    .map((line) => line.replace(/^([▶ ])\s+\d+\s+\d\d:\d\d:\d\d\s+/, '$1 ').replace(/\s+/g, ' '));

describe('the journal view', () => {
  test('hides heartbeats and renewals until . shows them', async () => {
    const h = await open();
    const a = await h.ws.addTask({ title: 'Alpha', run: 'true' });
    await h.ws.claim('agent-1', { taskId: a.id });
    await h.ws.renew(a.id, 'agent-1');
    await heartbeat(h.ws);
    await heartbeat(h.ws);
    await h.ws.addTask({ title: 'Bravo' });
    await h.run(KeyCommand.ViewJournal);
    let frame = await h.waitFor((f) => f.includes('Bravo'), 'the journal');
    expect(frame).toContain('3 heartbeats hidden (. shows)');
    expect(rowsOf(frame).some((r) => /^. (heartbeat|renew) /.test(r))).toBe(false);
    expect(rowsOf(frame).some((r) => r.includes('Alpha'))).toBe(true);

    await h.run(KeyCommand.JournalNoise);
    frame = await h.waitFor((f) => f.includes('heartbeats shown (. hides)'), 'the heartbeats shown');
    const ops = rowsOf(frame).map((r) => r.split(' ')[1]);
    expect(ops.filter((op) => op === 'heartbeat')).toHaveLength(2);
    expect(ops.filter((op) => op === 'renew')).toHaveLength(1);

    await h.run(KeyCommand.JournalNoise);
    frame = await h.waitFor((f) => f.includes('hidden (. shows)'), 'hidden again');
    expect(rowsOf(frame).some((r) => /^. heartbeat /.test(r))).toBe(false);

    // A filter that asks for a kind of heartbeat shows it, hidden or not.
    await h.run(KeyCommand.Filter);
    await h.type('kind:heart');
    await h.press('enter');
    frame = await h.waitFor((f) => f.includes('(filter "kind:heart")'), 'the kind filter');
    expect(rowsOf(frame).map((r) => r.split(' ')[1])).toEqual(['heartbeat', 'heartbeat']);
  });

  test('filters by task, agent and kind, with words', async () => {
    const h = await open();
    const a = await h.ws.addTask({ title: 'Alpha', run: 'true' });
    const b = await h.ws.addTask({ title: 'Bravo', run: 'true' });
    await h.ws.claim('agent-1', { taskId: a.id });
    await h.ws.sendMail({ to: 'agent-2', body: 'look at the flaky test' });
    await h.run(KeyCommand.ViewJournal);
    await h.waitFor((f) => f.includes('mail operator→agent-2'), 'the journal');

    const filter = async (text: string) => {
      await h.run(KeyCommand.Filter);
      await h.press('ctrl-u');
      await h.type(text);
      await h.press('enter');
      return rowsOf(await h.waitFor((f) => f.includes(`(filter "${text}")`), `the filter ${text}`));
    };
    let rows = await filter(`task:${a.id}`);
    expect(rows.length).toBe(2);
    expect(rows.every((r) => r.includes(a.id))).toBe(true);
    expect(rows.some((r) => r.includes(b.id))).toBe(false);

    rows = await filter('agent:agent-2');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toContain('mail operator→agent-2');

    rows = await filter('kind:claim');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toContain(a.id);

    rows = await filter(`task:${b.id} task:${a.id} kind:add Bravo`);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toContain(b.id);

    rows = await filter('agent:agent-7');
    expect(rows).toEqual([]);
    expect(h.frame()).toContain('(no entries)');
  });

  test('follows new changes, stays on its row when paused with f, and follows again', async () => {
    const h = await open();
    await h.ws.addTask({ title: 'First' });
    await h.run(KeyCommand.ViewJournal);
    let frame = await h.waitFor((f) => f.includes('First'), 'the journal');
    expect(frame).toContain('following (f stays)');
    expect(rowsOf(frame).at(-1)).toMatch(/^▶ .*First/);

    await h.ws.addTask({ title: 'Second' });
    frame = await h.waitFor((f) => f.includes('Second'), 'the new change');
    expect(rowsOf(frame).at(-1)).toMatch(/^▶ .*Second/);

    await h.run(KeyCommand.JournalFollow);
    frame = await h.waitFor((f) => f.includes('paused (f follows)'), 'paused');
    await h.ws.addTask({ title: 'Third' });
    await h.ws.addTask({ title: 'Fourth' });
    frame = await h.waitFor((f) => f.includes('Fourth') && f.includes('2 newer below'), 'new rows below');
    expect(rowsOf(frame).find((r) => r.startsWith('▶'))).toContain('Second');

    await h.run(KeyCommand.Up);
    frame = await h.waitFor((f) => f.includes('3 newer below'), 'one up');
    expect(rowsOf(frame).find((r) => r.startsWith('▶'))).toContain('First');

    await h.run(KeyCommand.JournalFollow);
    frame = await h.waitFor((f) => f.includes('following (f stays)'), 'following again');
    expect(rowsOf(frame).at(-1)).toMatch(/^▶ .*Fourth/);
    await h.ws.addTask({ title: 'Fifth' });
    frame = await h.waitFor((f) => f.includes('Fifth'), 'the newest');
    expect(rowsOf(frame).at(-1)).toMatch(/^▶ .*Fifth/);

    // Moving up stops following; G follows again.
    await h.run(KeyCommand.Up);
    await h.waitFor((f) => f.includes('1 newer below'), 'moved up');
    await h.run(KeyCommand.Bottom);
    await h.waitFor((f) => f.includes('following (f stays)'), 'G follows');
  });
});

describe('the rows the journal keeps', () => {
  test('heartbeats never push the real changes out: they keep a quarter of the rows', () => {
    const row = (seq: number, op: string) => ({
      seq,
      at: '',
      op,
      by: 'x',
      summary: '',
      tasks: [],
      agents: [],
    });
    const rows = Array.from({ length: 100 }, (_, i) => row(i, i % 10 === 0 ? 'add' : 'heartbeat'));
    const kept = keepRows(rows, 8);
    expect(kept.map((r) => r.seq)).toEqual([20, 30, 40, 50, 60, 70, 80, 90, 98, 99]);
  });
});
