/** Telemetry: throughput and success sparklines, durations, tokens and cost, per-agent utilisation. */
import { Box, Text } from 'ink';
import { useMemo } from 'react';
import { costText } from '../../src/telemetry.js';
import type { ConsoleView } from '../data/console-view.js';
import { bar, computeMetrics, sparkline } from '../data/metrics.js';
import type { Layout } from '../layout.js';
import { clean } from '../text.js';
import { useTheme } from '../theme.js';

export function Metrics(props: { consoleView: ConsoleView; layout: Layout }) {
  const { consoleView, layout } = props;
  const theme = useTheme();
  const m = useMemo(
    () => computeMetrics(Object.values(consoleView.columns).flat(), consoleView.agents, Date.now()),
    [consoleView],
  );
  const window = `${(m.throughput.length * m.bucketSeconds) / 60} min, ${m.bucketSeconds} s per mark`;
  const barWidth = Math.max(10, Math.min(40, layout.width - 60));
  return (
    <Box flexDirection="column" height={layout.body.height} overflowY="hidden">
      <Text bold>{`Metrics (last ${window})`}</Text>
      <Text wrap="truncate">
        <Text color={theme.muted}>{'throughput  '}</Text>
        <Text color={theme.accent}>{sparkline(m.throughput)}</Text>
        {`  ${m.done + m.failed} finished (max ${Math.max(0, ...m.throughput)} per mark)`}
      </Text>
      <Text wrap="truncate">
        <Text color={theme.muted}>{'success     '}</Text>
        <Text color={theme.status.ok}>{sparkline(m.success, 1)}</Text>
        {`  ${m.successRate === null ? 'no results yet' : `${Math.round(m.successRate * 100)}% (${m.done} done, ${m.failed} failed)`}`}
      </Text>
      <Text wrap="truncate">
        <Text color={theme.muted}>{'duration    '}</Text>
        {m.meanSeconds === null ? '-' : `${m.meanSeconds.toFixed(1)} s mean per done task`}
        <Text color={theme.muted}>{'   usage '}</Text>
        {`${m.tokens} tokens, ${costText(m.usd, m.unpriced, 2)}`}
      </Text>
      <Text> </Text>
      <Text bold>Utilisation (share of the window spent working)</Text>
      {m.agents.map((a) => (
        <Text key={a.id} wrap="truncate">
          {`${clean(a.name, 16).padEnd(16)} `}
          <Text color={theme.accent}>{bar(a.share, barWidth)}</Text>
          {` ${String(Math.round(a.share * 100)).padStart(3)}%  ${a.done} done, ${a.failed} failed`}
        </Text>
      ))}
    </Box>
  );
}
