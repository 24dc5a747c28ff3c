/**
 * The add/edit task form as plain data: fields, focus, and the pure edits a key makes. It becomes a
 * TaskInput (add) or an EditPatch (edit); the engine validates it, and its message is shown in the form.
 */

import type { EditPatch } from '../src/lifecycle/index.js';
import type { TaskInput } from '../src/task-input.js';
import { PRIORITIES, type Task } from '../state/schemas.js';
import { editText } from './text.js';

export type FieldName = 'title' | 'run' | 'prompt' | 'role' | 'priority' | 'tags' | 'dependsOn';

export interface FormField {
  name: FieldName;
  label: string;
  kind: 'text' | 'choice';
  value: string;
  options?: readonly string[];
  hint?: string;
}

export interface FormState {
  mode: 'add' | 'edit';
  taskId: string | null;
  fields: FormField[];
  focus: number;
  error: string | null;
}

const ANY_ROLE = '(any)';
const MAX_FIELD = 2000;

function fields(roles: readonly string[], task?: Task): FormField[] {
  return [
    { name: 'title', label: 'Title', kind: 'text', value: task?.title ?? '', hint: 'required' },
    { name: 'run', label: 'Run', kind: 'text', value: task?.run ?? '', hint: 'a shell command (optional)' },
    {
      name: 'prompt',
      label: 'Prompt',
      kind: 'text',
      value: task?.prompt ?? '',
      hint: 'what an AI agent is asked',
    },
    {
      name: 'role',
      label: 'Role',
      kind: 'choice',
      value: task?.role ?? ANY_ROLE,
      options: [ANY_ROLE, ...new Set(roles)],
    },
    {
      name: 'priority',
      label: 'Priority',
      kind: 'choice',
      value: task?.priority ?? 'normal',
      options: PRIORITIES,
    },
    {
      name: 'tags',
      label: 'Tags',
      kind: 'text',
      value: task?.tags.join(', ') ?? '',
      hint: 'comma separated',
    },
    {
      name: 'dependsOn',
      label: 'Depends on',
      kind: 'text',
      value: task?.dependsOn.join(', ') ?? '',
      hint: 'task ids, comma separated',
    },
  ];
}

export const addForm = (roles: readonly string[]): FormState => ({
  mode: 'add',
  taskId: null,
  fields: fields(roles),
  focus: 0,
  error: null,
});

export const editForm = (task: Task, roles: readonly string[]): FormState => ({
  mode: 'edit',
  taskId: task.id,
  fields: fields(roles, task),
  focus: 0,
  error: null,
});

const value = (form: FormState, name: FieldName) =>
  form.fields.find((f) => f.name === name)?.value.trim() ?? '';
const list = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export function formInput(form: FormState): TaskInput {
  const role = value(form, 'role');
  const input: TaskInput = {
    title: value(form, 'title'),
    priority: value(form, 'priority') as TaskInput['priority'],
    tags: list(value(form, 'tags')),
    dependsOn: list(value(form, 'dependsOn')),
    source: 'console',
  };
  if (value(form, 'run')) input.run = value(form, 'run');
  if (value(form, 'prompt')) input.prompt = value(form, 'prompt');
  if (role && role !== ANY_ROLE) input.role = role;
  return input;
}

/** Only the fields that differ from the task. */
export function formPatch(form: FormState, task: Task): EditPatch {
  const input = formInput(form);
  const patch: EditPatch = {};
  if (input.title !== task.title) patch.title = input.title;
  if ((input.run ?? '') !== (task.run ?? '')) patch.run = input.run ?? '';
  if ((input.prompt ?? '') !== (task.prompt ?? '')) patch.prompt = input.prompt ?? '';
  if (input.role && input.role !== task.role) patch.role = input.role;
  if (input.priority !== task.priority) patch.priority = input.priority as Task['priority'];
  if (input.tags?.join(',') !== task.tags.join(',')) patch.tags = input.tags ?? [];
  if (input.dependsOn?.join(',') !== task.dependsOn.join(',')) patch.dependsOn = input.dependsOn ?? [];
  return patch;
}

/** A form-level check before the engine sees it. */
export const formProblem = (form: FormState): string | null =>
  value(form, 'title') ? null : 'a task needs a title';

function updateFocused(form: FormState, fn: (field: FormField) => FormField): FormState {
  return {
    ...form,
    error: null,
    fields: form.fields.map((f, i) => (i === form.focus ? fn(f) : f)),
  };
}

export function formType(form: FormState, op: 'insert' | 'delete' | 'clear', text = ''): FormState {
  return updateFocused(form, (f) => {
    if (f.kind !== 'text') return op === 'insert' && text === ' ' ? cycle(f, 1) : f;
    return { ...f, value: editText(f.value, op, text, MAX_FIELD) };
  });
}

function cycle(field: FormField, delta: number): FormField {
  const options = field.options ?? [];
  if (!options.length) return field;
  const at = Math.max(0, options.indexOf(field.value));
  return { ...field, value: options[(at + delta + options.length) % options.length]! };
}

export const formCycle = (form: FormState, delta: number) => updateFocused(form, (f) => cycle(f, delta));

export const formFocus = (form: FormState, delta: number): FormState => ({
  ...form,
  focus: (form.focus + delta + form.fields.length) % form.fields.length,
});
