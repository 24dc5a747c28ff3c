/** The attention inbox: everything that needs the operator, ranked, one typed row each (windowed). */
import { Box, Text } from 'ink';
import { type AttentionItem, reasonWords } from '../data/attention.js';
import { type Layout, windowStart } from '../layout.js';
import { clean, clock } from '../text.js';
import { SEVERITY_GLYPH, useTheme } from '../theme.js';

export function Attention(props: { items: AttentionItem[]; cursor: number; filter: string; layout: Layout }) {
  const { items, cursor, layout } = props;
  const theme = useTheme();
  const rows = layout.list.rows;
  const start = windowStart(cursor, items.length, rows);
  return (
    <Box flexDirection="column" height={layout.body.height} overflowY="hidden">
      <Text bold wrap="truncate">
        {`Attention: ${items.length} ${items.length === 1 ? 'item' : 'items'}`}
        {props.filter ? <Text color={theme.muted}>{`  (filter "${props.filter}")`}</Text> : null}
      </Text>
      <Text color={theme.muted} wrap="truncate">
        {'  sev reason          subject      time      what, and what to do'}
      </Text>
      {items.length === 0 ? <Text color={theme.muted}> Nothing needs you.</Text> : null}
      {items.slice(start, start + rows).map((item, i) => {
        const selected = start + i === cursor;
        const colour =
          item.severity === 'critical'
            ? theme.status.error
            : item.severity === 'warning'
              ? theme.status.warning
              : theme.status.info;
        const also = item.also.length ? ` (also ${item.also.map(reasonWords).join(', ')})` : '';
        const alerts = item.alerts.length ? ` [${item.alerts.join(', ')}]` : '';
        return (
          <Text key={item.key} wrap="truncate" inverse={selected}>
            {selected ? '▶ ' : '  '}
            <Text
              color={colour}
            >{`${SEVERITY_GLYPH[item.severity].padEnd(3)} ${reasonWords(item.reason).padEnd(15)}`}</Text>
            {` ${clean(item.subject, 12).padEnd(12)} ${clock(item.at)}  ${clean(item.text, 200)}${also}`}
            <Text color={theme.muted}>{`  → ${clean(item.action, 160)}${alerts}`}</Text>
          </Text>
        );
      })}
    </Box>
  );
}
