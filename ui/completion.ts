/**
 * Completion of the word being typed in the `:` palette, from live data: command names, task ids,
 * agents, stages, priorities, roles and tags (the query fields of ui/task-query.ts), `add`'s options.
 */
import { PRIORITIES, STATUSES } from '../state/schemas.js';
import { splitArgs } from './argv.js';
import { MOVE_STAGES } from './bulk.js';
import { ADD_FLAGS, typedLine } from './commands.js';
import type { ConsoleView } from './data/console-view.js';
import { type ArgKind, BINDINGS, KeyCommand, visible } from './keymap.js';
import { SORTS } from './selection.js';
import { QUERY_FIELDS } from './task-query.js';

/** At most this many completions are offered (the list is narrowed as more is typed). */
const MAX = 50;

export interface CompletionData {
  view: ConsoleView;
  roles: readonly string[];
  readOnly: boolean;
}

export interface Completions {
  /** Where the word being completed starts in the text. */
  start: number;
  items: string[];
}

function taskIds(view: ConsoleView, prefix: string): string[] {
  const out: string[] = [];
  const p = prefix.toUpperCase();
  for (const s of STATUSES)
    for (const t of view.columns[s]) {
      if (t.id.startsWith(p)) out.push(t.id);
      if (out.length >= MAX) return out;
    }
  return out;
}

function fieldValues(field: string, data: CompletionData): string[] {
  const { view } = data;
  switch (field) {
    case 'status':
    case 'stage':
      return [...STATUSES];
    case 'priority':
      return [...PRIORITIES];
    case 'role':
      return [...new Set(data.roles)];
    case 'agent':
      return view.agents.map((a) => a.id);
    case 'tag': {
      const tags = new Set<string>();
      for (const s of STATUSES) for (const t of view.columns[s]) for (const tag of t.tags) tags.add(tag);
      return [...tags].sort();
    }
    case 'id':
      return taskIds(view, '');
    default:
      return [];
  }
}

/** Words of the query language that start with `word`: `field:value`, fields, stages, task ids. */
function queryWords(word: string, data: CompletionData): string[] {
  const negate = word.startsWith('-') ? '-' : '';
  const body = word.slice(negate.length);
  const colon = body.indexOf(':');
  if (colon > 0) {
    const field = body.slice(0, colon).toLowerCase();
    const values = body.slice(colon + 1);
    const comma = values.lastIndexOf(',');
    const head = `${negate}${body.slice(0, colon + 1)}${values.slice(0, comma + 1)}`;
    return fieldValues(field, data).map((v) => `${head}${v}`);
  }
  return [
    ...QUERY_FIELDS.map((f) => `${negate}${f}:`),
    ...STATUSES.map((s) => `${negate}${s}`),
    ...taskIds(data.view, body).map((id) => `${negate}${id}`),
  ];
}

function argWords(kind: ArgKind, word: string, data: CompletionData): string[] {
  switch (kind) {
    case 'query':
      return queryWords(word, data);
    case 'agent':
      return data.view.agents.flatMap((a, i) => [a.id, String(i + 1)]);
    case 'stage':
      return [...MOVE_STAGES];
    case 'priority':
      return [...PRIORITIES, 'up', 'down'];
    case 'sort':
      return [...SORTS];
    case 'title':
      return [];
  }
}

/** Typed names of the commands this console shows. */
const commandNames = (readOnly: boolean) =>
  BINDINGS.filter((b) => b.typed && visible(b, readOnly)).flatMap((b) => b.typed!.names);

/** What the word at the end of `text` may become. */
export function completions(text: string, data: CompletionData): Completions {
  const split = splitArgs(text);
  const ended = text.length === 0 || /\s$/.test(text);
  const index = ended ? split.args.length : split.args.length - 1;
  const word = ended ? '' : (split.args[index] ?? '');
  const start = ended ? text.length : (split.starts[index] ?? text.length);
  const lower = word.toLowerCase();
  const narrow = (items: string[]) =>
    [...new Set(items)].filter((i) => i.toLowerCase().startsWith(lower) && i !== word).slice(0, MAX);
  if (index === 0) return { start, items: narrow(commandNames(data.readOnly)) };
  const line = typedLine(`${split.args[0] ?? ''} `, data.readOnly);
  if (!line) return { start, items: [] };
  if (line.binding.command === KeyCommand.TaskAdd) {
    const previous = split.args[index - 1];
    if (previous === '--role') return { start, items: narrow([...new Set(data.roles)]) };
    if (previous === '--priority') return { start, items: narrow([...PRIORITIES]) };
    return { start, items: word.startsWith('-') ? narrow(ADD_FLAGS) : [] };
  }
  const kinds = line.binding.typed?.args ?? [];
  const kind = kinds[Math.min(index - 1, kinds.length - 1)];
  return { start, items: kind ? narrow(argWords(kind, word, data)) : [] };
}

/** The text with the word being completed replaced by `item` (quoted when it holds a space). */
export function applyCompletion(text: string, at: Completions, item: string): string {
  const word = /\s/.test(item) ? JSON.stringify(item) : item;
  return `${text.slice(0, at.start)}${word}${word.endsWith(':') ? '' : ' '}`;
}
