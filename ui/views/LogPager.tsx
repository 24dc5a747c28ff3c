/**
 * A task's whole log, a page at a time: j/k, PgUp/PgDn, g/G scroll (G follows new output), `/`
 * searches (case-insensitive), n/N go from match to match. Matching lines are marked in the gutter
 * (• a match, ▶ the current one) as well as coloured.
 */
import { Box, Text } from 'ink';
import { useMemo } from 'react';
import type { Task } from '../../state/schemas.js';
import { Volatile } from '../components/Volatile.js';
import { matchesIn, PAGER_LINES } from '../data/logs.js';
import type { Layout } from '../layout.js';
import { clean } from '../text.js';
import { paint, useTheme } from '../theme.js';

export function LogPager(props: {
  taskId: string;
  /** The task's log, or its long text (prompt, summary, error, notes). */
  what?: 'log' | 'text';
  task: Task | null;
  lines: readonly string[];
  top: number;
  following: boolean;
  search: string;
  match: number | null;
  layout: Layout;
}) {
  const { lines, top, search, match, layout } = props;
  const theme = useTheme();
  const rows = layout.list.rows;
  const matches = useMemo(() => new Set(matchesIn(lines, search)), [lines, search]);
  const shown = lines.slice(top, top + rows);
  const range = lines.length ? `lines ${top + 1}-${top + shown.length} of ${lines.length}` : 'no output yet';
  const text = props.what === 'text';
  const cut =
    !text && lines.length >= PAGER_LINES ? ` (the last ones; all: dreamos task log ${props.taskId})` : '';
  const where = text ? '' : props.following ? ' · following new output' : ' · G follows new output';
  const found = !search
    ? '/ search'
    : matches.size
      ? `"${clean(search, 40)}": ${matches.size} matching line${matches.size === 1 ? '' : 's'} (n next, N previous)`
      : `"${clean(search, 40)}": no match`;
  return (
    <Box flexDirection="column" height={layout.body.height} overflowY="hidden">
      <Text bold wrap="truncate">
        {`${text ? 'Text' : 'Log'} of ${props.taskId}${props.task ? ` ${clean(props.task.title, 80)}` : ''}`}
        <Text color={theme.muted}>{`  ${range}${cut}${where}`}</Text>
      </Text>
      <Box flexDirection="column" height={rows} overflowY="hidden">
        {lines.length === 0 ? (
          <Text color={theme.muted}>
            {text
              ? '(this task has no prompt, command, result or note)'
              : props.task?.status === 'working' || props.task?.status === 'ready'
                ? '(no output yet: new lines show as they are written)'
                : '(this task has no log)'}
          </Text>
        ) : null}
        {shown.map((line, i) => {
          const at = top + i;
          const hit = matches.has(at);
          const gutter = at === match && hit ? '▶ ' : hit ? '• ' : '  ';
          const text = hit ? paint(theme.accent, `${gutter}${line}`) : `${gutter}${line}`;
          return (
            // biome-ignore lint/suspicious/noArrayIndexKey: log lines are positional
            <Volatile key={i} text={text} width={layout.width} />
          );
        })}
      </Box>
      <Volatile text={paint(theme.muted, found)} width={layout.width} />
    </Box>
  );
}
