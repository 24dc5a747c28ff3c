import fs from 'node:fs';
import path from 'node:path';
import chalk from 'chalk';
import { render } from 'ink-testing-library';
import { afterEach, describe, expect, onTestFinished, test } from 'vitest';
import { demoAgents } from '../../../src/demo.js';
import { App } from '../../../ui/App.js';
import { KeyCommand } from '../../../ui/keymap.js';
import { colourTheme, noColourTheme, themeFor } from '../../../ui/theme.js';
import { cleanupAll, open, workspace } from '../../helpers/ui.js';
import { ROLE_NAMES } from '../../helpers/workspace.js';

afterEach(cleanupAll);

describe('views', () => {
  test('dashboard: a pane per agent (simulated ones say so), the board summary, open alerts', async () => {
    const { ws, dir } = await workspace(demoAgents());
    const task = await ws.addTask({ title: 'Build it' });
    await ws.claim('agent-2', { taskId: task.id });
    fs.mkdirSync(path.dirname(ws.paths.log('agent-2', task.id)), { recursive: true });
    fs.writeFileSync(
      ws.paths.log('agent-2', task.id),
      'compiling\n\u001b[2J\u001b[31mdone compiling\u001b[0m\n',
    );
    const h = await open({ ws, dir });
    const frame = await h.waitFor((f) => f.includes('done compiling'), 'the log line');
    for (const name of ROLE_NAMES) expect(frame).toContain(name);
    expect(frame.match(/\[simulated\]/g)).toHaveLength(4);
    expect(frame).toContain(`● working ${task.id} Build it`);
    expect(frame).toMatch(/Board backlog 0 · ready 0 · working 1/);
    expect(frame).toContain('Attention: nothing needs you');
    expect(frame).not.toContain('\u001b[2J');
  });

  test('board: a column per stage with counts, only the visible rows of 10,000 tasks', async () => {
    const { ws, dir } = await workspace();
    await ws.importTasks(Array.from({ length: 10_000 }, (_, i) => ({ title: `bulk task ${i + 1}` })));
    const h = await open({ ws, dir });
    await h.run(KeyCommand.ViewBoard);
    let frame = await h.waitFor((f) => f.includes('READY (10000)'), 'the board');
    expect(frame).toContain('BACKLOG (0)');
    expect(frame).toContain('WORKING (0)');
    expect(frame).toContain('ready 1/10000');
    expect(frame.split('\n').length).toBeLessThanOrEqual(40);
    expect((frame.match(/bulk task/g) ?? []).length).toBeLessThan(40);
    await h.run(KeyCommand.Bottom);
    frame = await h.waitFor((f) => f.includes('ready 10000/10000'), 'the last row');
    await h.run(KeyCommand.PageUp);
    await h.waitFor((f) => /ready 99\d\d\/10000/.test(f), 'a page up');
    await h.run(KeyCommand.Right);
    await h.waitFor((f) => f.includes('working 0/0'), 'the next column');
  });

  test('one task is "1 task" in the footer, the dashboard summary and the board status line', async () => {
    const { ws, dir } = await workspace();
    await ws.addTask({ title: 'Only one' });
    const h = await open({ ws, dir });
    let frame = await h.waitFor((f) => f.includes('(1 task, journal #'), 'the board summary');
    expect(frame).toContain('1 task · 0 open alerts');
    await h.run(KeyCommand.ViewBoard);
    frame = await h.waitFor((f) => f.includes('ready 1/1'), 'the board');
    expect(frame).toMatch(/ready 1\/1 \S+ {3}1 task\b/);
    expect(frame).not.toMatch(/\b1 tasks\b/);
  });

  test('agent detail: state, checkpoint, mailbox and log', async () => {
    const h = await open();
    await h.ws.sendMail({ to: 'agent-1', body: 'hello captain' });
    await h.run(KeyCommand.Open);
    const frame = await h.waitFor((f) => f.includes('Mailbox'), 'the agent view');
    expect(frame).toContain('agent-1 · captain');
    expect(frame).toContain('Checkpoint');
    await h.waitFor((f) => f.includes('hello captain'), 'the mail');
    await h.run(KeyCommand.Back);
    await h.waitFor((f) => f.includes('Attention: nothing needs you'), 'the dashboard again');
  });

  test('task detail: fields, history and log; attention lists the failure and opens it', async () => {
    const { ws, dir } = await workspace();
    const t = await ws.addTask({ title: 'Doomed', run: 'exit 1', maxAttempts: 1, tags: ['x'] });
    await ws.claim('agent-1', { taskId: t.id });
    fs.mkdirSync(path.dirname(ws.paths.log('agent-1', t.id)), { recursive: true });
    fs.writeFileSync(ws.paths.log('agent-1', t.id), 'it broke\n');
    await ws.fail(t.id, { reason: 'exit 1', agent: 'agent-1' });
    const h = await open({ ws, dir });
    await h.run(KeyCommand.ViewAlerts);
    await h.waitFor((f) => f.includes('failed') && f.includes(t.id), 'the attention row');
    await h.run(KeyCommand.Open);
    const frame = await h.waitFor((f) => f.includes('History') && f.includes('it broke'), 'the task view');
    expect(frame).toContain('Doomed');
    expect(frame).toContain('ready → working');
    expect(frame).toContain('exit 1');
  });

  test('journal and metrics', async () => {
    const h = await open();
    await h.ws.addTask({ title: 'Journaled' });
    await h.run(KeyCommand.ViewJournal);
    await h.waitFor((f) => f.includes('Journal: the last') && f.includes('Journaled'), 'the journal');
    await h.run(KeyCommand.ViewMetrics);
    const frame = await h.waitFor((f) => f.includes('throughput'), 'the metrics');
    expect(frame).toContain('Utilisation');
    for (const name of ROLE_NAMES) expect(frame).toContain(name);
  });

  test('below the minimum size the console says so', async () => {
    const h = await open({ size: { columns: 70, rows: 20 } });
    expect(h.frame()).toContain('the terminal is too small');
    expect(h.frame()).toContain('It is 70×20; the console needs at least 80×24');
    expect(h.frame()).not.toContain('Dashboard');
    await h.run(KeyCommand.Quit);
    expect(h.quitCalls).toBe(1);
  });

  test('NO_COLOR: no colour codes at all, meaning kept in words and symbols', async () => {
    expect(themeFor({ NO_COLOR: '1' })).toBe(noColourTheme);
    expect(themeFor({ NO_COLOR: '' })).toBe(colourTheme);
    expect(themeFor({})).toBe(colourTheme);
    const { ws } = await workspace(demoAgents());
    const level = chalk.level;
    chalk.level = 1; // as in a colour terminal (vitest's output is not one)
    onTestFinished(() => {
      chalk.level = level;
    });
    const colour = /\u001b\[(3[0-9]|9[0-7]|4[0-9]|10[0-7])(;\d+)*m/;
    const plain = render(
      <App ws={ws} size={{ columns: 100, rows: 40 }} theme={themeFor({ NO_COLOR: '1' })} />,
    );
    const coloured = render(<App ws={ws} size={{ columns: 100, rows: 40 }} theme={colourTheme} />);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(plain.lastFrame()).toContain('[simulated]');
    expect(plain.lastFrame()).toContain('○ idle');
    expect(colour.test(plain.lastFrame() ?? '')).toBe(false);
    expect(colour.test(coloured.lastFrame() ?? '')).toBe(true);
  });
});
