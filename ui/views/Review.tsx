/**
 * The review view: code tasks being merged, queued (approved) and waiting for a reviewer, in the
 * merge queue's order, each with where it stands (the merge's step and gate, for how long), and the
 * queue's settings. Windowed: only the rows on screen are drawn.
 */
import { Box, Text } from 'ink';
import { useEffect, useState } from 'react';
import type { Task } from '../../state/schemas.js';
import { duration, type ReviewItem, reviewState } from '../data/review.js';
import { useServices } from '../hooks.js';
import { type Layout, windowStart } from '../layout.js';
import { clean } from '../text.js';
import { useTheme } from '../theme.js';

/** While a merge runs, its durations are drawn again every second (no journal line moves them). */
const TICK_MS = 1000;
/** The width of the "where it stands" column. */
const WHERE = 50;

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
  const merging = rows.some((r) => r.stage === 'merging');
  const [, setTick] = useState(0);
  useEffect(() => {
    if (!merging) return;
    const timer = setInterval(() => setTick((t) => t + 1), TICK_MS);
    return () => clearInterval(timer);
  }, [merging]);
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
        {`  stage    task     agent      ${'where it stands'.padEnd(WHERE)} title`}
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
            {` ${row.id} ${clean(row.agent ?? '-', 10).padEnd(10)} `}
            <Text color={row.stage === 'merging' ? theme.status.warning : theme.muted}>
              {clean(reviewState(row, props.lookup, now), WHERE).padEnd(WHERE)}
            </Text>
            {` ${clean(row.title, 200)}`}
            <Text color={theme.muted}>{back}</Text>
          </Text>
        );
      })}
    </Box>
  );
}
