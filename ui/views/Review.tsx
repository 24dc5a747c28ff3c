/**
 * The review view: code tasks being merged, queued (approved) and waiting for a reviewer, in the
 * merge queue's order, each with where it stands (the merge's step and gate, for how long), and the
 * queue's settings. Windowed: only the rows on screen are drawn.
 */
import { Box, Text } from 'ink';
import type { Task } from '../../state/schemas.js';
import { duration, type ReviewItem, reviewState } from '../data/review.js';
import { useServices } from '../hooks.js';
import { type Layout, windowStart } from '../layout.js';
import { clean } from '../text.js';
import { useTheme } from '../theme.js';

const STAGE_WORDS: Record<string, string> = { waiting: 'waiting', approved: 'queued', merging: 'merging' };

export function Review(props: {
  rows: readonly ReviewItem[];
  cursor: number;
  lookup: (id: string) => Task | undefined;
  layout: Layout;
}) {
  const { rows, cursor, layout } = props;
  const theme = useTheme();
  const policy = useServices().ws.config.policies.review;
  const now = Date.now();
  const visible = Math.max(1, layout.list.rows - 1);
  const start = windowStart(cursor, rows.length, visible);
  const counts = ['merging', 'approved', 'waiting'].map(
    (s) => `${rows.filter((r) => r.stage === s).length} ${STAGE_WORDS[s]}`,
  );
  const gate = policy.gate ? `gate \`${clean(policy.gate, 60)}\`` : 'no gate';
  return (
    <Box flexDirection="column" height={layout.body.height} overflowY="hidden">
      <Text bold wrap="truncate">
        {`Review: ${counts.join(' · ')}`}
        <Text color={theme.muted}>{`   ${policy.mode} by ${policy.strategy}, ${gate}`}</Text>
      </Text>
      <Text color={theme.muted} wrap="truncate">
        {'  stage    task     agent        title                          where it stands'}
      </Text>
      {rows.length === 0 ? <Text color={theme.muted}> No code task waits for review or a merge.</Text> : null}
      {rows.slice(start, start + visible).map((row, i) => {
        const selected = start + i === cursor;
        const colour =
          row.stage === 'merging'
            ? theme.status.warning
            : row.stage === 'approved'
              ? theme.status.ok
              : theme.accent;
        const back = row.last
          ? `  (came back: ${row.last.reason.replace(/-/g, ' ')} ${duration(now - Date.parse(row.last.at))} ago)`
          : '';
        return (
          <Text key={row.id} wrap="truncate" inverse={selected}>
            {selected ? '▶ ' : '  '}
            <Text color={colour}>{(STAGE_WORDS[row.stage] ?? row.stage).padEnd(8)}</Text>
            {` ${row.id} ${clean(row.agent ?? '-', 12).padEnd(12)} ${clean(row.title, 30).padEnd(30)} `}
            <Text color={row.stage === 'merging' ? theme.status.warning : theme.muted}>
              {reviewState(row, props.lookup, now)}
            </Text>
            <Text color={theme.muted}>{back}</Text>
          </Text>
        );
      })}
    </Box>
  );
}
