import { describe, expect, test } from 'vitest';
import { addForm } from '../../../ui/form.js';
import { KeyCommand } from '../../../ui/keymap.js';
import { cursorOf, initialState, listKey, reduce, type UiState } from '../../../ui/model.js';

const run = (state: UiState, ...actions: Parameters<typeof reduce>[1][]) => actions.reduce(reduce, state);

describe('the UI reducer (pure, no Ink)', () => {
  test('cursors move within their list and survive the list shrinking', () => {
    let s = initialState('board');
    expect(listKey(s)).toBe('board:ready');
    s = run(
      s,
      { type: 'cursor', delta: 1, size: 3 },
      { type: 'cursor', delta: 1, size: 3 },
      { type: 'cursor', delta: 1, size: 3 },
    );
    expect(s.cursors['board:ready']).toBe(2);
    expect(cursorOf(s, 'board:ready', 1)).toBe(0);
    s = run(s, { type: 'cursor', to: 'top', size: 3 });
    expect(s.cursors['board:ready']).toBe(0);
    s = run(s, { type: 'cursor', delta: -5, size: 3 });
    expect(s.cursors['board:ready']).toBe(0);
    s = run(s, { type: 'cursor', to: 'bottom', size: 10_000 });
    expect(s.cursors['board:ready']).toBe(9999);
    s = run(s, { type: 'column', delta: 1 });
    expect(listKey(s)).toBe('board:working');
    s = run(s, { type: 'column', delta: 99 });
    expect(listKey(s)).toBe('board:cancelled');
  });

  test('the journal starts at its newest row and follows it until the cursor moves up', () => {
    let s = initialState('journal');
    expect(cursorOf(s, 'journal', 10)).toBe(9);
    expect(cursorOf(s, 'journal', 12)).toBe(11);
    s = run(s, { type: 'cursor', delta: -1, size: 12 });
    expect(cursorOf(s, 'journal', 15)).toBe(10);
    s = run(s, { type: 'cursor', to: 'bottom', size: 15 });
    expect(cursorOf(s, 'journal', 20)).toBe(19);
  });

  test('views: numbers go to a view, tab cycles, enter opens, esc goes back', () => {
    let s = initialState();
    s = run(s, { type: 'cycle', delta: 1 });
    expect(s.view).toBe('board');
    s = run(s, { type: 'cycle', delta: -1 }, { type: 'cycle', delta: -1 });
    expect(s.view).toBe('review');
    s = run(s, { type: 'go', view: 'board' }, { type: 'open-task', id: 'T-00001' });
    expect([s.view, s.taskId, s.back]).toEqual(['task', 'T-00001', ['board']]);
    s = run(s, { type: 'back' });
    expect(s.view).toBe('board');
    s = run(s, { type: 'back' });
    expect(s.view).toBe('board');
    s = run(initialState(), { type: 'open-agent', id: 'agent-1' }, { type: 'cycle', delta: 1 });
    expect(s.view).toBe('board');
  });

  test('the filter applies while typed, esc restores the previous one, enter keeps it, esc on the view clears it', () => {
    let s = initialState('board');
    s = run(s, { type: 'dialog', dialog: { kind: 'filter', view: 'board', text: '', before: '' } });
    s = run(s, { type: 'text', op: 'insert', text: 'b' }, { type: 'text', op: 'insert', text: 'x' });
    expect(s.filters.board).toBe('bx');
    s = run(s, { type: 'text', op: 'delete' });
    expect(s.filters.board).toBe('b');
    s = run(s, { type: 'filter-close', keep: true });
    expect([s.dialog, s.filters.board]).toEqual([null, 'b']);
    s = run(s, { type: 'dialog', dialog: { kind: 'filter', view: 'board', text: 'b', before: 'b' } });
    s = run(s, { type: 'text', op: 'clear' }, { type: 'filter-close', keep: false });
    expect(s.filters.board).toBe('b');
    s = run(s, { type: 'back' });
    expect(s.filters.board).toBe('');
  });

  test('dialogs: the palette narrows and resets its choice, confirm toggles, forms edit fields', () => {
    let s = run(initialState(), { type: 'dialog', dialog: { kind: 'palette', query: '', index: 0 } });
    s = run(s, { type: 'dialog-move', delta: 1, size: 5 }, { type: 'dialog-move', delta: 9, size: 5 });
    expect(s.dialog).toMatchObject({ index: 4 });
    s = run(s, { type: 'text', op: 'insert', text: 'q' });
    expect(s.dialog).toMatchObject({ query: 'q', index: 0 });

    s = run(s, {
      type: 'dialog',
      dialog: {
        kind: 'confirm',
        command: KeyCommand.TaskCancel,
        target: 'T-00001',
        title: 't',
        detail: 'd',
        focus: 'cancel',
      },
    });
    s = run(s, { type: 'dialog-cycle', delta: 1 });
    expect(s.dialog).toMatchObject({ focus: 'confirm' });
    s = run(s, { type: 'dialog-move', delta: 1 });
    expect(s.dialog).toMatchObject({ focus: 'cancel' });

    s = run(s, { type: 'dialog', dialog: { kind: 'form', form: addForm(['captain']) } });
    s = run(s, { type: 'text', op: 'insert', text: 'Hi' }, { type: 'dialog-move', delta: -1 });
    expect(s.dialog?.kind === 'form' && s.dialog.form.fields[0]!.value).toBe('Hi');
    expect(s.dialog?.kind === 'form' && s.dialog.form.focus).toBe(6);
    s = run(s, { type: 'form-error', error: 'no' });
    expect(s.dialog?.kind === 'form' && s.dialog.form.error).toBe('no');
  });

  test('flash messages carry a level and clear only themselves', () => {
    let s = run(initialState(), { type: 'flash', level: 'error', text: 'boom' });
    const first = s.flash!.id;
    s = run(s, { type: 'flash', level: 'info', text: 'ok' });
    s = run(s, { type: 'flash-clear', id: first });
    expect(s.flash).toMatchObject({ level: 'info', text: 'ok' });
    s = run(s, { type: 'flash-clear', id: s.flash!.id });
    expect(s.flash).toBeNull();
  });
});
