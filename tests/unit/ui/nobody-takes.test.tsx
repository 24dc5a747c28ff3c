/** The console says when work waits for an agent that does not exist: dashboard, board, attention. */
import { afterEach, expect, test } from 'vitest';
import { KeyCommand } from '../../../ui/keymap.js';
import { cleanupAll, open, workspace } from '../../helpers/ui.js';

afterEach(cleanupAll);

test('a prompt task in a workspace of shell agents shows on the dashboard, the board and the list', async () => {
  const { ws, dir } = await workspace();
  const task = await ws.addTask({ title: 'Write the docs', prompt: 'write the docs' });
  const h = await open({ ws, dir });
  let frame = await h.waitFor((f) => f.includes('Attention: 1'), 'the attention count');
  expect(frame).not.toContain('nothing needs you');
  expect(frame).toMatch(new RegExp(`unassignable ${task.id}\\s+Write the docs: no agent takes prompt tasks`));

  await h.run(KeyCommand.ViewBoard);
  frame = await h.waitFor((f) => f.includes('READY (1)'), 'the board');
  expect(frame).toContain(`ready 1/1 ${task.id}`);
  expect(frame).toContain('⚠ unassignable: Write the docs: no agent takes prompt tasks');

  await h.run(KeyCommand.ViewAlerts);
  frame = await h.waitFor((f) => f.includes('Attention: 1 item'), 'the attention list');
  expect(frame).toMatch(
    new RegExp(`unassignable\\s+${task.id}\\s.*Write the docs: no agent takes prompt tasks`),
  );
});
