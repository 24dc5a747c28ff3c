import { describe, expect, test } from 'vitest';
import type { Task } from '../../../state/schemas.js';
import {
  addForm,
  editForm,
  formCycle,
  formFocus,
  formInput,
  formPatch,
  formProblem,
  formType,
} from '../../../ui/form.js';

const typeAll = (form: ReturnType<typeof addForm>, text: string) =>
  [...text].reduce((f, ch) => formType(f, 'insert', ch), form);

describe('the task form', () => {
  test('becomes a task input from the console', () => {
    let f = addForm(['captain', 'testing']);
    expect(formProblem(f)).toMatch(/title/);
    f = typeAll(f, 'Write docs');
    f = formFocus(f, 1);
    f = typeAll(f, 'echo hi');
    f = formFocus(f, 2);
    f = formCycle(f, 1); // role: captain
    f = formFocus(f, 1);
    f = formCycle(f, -1); // priority: normal → high
    f = formFocus(f, 1);
    f = typeAll(f, 'a, b ,');
    expect(formProblem(f)).toBeNull();
    expect(formInput(f)).toEqual({
      title: 'Write docs',
      run: 'echo hi',
      role: 'captain',
      priority: 'high',
      tags: ['a', 'b'],
      dependsOn: [],
      source: 'console',
    });
  });

  test('backspace, clear, and space cycling a choice', () => {
    let f = typeAll(addForm([]), 'abc');
    f = formType(f, 'delete');
    expect(f.fields[0]!.value).toBe('ab');
    f = formType(f, 'clear');
    expect(f.fields[0]!.value).toBe('');
    f = formFocus(f, 4);
    f = formType(f, 'insert', ' ');
    expect(f.fields[4]!.value).toBe('low');
  });

  test('an edit patches only what changed', () => {
    const task = {
      id: 'T-00001',
      title: 'Old',
      priority: 'normal',
      tags: ['x'],
      dependsOn: [],
      role: undefined,
      run: 'true',
    } as unknown as Task;
    let f = editForm(task, ['captain']);
    expect(formPatch(f, task)).toEqual({});
    f = typeAll(formType(f, 'clear'), 'New');
    expect(formPatch(f, task)).toEqual({ title: 'New' });
  });
});
