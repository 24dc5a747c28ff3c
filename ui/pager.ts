/** Searching the log pager: from match to match, as `less` does (from the page shown, wrapping). */
import { matchesIn } from './data/logs.js';
import { type Env, flashWarning } from './effects.js';

/**
 * Go to the next (dir 1) or previous (-1) line holding the search, after the current match when it
 * is on the page, else from the page shown (`fromTop`: the first line shown may be the match).
 */
export function jumpToMatch(env: Env, dir: 1 | -1, fromTop = false): void {
  const log = env.selection.log;
  const term = env.state.filters.log ?? '';
  if (!log) return;
  if (!term.trim()) {
    flashWarning(env, 'no search yet: / searches the log');
    return;
  }
  const matches = matchesIn(log.lines, term);
  if (!matches.length) {
    flashWarning(env, `no line of this log holds "${term}"`);
    return;
  }
  const top = env.selection.cursor;
  const current = env.state.logMatch;
  const onPage = current !== null && current >= top && current < top + log.rows;
  const from = onPage ? current : dir > 0 ? top - (fromTop ? 1 : 0) : top + log.rows;
  let next = dir > 0 ? matches.find((m) => m > from) : [...matches].reverse().find((m) => m < from);
  if (next === undefined) {
    next = dir > 0 ? matches[0]! : matches.at(-1)!;
    env.dispatch({
      type: 'flash',
      level: 'info',
      text: `search wrapped to the ${dir > 0 ? 'top' : 'bottom'}`,
    });
  }
  env.dispatch({ type: 'log-match', line: next });
  env.dispatch({ type: 'cursor', delta: next - top, size: env.selection.size, from: top });
}
