/**
 * Keys that arrive in one write (a paste, a macro, fast typing over SSH): each is a key, in order,
 * escape sequences included; text for a field stays text; a confirmation is never answered by keys
 * that arrived with the one that opened it.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { KeyCommand } from '../../../ui/keymap.js';
import { cleanupAll, open } from '../../helpers/ui.js';

afterEach(cleanupAll);

async function board(count: number) {
  const h = await open();
  const ids: string[] = [];
  for (let i = 1; i <= count; i++) ids.push((await h.ws.addTask({ title: `Task ${i}` })).id);
  await h.run(KeyCommand.ViewBoard);
  await h.waitFor((f) => f.includes(`ready 1/${count} ${ids[0]}`), 'the board');
  return { h, ids };
}

describe('several keys in one write', () => {
  test('`jjj` moves three rows, and arrows mixed with letters move too', async () => {
    const { h, ids } = await board(6);
    await h.write('jjj');
    await h.waitFor((f) => f.includes(`ready 4/6 ${ids[3]}`), 'three rows down');
    await h.write('k\u001b[Bj\u001b[B');
    await h.waitFor((f) => f.includes(`ready 6/6 ${ids[5]}`), 'two rows further');
  });

  test('`23` and two tabs switch views twice', async () => {
    const h = await open();
    await h.write('23');
    await h.waitFor((f) => f.includes('Attention: 0 items'), 'the attention view');
    await h.write('1');
    await h.waitFor((f) => f.includes('Board backlog'), 'the dashboard');
    await h.write('\t\t');
    await h.waitFor((f) => f.includes('Attention: 0 items'), 'two views on');
  });

  test('a write that opens the form goes on as its text; a paste stays text, line breaks included', async () => {
    const { h } = await board(1);
    await h.write('aPasted title\rsecond line');
    await h.waitFor((f) => f.includes('Add a task') && f.includes('Pasted title second line'), 'the form');
    expect(h.ws.listTasks()).toHaveLength(1);
    await h.write('\u0015');
    await h.waitFor((f) => !f.includes('Pasted title'), 'the title cleared');
    await h.write('Typed fast');
    await h.waitFor((f) => f.includes('Typed fast'), 'the new title');
    await h.press('enter');
    await h.waitFor((f) => f.includes('added'), 'the task added');
    expect(h.ws.listTasks().map((t) => t.title)).toContain('Typed fast');
  });

  test('a confirmation is not answered by keys of the same write', async () => {
    const { h, ids } = await board(2);
    await h.write('jxy');
    await h.waitFor((f) => f.includes(`Cancel ${ids[1]}?`), 'the confirmation');
    expect(h.ws.getTask(ids[1]!).status).toBe('ready');
    await h.press('y');
    await h.waitFor((f) => f.includes('cancelled'), 'the cancel');
    expect(h.ws.getTask(ids[1]!).status).toBe('cancelled');
  });
});
