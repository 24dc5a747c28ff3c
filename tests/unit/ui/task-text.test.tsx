/**
 * A task's long text in the pager: `V` in the task view shows its whole prompt, its result's
 * summary and the notes of its history, wrapped, scrolled and searched like a log.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { KeyCommand } from '../../../ui/keymap.js';
import { cleanupAll, open } from '../../helpers/ui.js';

afterEach(cleanupAll);

describe('the task text pager', () => {
  test('shows the whole prompt, summary and notes; scrolls, searches, goes back', async () => {
    const h = await open();
    const prompt = Array.from({ length: 120 }, (_, i) => `prompt line ${i + 1}`).join('\n');
    const wide = `a wide line ${'x'.repeat(150)} END`;
    const t = await h.ws.addTask({ title: 'Wordy', run: 'true', prompt: `${prompt}\n${wide}`, hold: true });
    await h.ws.promote(t.id, 'kept for the record');
    await h.ws.claim('agent-1', { taskId: t.id });
    await h.ws.complete(t.id, { agent: 'agent-1', summary: 'All done.\nSecond line of the summary.' });
    await h.run(KeyCommand.ViewBoard);
    for (let i = 0; i < 3; i++) await h.run(KeyCommand.Right); // ready → working → review → done
    await h.waitFor((f) => f.includes(`done 1/1 ${t.id}`), 'the done column');
    await h.run(KeyCommand.Open);
    await h.waitFor((f) => f.includes('History'), 'the task view');
    expect(h.frame()).toContain('V text');

    await h.run(KeyCommand.OpenText);
    let frame = await h.waitFor((f) => f.includes(`Text of ${t.id} Wordy`), 'the text pager');
    expect(frame).toContain('── Prompt ──');
    expect(frame).toMatch(/^ {2}prompt line 1$/m);
    expect(frame).not.toContain('following new output');

    await h.run(KeyCommand.Bottom);
    frame = await h.waitFor((f) => f.includes('kept for the record'), 'the end');
    expect(frame).toContain('── Summary (ok) ──');
    expect(frame).toContain('Second line of the summary.');
    expect(frame).toContain('── Notes ──');
    expect(frame).toContain('xx END');

    await h.run(KeyCommand.Filter);
    await h.type('line 77');
    await h.press('enter');
    await h.waitFor((f) => f.includes('▶ prompt line 77'), 'the match');
    await h.run(KeyCommand.Back);
    await h.run(KeyCommand.Back);
    await h.waitFor((f) => f.includes('History') && !f.includes('Text of'), 'back to the task');
  });
});
