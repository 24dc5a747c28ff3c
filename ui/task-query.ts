/**
 * The task query language shared by the board's filter (`/`, `:filter`) and the bulk commands
 * (`:retry failed`, `:cancel tag:flaky`): `field:value` terms and plain words, all of which must
 * match. Fields: status (or stage), role, tag, agent, priority, id; `field:a,b` matches either
 * value, a leading `-` negates a term. A plain word that names a stage means that stage
 * (`failed` = `status:failed`); other words are looked for in the id, title, role, agent and tags.
 * Pure: no ink, no react.
 */
import { PRIORITIES, type Priority, STATUSES, type Status, type Task } from '../state/schemas.js';
import { splitArgs } from './argv.js';

export const QUERY_FIELDS = ['status', 'role', 'tag', 'agent', 'priority', 'id'] as const;
export type QueryField = (typeof QUERY_FIELDS)[number];
const ALIASES: Record<string, QueryField> = { stage: 'status', tags: 'tag', prio: 'priority' };

interface Term {
  field: QueryField | 'word';
  values: string[];
  negate: boolean;
}

export interface TaskQuery {
  text: string;
  terms: Term[];
}

export type Parsed = { ok: true; query: TaskQuery } | { ok: false; error: string };

const isStatus = (v: string): v is Status => (STATUSES as readonly string[]).includes(v);
const isPriority = (v: string): v is Priority => (PRIORITIES as readonly string[]).includes(v);

function parseTerm(arg: string): Term | string {
  const negate = arg.length > 1 && arg.startsWith('-');
  const body = negate ? arg.slice(1) : arg;
  const colon = body.indexOf(':');
  if (colon <= 0) {
    const word = body.toLowerCase();
    return isStatus(word)
      ? { field: 'status', values: [word], negate }
      : { field: 'word', values: [word], negate };
  }
  const name = body.slice(0, colon).toLowerCase();
  const field = (QUERY_FIELDS as readonly string[]).includes(name) ? (name as QueryField) : ALIASES[name];
  if (!field) return `unknown field "${name}" (one of ${QUERY_FIELDS.join(', ')})`;
  const values = body
    .slice(colon + 1)
    .toLowerCase()
    .split(',')
    .filter(Boolean);
  if (!values.length) return `${field}: needs a value`;
  for (const v of values) {
    if (field === 'status' && !isStatus(v)) return `unknown stage "${v}" (one of ${STATUSES.join(', ')})`;
    if (field === 'priority' && !isPriority(v))
      return `unknown priority "${v}" (one of ${PRIORITIES.join(', ')})`;
  }
  return { field, values, negate };
}

/** A query from what was typed, or why it is not one. An empty text is the query that matches all. */
export function parseQuery(text: string): Parsed {
  const split = splitArgs(text);
  if (split.error) return { ok: false, error: split.error };
  const terms: Term[] = [];
  for (const arg of split.args) {
    const term = parseTerm(arg);
    if (typeof term === 'string') return { ok: false, error: term };
    terms.push(term);
  }
  return { ok: true, query: { text, terms } };
}

function termMatches(task: Task, term: Term): boolean {
  const any = (have: readonly string[]) => term.values.some((v) => have.some((h) => h.toLowerCase() === v));
  switch (term.field) {
    case 'status':
      return term.values.includes(task.status);
    case 'priority':
      return term.values.includes(task.priority);
    case 'role':
      return any([task.role ?? '']);
    case 'tag':
      return any(task.tags);
    case 'agent':
      return any([task.agent ?? '']);
    case 'id':
      return any([task.id]);
    case 'word': {
      const hay = [task.id, task.title, task.priority, task.role ?? '', task.agent ?? '', ...task.tags]
        .join(' ')
        .toLowerCase();
      return hay.includes(term.values[0]!);
    }
  }
}

export function matchesQuery(task: Task, query: TaskQuery): boolean {
  return query.terms.every((term) => termMatches(task, term) !== term.negate);
}

/** Whether a query (parsed once) matches each task; a text that does not parse matches nothing. */
export function taskMatcher(text: string): { match: (task: Task) => boolean; error: string | null } {
  const parsed = parseQuery(text);
  if (!parsed.ok) return { match: () => false, error: parsed.error };
  return { match: (task) => matchesQuery(task, parsed.query), error: null };
}

/** The tasks of `tasks` a query matches. */
export function selectTasks(tasks: Iterable<Task>, query: TaskQuery): Task[] {
  const out: Task[] = [];
  for (const t of tasks) if (matchesQuery(t, query)) out.push(t);
  return out;
}
