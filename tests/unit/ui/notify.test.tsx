/**
 * Being told without watching: a new attention item rings the bell and sends OSC 9 and OSC 777
 * notifications (wrapped for tmux inside it), with text that cannot carry escapes of its own; the
 * header counts the items not seen until the attention view opens; config.json turns each off, and
 * a read-only console sends nothing.
 */
import fs from 'node:fs';
import { afterEach, describe, expect, test } from 'vitest';
import { openWorkspace, type Workspace } from '../../../src/workspace.js';
import type { AttentionItem } from '../../../ui/data/attention.js';
import { KeyCommand } from '../../../ui/keymap.js';
import { inboxStep, noticeBytes, noticeFor, noticeText } from '../../../ui/notify.js';
import { cleanupAll, open, sleep, workspace } from '../../helpers/ui.js';

afterEach(cleanupAll);

const BEL = '\u0007';
const ESC = '\u001b';

/** A task that fails for good, its reason carrying escape sequences of its own. */
async function failOne(ws: Workspace, title: string): Promise<string> {
  const t = await ws.addTask({ title, run: 'exit 1', maxAttempts: 1 });
  await ws.claim('agent-1', { taskId: t.id });
  await ws.fail(t.id, { reason: `boom${ESC}]777;notify;pwned;now${BEL}${ESC}[2J; rm -rf`, agent: 'agent-1' });
  return t.id;
}

describe('notification bytes', () => {
  test('the bell, then OSC 9 and OSC 777, whose text holds no control character and no ;', () => {
    const bytes = noticeBytes(
      { title: `Dream.OS x: failed${ESC}]0;title${BEL}`, body: `T-1;${ESC}[31mred\u009b2J\r\nnext` },
      { bell: true, desktop: true, tmux: false },
    );
    expect(bytes).toBe(
      `${BEL}${ESC}]9;Dream.OS x: failed: T-1,red next${BEL}${ESC}]777;notify;Dream.OS x: failed;T-1,red next${BEL}`,
    );
    expect(noticeText('a'.repeat(500)).length).toBe(160);
  });

  test('inside tmux the sequences go through its passthrough, escapes doubled', () => {
    const bytes = noticeBytes({ title: 't', body: 'b' }, { bell: true, desktop: true, tmux: true });
    expect(bytes).toBe(
      `${BEL}${ESC}Ptmux;${ESC}${ESC}]9;t: b${BEL}${ESC}\\${ESC}Ptmux;${ESC}${ESC}]777;notify;t;b${BEL}${ESC}\\`,
    );
    expect(noticeBytes({ title: 't', body: 'b' }, { bell: false, desktop: true, tmux: false })).not.toContain(
      `${BEL}${ESC}]9`,
    );
    expect(noticeBytes({ title: 't', body: 'b' }, { bell: true, desktop: false, tmux: false })).toBe(BEL);
  });
});

describe('what is new and what is seen', () => {
  const item = (key: string): AttentionItem => ({
    key,
    reason: 'failed',
    severity: 'critical',
    subject: key,
    text: `${key} failed`,
    action: 'retry it',
    at: '2026-01-01T00:00:00.000Z',
    alerts: [],
    also: [],
  });

  test('items there at the first look are neither new nor unseen; one that comes back is new again', () => {
    let step = inboxStep(null, [item('task:A')], false);
    expect(step.fresh).toEqual([]);
    expect(step.marks.unseen.size).toBe(0);
    step = inboxStep(step.marks, [item('task:A'), item('task:B'), item('task:C')], false);
    expect(step.fresh.map((i) => i.key)).toEqual(['task:B', 'task:C']);
    expect([...step.marks.unseen]).toEqual(['task:B', 'task:C']);
    // C leaves: no longer unseen; it comes back: new again.
    step = inboxStep(step.marks, [item('task:A'), item('task:B')], false);
    expect(step.fresh).toEqual([]);
    expect([...step.marks.unseen]).toEqual(['task:B']);
    step = inboxStep(step.marks, [item('task:A'), item('task:B'), item('task:C')], false);
    expect(step.fresh.map((i) => i.key)).toEqual(['task:C']);
    // Looking at the inbox sees everything on it; a new item is still rung for.
    step = inboxStep(step.marks, [item('task:A'), item('task:B'), item('task:C'), item('task:D')], true);
    expect(step.fresh.map((i) => i.key)).toEqual(['task:D']);
    expect(step.marks.unseen.size).toBe(0);
  });

  test('one notice for several items names the first two and counts the rest', () => {
    const notice = noticeFor([item('task:A'), item('task:B'), item('task:C')], 'night');
    expect(notice.title).toBe('Dream.OS night: 3 new items need you');
    expect(notice.body).toBe('task:A (failed): task:A failed · task:B (failed): task:B failed and 1 more');
    expect(noticeFor([item('task:A')], 'night')).toEqual({
      title: 'Dream.OS night: failed',
      body: 'task:A: task:A failed',
    });
  });
});

/** The attention tab's count of unseen items (below 120 columns the tab shows its number only). */
const UNSEEN_RE = / 3 (Attention )?\d+ new/;

describe('the console tells of new attention items', () => {
  test('rings and notifies once per new item, and counts it until the attention view opens', async () => {
    const h = await open();
    await sleep(300);
    expect(h.rung).toEqual([]);
    const id = await failOne(h.ws, 'Flaky login');
    const frame = await h.waitFor((f) => UNSEEN_RE.test(f), 'the unseen count');
    await h.waitFor(() => h.rung.join('').includes(id), 'the notification');
    const bytes = h.rung.join('');
    expect(bytes.startsWith(BEL)).toBe(true);
    expect(bytes).toContain(`${ESC}]9;Dream.OS dreamos:`);
    expect(bytes).toContain(`${ESC}]777;notify;Dream.OS dreamos:`);
    // Three escapes (two OSC sequences): the failure's own escape sequences were removed.
    expect(bytes.split(ESC)).toHaveLength(3);
    expect(bytes).not.toContain('pwned');
    expect(frame).toMatch(/ 3 (Attention )?1 new/);

    await h.run(KeyCommand.ViewAlerts);
    await h.waitFor((f) => f.includes(id) && !UNSEEN_RE.test(f), 'seen');
    await h.run(KeyCommand.ViewDashboard);
    const rungBefore = h.rung.length;
    await failOne(h.ws, 'Flaky signup');
    await h.waitFor((f) => / 3 (Attention )?1 new/.test(f), 'one new again');
    // Gathered into one notice after the quiet interval (10 s by default): not rung yet.
    expect(h.rung.length).toBe(rungBefore);
  });

  test('config.json turns the bell and the notifications off; the count stays', async () => {
    const { dir, ws } = await workspace();
    const configPath = ws.paths.config;
    const config = JSON.parse(fs.readFileSync(configPath, 'utf8'));
    config.console = { bell: false, desktop: false };
    fs.writeFileSync(configPath, JSON.stringify(config));
    const quiet = await openWorkspace({ home: ws.home });
    try {
      const h = await open({ ws: quiet, dir });
      await failOne(quiet, 'Quietly broken');
      await h.waitFor((f) => UNSEEN_RE.test(f), 'the unseen count');
      await sleep(200);
      expect(h.rung).toEqual([]);
    } finally {
      await quiet.close();
    }
  });

  test('a read-only console sends nothing', async () => {
    const { dir, ws } = await workspace();
    const watcher = await openWorkspace({ home: ws.home, readOnly: true });
    try {
      const h = await open({ ws: watcher, dir, readOnly: true });
      await failOne(ws, 'Broken while watched');
      await h.waitFor((f) => UNSEEN_RE.test(f), 'the unseen count');
      await sleep(200);
      expect(h.rung).toEqual([]);
    } finally {
      await watcher.close();
    }
  });
});
