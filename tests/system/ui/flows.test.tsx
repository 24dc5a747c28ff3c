/** Keyboard flows, driven one key at a time as a user would, checked on screen and in the workspace. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { afterEach, describe, expect, test } from 'vitest';
import { KeyCommand } from '../../../ui/keymap.js';
import { cleanupAll, open } from '../../helpers/ui.js';
import { BIN } from '../../helpers/workspace.js';

afterEach(cleanupAll);

const bin = process.env.DREAMOS_TEST_BIN ?? BIN;

describe('keyboard flows', () => {
  test('add a task through the form', async () => {
    const h = await open();
    await h.run(KeyCommand.TaskAdd);
    await h.waitFor((f) => f.includes('Add a task'), 'the form');
    await h.press('enter');
    await h.waitFor((f) => f.includes('error: a task needs a title'), 'the form refusing an empty title');
    await h.type('Ship it');
    await h.press('tab');
    await h.type('echo shipped');
    await h.press('tab');
    await h.press('tab');
    await h.press('tab'); // priority
    await h.press('left'); // normal → high
    await h.press('enter');
    const frame = await h.waitFor((f) => f.includes('added'), 'the flash');
    expect(frame).not.toContain('Add a task');
    const [task] = h.ws.listTasks();
    expect(task).toMatchObject({
      title: 'Ship it',
      run: 'echo shipped',
      source: 'console',
      status: 'ready',
      priority: 'high',
    });
  });

  test('edit a task through the form', async () => {
    const h = await open();
    const t = await h.ws.addTask({ title: 'Old title', tags: ['a'] });
    await h.run(KeyCommand.ViewBoard);
    await h.waitFor((f) => f.includes(`ready 1/1 ${t.id}`), 'the task');
    await h.run(KeyCommand.TaskEdit);
    await h.waitFor((f) => f.includes(`Edit ${t.id}`) && f.includes('Old title'), 'the filled form');
    await h.press('ctrl-u');
    await h.type('New title');
    await h.press('enter');
    await h.waitFor((f) => f.includes(`${t.id} saved`), 'the flash');
    expect(h.ws.getTask(t.id)).toMatchObject({ title: 'New title', tags: ['a'] });
  });

  test('promote, move and raise the priority of a task on the board', async () => {
    const h = await open();
    const held = await h.ws.addTask({ title: 'Held back', hold: true });
    await h.run(KeyCommand.ViewBoard);
    await h.run(KeyCommand.Left); // ready → backlog
    await h.waitFor((f) => f.includes('backlog 1/1'), 'the backlog column');
    await h.run(KeyCommand.TaskPriorityUp);
    await h.waitFor((f) => f.includes('is now high'), 'the priority flash');
    await h.run(KeyCommand.TaskPromote);
    await h.waitFor((f) => f.includes('promoted to ready'), 'the promote flash');
    expect(h.ws.getTask(held.id).status).toBe('ready');
    await h.run(KeyCommand.Right);
    await h.waitFor((f) => f.includes(`ready 1/1 ${held.id}`), 'the ready column');
    await h.run(KeyCommand.TaskMove);
    await h.waitFor((f) => f.includes(`Move ${held.id} to`), 'the stage picker');
    await h.press('enter'); // the first choice: backlog
    await h.waitFor((f) => f.includes('moved to backlog'), 'the move flash');
    expect(h.ws.getTask(held.id).status).toBe('backlog');
  });

  test('approve a task from outside in its view; promote is refused for it', async () => {
    const h = await open();
    const lead = await h.ws.addTask({
      title: 'A lead',
      run: 'true',
      source: 'scout',
      dedupeKey: 'scout:x:1',
    });
    await h.run(KeyCommand.ViewBoard);
    await h.run(KeyCommand.Left); // ready → backlog
    await h.waitFor((f) => f.includes(`backlog 1/1 ${lead.id}`), 'the backlog column');
    await h.run(KeyCommand.TaskPromote);
    await h.waitFor((f) => f.includes('waits for approval'), 'the refusal');
    expect(h.ws.getTask(lead.id).status).toBe('backlog');
    await h.run(KeyCommand.Open);
    await h.waitFor((f) => f.includes('from scout') && f.includes('waits for approval (v)'), 'the task view');
    await h.run(KeyCommand.TaskApprove);
    await h.waitFor((f) => f.includes(`${lead.id} approved: ready to run`), 'the approve flash');
    await h.waitFor((f) => f.includes('approved by operator'), 'the task view after approval');
    expect(h.ws.getTask(lead.id)).toMatchObject({
      status: 'ready',
      approval: { status: 'approved', by: 'operator' },
    });
  });

  test('cancel asks first, with Cancel as the default', async () => {
    const h = await open();
    const t = await h.ws.addTask({ title: 'Maybe' });
    await h.run(KeyCommand.ViewBoard);
    await h.waitFor((f) => f.includes(`ready 1/1 ${t.id}`), 'the task');
    await h.run(KeyCommand.TaskCancel);
    let frame = await h.waitFor((f) => f.includes(`Cancel ${t.id}?`), 'the confirmation');
    expect(frame).toContain('▶[ Cancel ]');
    await h.press('enter'); // the default: Cancel
    await h.waitFor((f) => !f.includes(`Cancel ${t.id}?`), 'the dialog to close');
    expect(h.ws.getTask(t.id).status).toBe('ready');
    await h.run(KeyCommand.TaskCancel);
    await h.waitFor((f) => f.includes(`Cancel ${t.id}?`), 'the confirmation again');
    await h.press('right');
    frame = await h.waitFor((f) => f.includes('▶[ Confirm ]'), 'Confirm focused');
    await h.press('enter');
    await h.waitFor((f) => f.includes(`${t.id} cancelled`), 'the cancel flash');
    expect(h.ws.getTask(t.id).status).toBe('cancelled');
  });

  test('a move to a final stage asks first, and a refused move is a flash, not a crash', async () => {
    const h = await open();
    const t = await h.ws.addTask({ title: 'Not yet' });
    await h.run(KeyCommand.ViewBoard);
    await h.waitFor((f) => f.includes(`ready 1/1 ${t.id}`), 'the task');
    await h.run(KeyCommand.TaskMove);
    await h.press('down'); // done
    await h.press('enter');
    await h.waitFor((f) => f.includes(`Move ${t.id} to done?`), 'the confirmation');
    await h.press('y');
    await h.waitFor((f) => f.includes(`error: cannot move ${t.id} from ready to done`), 'the refusal');
    expect(h.ws.getTask(t.id).status).toBe('ready');
    await h.run(KeyCommand.TaskPromote);
    await h.waitFor(
      (f) => f.includes('warning: promote the task from backlog to ready: only a backlog task'),
      'why not',
    );
  });

  test('pause and resume an agent', async () => {
    const h = await open();
    await h.run(KeyCommand.Down); // agent-2
    await h.run(KeyCommand.AgentPauseResume);
    await h.waitFor((f) => f.includes('Infrastructure: paused') && f.includes('‖ paused'), 'the pause');
    expect(h.ws.agentStates()[1]).toMatchObject({ paused: true, status: 'paused' });
    await h.run(KeyCommand.AgentPauseResume);
    await h.waitFor((f) => f.includes('Infrastructure: resumed'), 'the resume');
    expect(h.ws.agentStates()[1]).toMatchObject({ paused: false, status: 'idle' });
    const directives = h.ws.mailbox('agent-2').map((m) => m.directive);
    expect(directives).toEqual(['pause', 'resume']);
  });

  test('restart and message an agent', async () => {
    const h = await open();
    await h.run(KeyCommand.AgentRestart);
    await h.waitFor((f) => f.includes('Restart Captain?'), 'the confirmation');
    await h.press('y');
    await h.waitFor((f) => f.includes('restart requested'), 'the flash');
    await h.run(KeyCommand.AgentMessage);
    await h.type('hi there');
    await h.waitFor((f) => f.includes('message to agent-1: hi there'), 'the prompt');
    await h.press('enter');
    await h.waitFor((f) => f.includes('message sent to agent-1'), 'the flash');
    expect(h.ws.mailbox('agent-1').map((m) => m.directive ?? m.body)).toEqual(['restart', 'hi there']);
  });

  test('filter the board', async () => {
    const h = await open();
    await h.ws.addTask({ title: 'alpha task' });
    await h.ws.addTask({ title: 'beta task' });
    await h.run(KeyCommand.ViewBoard);
    await h.waitFor((f) => f.includes('beta task'), 'the board');
    await h.run(KeyCommand.Filter);
    await h.type('alp');
    let frame = await h.waitFor((f) => f.includes('filter "alp": 1 of 2'), 'the filtered board');
    expect(frame).not.toContain('beta task');
    await h.press('enter');
    frame = await h.waitFor((f) => !f.includes('enter keeps the filter'), 'the filter kept');
    expect(frame).not.toContain('beta task');
    await h.run(KeyCommand.Back);
    await h.waitFor((f) => f.includes('beta task'), 'the filter cleared');
  });

  test('the help overlay and the command palette', async () => {
    const h = await open();
    const t = await h.ws.addTask({ title: 'Later', hold: true });
    await h.run(KeyCommand.Help);
    let frame = await h.waitFor((f) => f.includes('Keys'), 'the help');
    expect(frame).toContain('Move around');
    expect(frame).toContain('move down');
    await h.press('esc');
    await h.waitFor((f) => !f.includes('Move around'), 'the help to close');

    await h.run(KeyCommand.ViewBoard);
    await h.run(KeyCommand.Left);
    await h.waitFor((f) => f.includes(`backlog 1/1 ${t.id}`), 'the backlog');
    await h.run(KeyCommand.Palette);
    frame = await h.waitFor((f) => f.includes('Commands'), 'the palette');
    expect(frame).toContain('add a task');
    await h.type('promote');
    frame = await h.waitFor((f) => f.includes(': promote'), 'the narrowed palette');
    expect(frame).not.toContain('add a task');
    await h.press('enter');
    await h.waitFor((f) => f.includes('promoted to ready'), 'the promote');
    expect(h.ws.getTask(t.id).status).toBe('ready');
  });

  test('acknowledge and resolve an alert from the attention list', async () => {
    const h = await open();
    // Held: a ready task with nobody running the agents would be an attention item of its own.
    const t = await h.ws.addTask({ title: 'Slow one', run: 'true', hold: true });
    const at = new Date().toISOString();
    await h.ws.apply(() => ({
      change: {
        op: 'test-alert',
        by: 'test',
        counters: { alert: 2 },
        alerts: ['A-00001', 'A-00002'].map((id, i) => ({
          id,
          kind: 'overrun' as const,
          severity: 'warning' as const,
          status: 'open' as const,
          key: `overrun:${t.id}:${i}`,
          subject: i ? 'agent-3' : t.id,
          message: i ? 'agent-3 is slow' : `${t.id} runs past its timeout`,
          evidence: {},
          action: 'none',
          count: 1,
          createdAt: at,
          updatedAt: at,
          rev: 0,
        })),
      },
      result: undefined,
    }));
    await h.run(KeyCommand.ViewAlerts);
    await h.waitFor(
      (f) => f.includes('runs past its timeout') && f.includes('agent-3 is slow'),
      'the alerts',
    );
    await h.run(KeyCommand.AlertAck);
    await h.waitFor((f) => f.includes('acknowledged') && f.includes('Attention: 1 item'), 'the ack');
    await h.waitFor((f) => f.includes('· 1 open alert ·'), 'one open alert, in the singular');
    await h.run(KeyCommand.AlertResolve);
    await h.waitFor((f) => f.includes('resolved'), 'the resolve flash');
    const statuses = h.ws.alerts().map((a) => a.status);
    expect(statuses.sort()).toEqual(['acknowledged', 'resolved']);
    await h.waitFor((f) => f.includes('Nothing needs you'), 'an empty list');
    await h.run(KeyCommand.AlertAck);
    await h.waitFor((f) => f.includes('no open alert on this row'), 'why not');
  });

  test('read-only: changes are hidden everywhere', async () => {
    const h = await open({ readOnly: true });
    expect(h.frame()).toContain('[read-only]');
    expect(h.frame()).not.toMatch(/a add|P pause/);
    await h.run(KeyCommand.TaskAdd);
    await h.waitFor((f) => f.includes('hidden in a read-only console'), 'the refusal');
    await h.run(KeyCommand.Help);
    const frame = await h.waitFor((f) => f.includes('read-only: changes are hidden'), 'the help');
    expect(frame).toContain('move down');
    expect(frame).not.toMatch(/a {16} add a task/);
    expect(frame).not.toContain('cancel the task');
    expect(h.ws.listTasks()).toHaveLength(0);
  });

  test('changes made by another process show up live, and q quits', async () => {
    const h = await open();
    await h.run(KeyCommand.ViewBoard);
    if (!fs.existsSync(bin)) throw new Error('build first: node scripts/build.mjs --no-types');
    const added = spawnSync(process.execPath, [bin, 'task', 'add', 'From outside', '--json'], {
      cwd: h.dir,
      encoding: 'utf8',
    });
    expect(added.status, added.stderr).toBe(0);
    const started = Date.now();
    await h.waitFor((f) => f.includes('From outside'), 'the task added from outside', 2000);
    expect(Date.now() - started).toBeLessThan(2000);
    await h.run(KeyCommand.Quit);
    expect(h.quitCalls).toBe(1);
  });
});
