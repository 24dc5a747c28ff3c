/**
 * The log pager: opened with `L` from a task or an agent, the whole log a page at a time (j/k,
 * PgUp/PgDn, g/G), `/` to search and n/N from match to match, new output followed at the end,
 * esc back; its keys are in the help bar and the `?` overlay.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { KeyCommand } from '../../../ui/keymap.js';
import { cleanupAll, open, workspace } from '../../helpers/ui.js';

afterEach(cleanupAll);

/** A task claimed by agent-1 whose log holds `count` numbered lines (a colour code in each). */
async function withLog(count: number) {
  const { ws, dir } = await workspace();
  const t = await ws.addTask({ title: 'Chatty', run: 'true' });
  await ws.claim('agent-1', { taskId: t.id });
  const file = ws.paths.log('agent-1', t.id);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const lines = Array.from({ length: count }, (_, i) =>
    i % 50 === 7 ? `line ${i + 1} \u001b[31mneedle\u001b[0m` : `line ${i + 1}`,
  );
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  const h = await open({ ws, dir });
  await h.run(KeyCommand.ViewBoard);
  await h.run(KeyCommand.Right); // ready → working
  await h.waitFor((f) => f.includes(`working 1/1 ${t.id}`), 'the working column');
  await h.run(KeyCommand.Open);
  await h.waitFor((f) => f.includes('History'), 'the task view');
  return { h, t, file };
}

const shows = (frame: string, n: number) => new RegExp(`^  line ${n}$`, 'm').test(frame);

describe('the log pager', () => {
  test('opens at the end of the whole log and scrolls with j/k, pages, g and G', async () => {
    const { h, t } = await withLog(500);
    expect(h.frame()).toMatch(/L log/);
    await h.run(KeyCommand.OpenLog);
    let frame = await h.waitFor((f) => f.includes(`Log of ${t.id} Chatty`) && shows(f, 500), 'the end');
    expect(frame).toContain('of 500 · following new output');
    expect(frame).not.toContain('\u001b');
    await h.run(KeyCommand.Top);
    frame = await h.waitFor((f) => shows(f, 1) && f.includes('lines 1-'), 'the top');
    expect(frame).toContain('G follows new output');
    await h.run(KeyCommand.Down);
    await h.waitFor((f) => !shows(f, 1) && shows(f, 2), 'one line down');
    await h.run(KeyCommand.PageDown);
    await h.waitFor((f) => !shows(f, 2) && f.includes('lines 3'), 'a page down');
    await h.run(KeyCommand.PageUp);
    await h.waitFor((f) => shows(f, 2), 'a page up');
    await h.run(KeyCommand.Bottom);
    await h.waitFor((f) => shows(f, 500) && f.includes('following new output'), 'the end again');
    await h.run(KeyCommand.Back);
    await h.waitFor((f) => f.includes('History'), 'back to the task');
  });

  test('/ searches, n and N go from match to match and wrap', async () => {
    const { h } = await withLog(500);
    await h.run(KeyCommand.OpenLog);
    await h.run(KeyCommand.Top);
    await h.waitFor((f) => shows(f, 1), 'the top');
    await h.run(KeyCommand.Filter);
    await h.type('NEEDLE');
    await h.press('enter');
    let frame = await h.waitFor((f) => f.includes('▶ line 8 needle'), 'the first match');
    expect(frame).toContain('"NEEDLE": 10 matching lines');
    await h.run(KeyCommand.SearchNext);
    frame = await h.waitFor((f) => f.includes('▶ line 58 needle'), 'the next match');
    expect(frame).toMatch(/^ {2}line 59$/m);
    await h.run(KeyCommand.SearchPrev);
    await h.waitFor((f) => f.includes('▶ line 8 needle'), 'the previous match');
    await h.run(KeyCommand.SearchPrev);
    await h.waitFor((f) => f.includes('▶ line 458 needle') && f.includes('wrapped'), 'wrapped to the last');
    await h.run(KeyCommand.Filter);
    await h.type('nothing like it');
    await h.press('enter');
    await h.waitFor((f) => f.includes('no line of this log holds'), 'no match');
  });

  test('follows new output at the end, and opens from the agent view too', async () => {
    const { h, file } = await withLog(5);
    await h.run(KeyCommand.OpenLog);
    await h.waitFor((f) => shows(f, 5), 'the log');
    fs.appendFileSync(file, 'line 6\nline 7\n');
    await h.waitFor((f) => shows(f, 7) && f.includes('of 7'), 'the new lines');
    await h.run(KeyCommand.Back);
    await h.run(KeyCommand.Back);
    await h.run(KeyCommand.ViewDashboard);
    await h.waitFor((f) => f.includes('Board backlog'), 'the dashboard');
    await h.run(KeyCommand.Open); // agent-1, which holds the task
    await h.waitFor((f) => f.includes('Mailbox'), 'the agent view');
    await h.run(KeyCommand.OpenLog);
    await h.waitFor((f) => f.includes('Log of') && shows(f, 7), 'its task log');
    await h.run(KeyCommand.Help);
    const help = await h.waitFor((f) => f.includes('search the log'), 'the help overlay');
    expect(help).toContain('next match of the search');
  });

  test('a log longer than the pager keeps: its end, saying where the rest is', async () => {
    const { h, t } = await withLog(300_000);
    await h.run(KeyCommand.OpenLog);
    const frame = await h.waitFor((f) => shows(f, 300_000), 'the end of a long log', 15_000);
    expect(frame).toContain(`of 50000 (the last ones; all: dreamos task log ${t.id})`);
    await h.run(KeyCommand.Top);
    await h.waitFor((f) => shows(f, 250_001), 'the first line kept');
  });
});
