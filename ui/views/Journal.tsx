/**
 * The journal: every state change, newest at the bottom, windowed around the cursor. Heartbeats and
 * renewals are hidden unless asked for; the title says so, and whether the view follows new changes.
 */
import { Box, Text } from 'ink';
import type { JournalRow } from '../data/journal.js';
import { type Layout, windowStart } from '../layout.js';
import { clock } from '../text.js';
import { useTheme } from '../theme.js';

export function Journal(props: {
  rows: readonly JournalRow[];
  cursor: number;
  filter: string;
  layout: Layout;
  following: boolean;
  /** Heartbeats and renewals hidden (0: shown, or none). */
  hidden: number;
  noise: boolean;
}) {
  const { rows, cursor, layout } = props;
  const below = rows.length - 1 - cursor;
  const follow = props.following
    ? 'following (f stays)'
    : `paused${below > 0 ? `, ${below} newer below` : ''} (f follows)`;
  const noise = props.noise
    ? 'heartbeats shown (. hides)'
    : props.hidden
      ? `${props.hidden} heartbeats hidden (. shows)`
      : 'heartbeats hidden (. shows)';
  const theme = useTheme();
  const visible = layout.list.rows;
  const start = windowStart(cursor, rows.length, visible);
  return (
    <Box flexDirection="column" height={layout.body.height} overflowY="hidden">
      <Text bold wrap="truncate">
        {`Journal: the last ${rows.length} changes`}
        {props.filter ? <Text color={theme.muted}>{`  (filter "${props.filter}")`}</Text> : null}
        <Text color={theme.muted}>{`  · ${follow} · ${noise}`}</Text>
      </Text>
      <Text color={theme.muted} wrap="truncate">
        {'     seq  time      op            by          change'}
      </Text>
      {rows.length === 0 ? <Text color={theme.muted}> (no entries)</Text> : null}
      {rows.slice(start, start + visible).map((row, i) => {
        const selected = start + i === cursor;
        return (
          <Text key={row.seq} wrap="truncate" inverse={selected}>
            {`${selected ? '▶' : ' '}${String(row.seq).padStart(7)}  ${clock(row.at)}  `}
            <Text bold>{row.op.padEnd(12)}</Text>
            <Text color={theme.muted}>{`  ${row.by.padEnd(10)}  `}</Text>
            {row.summary}
          </Text>
        );
      })}
    </Box>
  );
}
