/**
 * What the drift rules read from the state: when an attempt started, time spent working, the tasks
 * agents hold, resource globs, usage reported in checkpoints, an agent's last attempts. Pure.
 */
import type { StateView } from '../../state/backend.js';
import type { Alert, Task } from '../../state/schemas.js';
import type { Policies } from '../config.js';
import type { DriftInput } from './index.js';

export const secs = (ms: number) => Math.round(ms / 1000);

/** How old an agent's heartbeat may be before its run counts as stalled (ms). */
export function staleAfterMs(policies: Policies): number {
  return policies.drift.stall.heartbeatIntervals * policies.heartbeatSeconds * 1000;
}

/** When the task's current attempt started: its last move to working. */
export function attemptStartedAt(task: Task): number {
  for (let i = task.history.length - 1; i >= 0; i--) {
    const entry = task.history[i]!;
    if (entry.to === 'working') return Date.parse(entry.at);
  }
  return Date.parse(task.updatedAt);
}

/** Seconds spent working over every attempt, the running one up to `now`. */
export function workingSeconds(task: Task, now: number): number {
  let total = 0;
  let since: number | null = null;
  for (const entry of task.history) {
    const at = Date.parse(entry.at);
    if (since !== null) total += at - since;
    since = entry.to === 'working' ? at : null;
  }
  if (since !== null && task.status === 'working') total += now - since;
  return total / 1000;
}

export interface Held {
  task: Task;
  agent: string;
  startedAt: number;
}

/** Working tasks with the agent holding their lease. */
export function held(view: StateView): Held[] {
  const out: Held[] = [];
  for (const task of view.inStore('working')) {
    const agent = task.lease?.owner ?? task.agent;
    if (task.status === 'working' && agent) out.push({ task, agent, startedAt: attemptStartedAt(task) });
  }
  return out;
}

/** Does a file (relative path) fall under a resource glob? A literal path also covers a folder's contents. */
export function matchesGlob(glob: string, file: string): boolean {
  const g = glob.replace(/^\.\//, '').replace(/\/+$/, '');
  const f = file.replace(/^\.\//, '');
  if (!/[*?[{]/.test(g)) return f === g || f.startsWith(`${g}/`);
  let re = '';
  let depth = 0;
  for (let i = 0; i < g.length; i++) {
    const c = g[i]!;
    if (c === '*' && g[i + 1] === '*') {
      const slash = g[i + 2] === '/';
      re += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '{') {
      re += '(?:';
      depth++;
    } else if (c === '}' && depth > 0) {
      re += ')';
      depth--;
    } else if (c === ',' && depth > 0) re += '|';
    else if (c === '[' && g.indexOf(']', i + 2) > i) {
      const end = g.indexOf(']', i + 2);
      const set = g
        .slice(i + 1, end)
        .replace(/^!/, '^')
        .replace(/\\/g, '\\\\');
      re += `[${set}]`;
      i = end;
    } else re += c.replace(/[.+^$()|\\\]}[]/g, '\\$&');
  }
  try {
    return new RegExp(`^${re}$`).test(f);
  } catch {
    return f === g;
  }
}

export const matchesAny = (globs: readonly string[], file: string) => globs.some((g) => matchesGlob(g, file));

/** Tokens and money reported for the running attempt: `::dreamos {"checkpoint":{"data":{"usage":…}}}`. */
export function reportedUsage(
  view: StateView,
  h: Held,
): { tokens: number; usd: number; context: number | null } {
  const list = view.checkpoints(h.agent);
  for (let i = list.length - 1; i >= 0; i--) {
    const cp = list[i]!;
    if (Date.parse(cp.at) < h.startedAt) break;
    if (cp.task !== h.task.id || !cp.data) continue;
    const usage = (cp.data.usage ?? {}) as Record<string, unknown>;
    const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
    const tokens = num(usage.inputTokens) + num(usage.outputTokens);
    const context = typeof cp.data.contextTokens === 'number' ? cp.data.contextTokens : null;
    if (tokens > 0 || context !== null || num(usage.usd) > 0)
      return { tokens, usd: num(usage.usd), context: context ?? (tokens > 0 ? tokens : null) };
  }
  return { tokens: 0, usd: 0, context: null };
}

export const taskOf = (alert: Alert) =>
  typeof alert.evidence.task === 'string' ? alert.evidence.task : null;
export const stillWorking = (alert: Alert, input: DriftInput) => {
  const id = taskOf(alert);
  return id !== null && input.view.task(id)?.status === 'working';
};

export const kindOf = (t: Task) => `${t.role ?? ''}|${[...t.tags].sort().join(',')}`;

/** Median duration (ms) of the last successful attempt of finished tasks, by role and tags. */
export function usualDurations(view: StateView): Map<string, { median: number; samples: number }> {
  const by = new Map<string, number[]>();
  for (const task of view.inStore('completed')) {
    if (task.status !== 'done') continue;
    const end = task.history.length - 1;
    let start = end - 1;
    while (start >= 0 && task.history[start]!.to !== 'working') start--;
    if (start < 0 || task.history[end]!.to !== 'done') continue;
    const ms = Date.parse(task.history[end]!.at) - Date.parse(task.history[start]!.at);
    const list = by.get(kindOf(task)) ?? [];
    list.push(ms);
    by.set(kindOf(task), list);
  }
  const out = new Map<string, { median: number; samples: number }>();
  for (const [kind, list] of by) {
    list.sort((a, b) => a - b);
    const mid = Math.floor(list.length / 2);
    const median = list.length % 2 ? list[mid]! : (list[mid - 1]! + list[mid]!) / 2;
    out.set(kind, { median, samples: list.length });
  }
  return out;
}

export interface Attempt {
  task: string;
  at: string;
  ok: boolean;
  error: string;
}

const FAILED_ATTEMPT = /^attempt \d+(?: of \d+)? failed: ([\s\S]*?)(?:; retry in [\d.]+ s)?$/;

/** The agent's last `n` attempts that ended, newest first, read from the tasks' history. */
export function lastAttempts(view: StateView, agentId: string, n: number): Attempt[] {
  const out: Attempt[] = [];
  for (const task of view.tasks()) {
    for (const entry of task.history) {
      if (entry.from !== 'working' || entry.by !== agentId) continue;
      const failed = FAILED_ATTEMPT.exec(entry.why ?? '');
      if (entry.to === 'done') out.push({ task: task.id, at: entry.at, ok: true, error: '' });
      else if (failed) out.push({ task: task.id, at: entry.at, ok: false, error: failed[1]! });
      else if (entry.to === 'failed')
        out.push({ task: task.id, at: entry.at, ok: false, error: entry.why ?? 'failed' });
    }
  }
  return out.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0)).slice(0, n);
}

/** "exited with code 3: <last line>" and "exited with code 3: <another line>" are the same error. */
export const errorSignature = (error: string) => error.split(/:\s/)[0]!.trim().slice(0, 200);

/** A short, stable fingerprint of a file list (an occurrence changes when new files drift). */
export const fingerprint = (files: readonly string[]) => {
  let h = 2166136261;
  for (const c of files.join('\n')) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return (h >>> 0).toString(16);
};
