/** The dashboard: a pane per agent, the board summary, and the top of the attention list. */
import chalk from 'chalk';
import { Box, Text } from 'ink';
import { type ReactNode, useMemo } from 'react';
import { plural } from '../../src/output.js';
import { STATUSES } from '../../state/schemas.js';
import { Volatile } from '../components/Volatile.js';
import { type AttentionItem, reasonWords } from '../data/attention.js';
import type { ConsoleView } from '../data/console-view.js';
import { agentReviewNotes } from '../data/review.js';
import { bindingOf, KeyCommand, showKeys } from '../keymap.js';
import type { Layout } from '../layout.js';
import { windowStart } from '../layout.js';
import { clean } from '../text.js';
import { paint, SEVERITY_GLYPH, useTheme } from '../theme.js';
import { AgentLine, AgentPane } from './AgentPane.js';

export function BoardSummary({ consoleView, width }: { consoleView: ConsoleView; width: number }) {
  const theme = useTheme();
  // Counts and the journal number change all the time: one string, see Volatile.
  const text = [
    chalk.bold('Board '),
    // `review` is counted only when some task is in it: most boards have no code tasks.
    STATUSES.filter((s) => s !== 'review' || consoleView.columns.review.length > 0)
      .map((s) => paint(theme.stage[s], `${s} ${consoleView.columns[s].length}`))
      .join(' · '),
    paint(theme.muted, `   (${plural(consoleView.total, 'task')}, journal #${consoleView.seq})`),
  ].join('');
  return (
    <Box height={1} overflowY="hidden">
      <Volatile text={text} width={width} />
    </Box>
  );
}

export function AttentionLines({ items, rows }: { items: AttentionItem[]; rows: number }) {
  const theme = useTheme();
  const shown = items.slice(0, Math.max(0, rows - 1));
  return (
    <Box flexDirection="column" height={rows} overflowY="hidden">
      <Text bold wrap="truncate" color={items.length ? theme.status.warning : theme.muted}>
        {items.length
          ? `Attention: ${items.length} (${showKeys(bindingOf(KeyCommand.ViewAlerts), 1)} for the list)`
          : 'Attention: nothing needs you'}
      </Text>
      {shown.map((item) => (
        <Text key={item.key} wrap="truncate">
          <Text color={item.severity === 'critical' ? theme.status.error : theme.status.warning}>
            {` ${SEVERITY_GLYPH[item.severity]} ${reasonWords(item.reason)}`}
          </Text>
          {` ${clean(item.subject, 24)}  ${clean(item.text, 200)}`}
        </Text>
      ))}
    </Box>
  );
}

export function Dashboard(props: {
  consoleView: ConsoleView;
  attention: AttentionItem[];
  layout: Layout;
  cursor: number;
}) {
  const { consoleView, layout, cursor } = props;
  const d = layout.dashboard;
  const agents = consoleView.agents;
  const { review, ready } = consoleView.columns;
  const notes = useMemo(() => agentReviewNotes(review, ready), [review, ready]);
  let panes: ReactNode;
  if (d.mode === 'grid') {
    const rows = Array.from({ length: d.gridRows }, (_, r) => agents.slice(r * d.across, (r + 1) * d.across));
    panes = rows.map((row, r) => (
      // biome-ignore lint/suspicious/noArrayIndexKey: grid rows are positional
      <Box key={r} height={d.paneHeight}>
        {row.map((agent, c) => (
          <AgentPane
            key={agent.id}
            agent={agent}
            width={d.paneWidth}
            height={d.paneHeight}
            logLines={d.logLines}
            selected={r * d.across + c === cursor}
            review={notes.get(agent.id) ?? null}
          />
        ))}
      </Box>
    ));
  } else {
    const start = windowStart(cursor, agents.length, d.gridRows);
    panes = agents
      .slice(start, start + d.gridRows)
      .map((agent, i) => (
        <AgentLine
          key={agent.id}
          agent={agent}
          width={layout.width}
          selected={start + i === cursor}
          review={notes.get(agent.id) ?? null}
        />
      ));
  }
  return (
    <Box flexDirection="column" height={layout.body.height} overflowY="hidden">
      <Box flexDirection="column" flexGrow={1} overflowY="hidden">
        {agents.length ? panes : <Text>No agents are configured (edit .dreamos/config.json).</Text>}
      </Box>
      <BoardSummary consoleView={consoleView} width={layout.width} />
      <AttentionLines items={props.attention} rows={d.alertRows} />
    </Box>
  );
}
