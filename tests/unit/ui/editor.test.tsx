/**
 * Long text: ctrl-e writes a task's prompt, a message or a confirmation's note in $VISUAL/$EDITOR (a
 * fake editor script here, which records what it was given and writes what the test wants), and in
 * the multi-line editor when neither is set. An editor that fails or leaves the file empty changes
 * nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { KeyCommand } from '../../../ui/keymap.js';
import { cleanupAll, open } from '../../helpers/ui.js';
import { tempDir } from '../../helpers/workspace.js';

const saved = { VISUAL: process.env.VISUAL, EDITOR: process.env.EDITOR };
let tmp: ReturnType<typeof tempDir>;

/** The fake editor: records the file's mode, path and text, then writes `next` into it (or fails). */
function fakeEditor(next: string | null, exit = 0): string {
  const script = path.join(tmp.dir, 'fake-editor.sh');
  if (next !== null) fs.writeFileSync(path.join(tmp.dir, 'next'), next);
  else fs.rmSync(path.join(tmp.dir, 'next'), { force: true });
  fs.writeFileSync(
    script,
    [
      '#!/bin/sh',
      `out='${tmp.dir}'`,
      'stat -c %a "$1" > "$out/mode"',
      'printf %s "$1" > "$out/path"',
      'cat "$1" > "$out/before"',
      'if [ -f "$out/next" ]; then cat "$out/next" > "$1"; else : > "$1"; fi',
      `exit ${exit}`,
    ].join('\n'),
  );
  return `sh ${script}`;
}
const record = (name: string) => fs.readFileSync(path.join(tmp.dir, name), 'utf8');

beforeEach(() => {
  tmp = tempDir('dreamos-editor-');
  delete process.env.VISUAL;
  delete process.env.EDITOR;
});
afterEach(async () => {
  await cleanupAll();
  tmp.cleanup();
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

const CTRL_E = '\u0005';
const CTRL_S = '\u0013';

describe('$VISUAL and $EDITOR', () => {
  test('the task form writes its prompt in the editor, from a temporary file of mode 600', async () => {
    process.env.EDITOR = 'false';
    process.env.VISUAL = fakeEditor('Fix the login bug.\n\nSteps:\n1. open the page\n\n\n');
    const h = await open();
    await h.run(KeyCommand.TaskAdd);
    await h.waitFor((f) => f.includes('Add a task'), 'the form');
    await h.type('Login');
    await h.write(CTRL_E);
    const frame = await h.waitFor((f) => f.includes('prompt written (4 lines)'), 'the prompt written');
    expect(frame).toContain('Fix the login bug. (+3 lines)');
    expect(record('mode').trim()).toBe('600');
    expect(record('before')).toBe('');
    expect(fs.existsSync(record('path'))).toBe(false);
    await h.press('enter');
    await h.waitFor((f) => f.includes('added'), 'the task added');
    const [task] = h.ws.listTasks();
    expect(task).toMatchObject({ title: 'Login', prompt: 'Fix the login bug.\n\nSteps:\n1. open the page' });

    // Editing it again starts from the prompt the task has.
    await h.run(KeyCommand.ViewBoard);
    await h.waitFor((f) => f.includes(`ready 1/1 ${task!.id}`), 'the board');
    process.env.VISUAL = fakeEditor('Fix the login bug, again.');
    await h.run(KeyCommand.TaskEdit);
    await h.waitFor((f) => f.includes(`Edit ${task!.id}`), 'the edit form');
    await h.write(CTRL_E);
    await h.waitFor((f) => f.includes('prompt written (1 line)'), 'written again');
    expect(record('before')).toBe('Fix the login bug.\n\nSteps:\n1. open the page\n');
    await h.press('enter');
    await h.waitFor((f) => f.includes(`${task!.id} saved`), 'saved');
    expect(h.ws.getTask(task!.id).prompt).toBe('Fix the login bug, again.');
  });

  test('an editor that exits non-zero, or leaves the file empty, changes nothing', async () => {
    process.env.EDITOR = fakeEditor('never kept', 3);
    const h = await open();
    await h.run(KeyCommand.TaskAdd);
    await h.waitFor((f) => f.includes('Add a task'), 'the form');
    await h.type('Kept');
    await h.write(CTRL_E);
    let frame = await h.waitFor((f) => f.includes('exited with status 3'), 'the refusal');
    expect(frame).toContain('nothing changed');
    expect(frame).not.toContain('never kept');
    expect(frame).toContain('Add a task');

    process.env.EDITOR = fakeEditor(null);
    await h.write(CTRL_E);
    frame = await h.waitFor((f) => f.includes('the file was left empty'), 'the empty file');
    await h.press('enter');
    await h.waitFor((f) => f.includes('added'), 'added');
    expect(h.ws.listTasks()[0]?.prompt).toBeUndefined();
  });

  test('a message to an agent, and the note of a cancel, written in the editor', async () => {
    process.env.EDITOR = fakeEditor('Stop touching the schema.\nAsk me first.');
    const h = await open();
    await h.waitFor((f) => f.includes('Captain'), 'the dashboard');
    await h.run(KeyCommand.AgentMessage);
    await h.waitFor((f) => f.includes('message to agent-1:'), 'the message line');
    await h.write(CTRL_E);
    await h.waitFor((f) => f.includes('Stop touching the schema. (+1 line)'), 'the message written');
    await h.press('enter');
    await h.waitFor((f) => f.includes('message sent to agent-1'), 'sent');
    expect(h.ws.mailbox('agent-1').map((m) => m.body)).toContain('Stop touching the schema.\nAsk me first.');

    const t = await h.ws.addTask({ title: 'Unwanted', source: 'scout', dedupeKey: 'scout:x:2' });
    process.env.EDITOR = fakeEditor('Out of scope for this release.');
    await h.run(KeyCommand.ViewBoard);
    await h.run(KeyCommand.Left);
    await h.waitFor((f) => f.includes(`backlog 1/1 ${t.id}`), 'the task waiting for approval');
    await h.run(KeyCommand.TaskCancel);
    await h.waitFor((f) => f.includes(`Cancel ${t.id}?`), 'the confirmation');
    await h.write(CTRL_E);
    await h.waitFor((f) => f.includes('note: Out of scope for this release.'), 'the note');
    await h.run(KeyCommand.DialogConfirm);
    await h.waitFor((f) => f.includes(`${t.id} cancelled`), 'cancelled');
    expect(h.ws.getTask(t.id).history.at(-1)).toMatchObject({
      to: 'cancelled',
      why: 'Out of scope for this release.',
    });
  });
});

describe('the multi-line editor, when neither is set', () => {
  test('writes the prompt line by line; ctrl-s keeps it, esc leaves it as it was', async () => {
    const h = await open();
    await h.run(KeyCommand.TaskAdd);
    await h.waitFor((f) => f.includes('Add a task'), 'the form');
    await h.type('Inline');
    await h.write(CTRL_E);
    await h.waitFor((f) => f.includes('The prompt of the new task'), 'the editor');
    await h.type('first line');
    await h.press('enter');
    await h.type('second');
    await h.write('\r\nand a pasted\nthird');
    let frame = await h.waitFor((f) => f.includes('and a pasted'), 'the text');
    expect(frame).toContain('4 lines');
    await h.write(CTRL_S);
    frame = await h.waitFor(
      (f) => f.includes('Add a task') && f.includes('first line (+3 lines)'),
      'the form',
    );

    await h.write(CTRL_E);
    await h.waitFor(
      (f) => f.includes('The prompt of the new task') && f.includes('second'),
      'the editor again',
    );
    await h.type(' lost');
    await h.press('esc');
    frame = await h.waitFor((f) => f.includes('Add a task'), 'the form again');
    await h.press('enter');
    await h.waitFor((f) => f.includes('added'), 'added');
    expect(h.ws.listTasks()[0]?.prompt).toBe('first line\nsecond\nand a pasted\nthird');
  });
});
