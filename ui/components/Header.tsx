/** The top line: the product, the views with their number keys, who runs the agents, read-only mode. */
import { Box, Text } from 'ink';
import { memo } from 'react';
import { TOP_VIEWS, VIEW_TITLES, type ViewId } from '../keymap.js';
import { useTheme } from '../theme.js';

export type AgentsMode = 'running' | 'attached' | 'starting' | 'unavailable';

const MODE_TEXT: Record<AgentsMode, string> = {
  running: 'agents run here',
  attached: 'attached',
  starting: 'starting agents…',
  unavailable: 'watching only',
};

export const Header = memo(function Header(props: {
  view: ViewId;
  origin: ViewId | null;
  detail: string | null;
  mode: AgentsMode;
  readOnly: boolean;
  width: number;
}) {
  const theme = useTheme();
  const active = props.view === 'agent' || props.view === 'task' ? props.origin : props.view;
  return (
    <Box width={props.width} height={1} overflowY="hidden">
      <Text bold color={theme.accent}>
        {' Dream.OS '}
      </Text>
      {TOP_VIEWS.map((view, i) => (
        <Text key={view} inverse={view === active} bold={view === active}>
          {` ${i + 1} ${VIEW_TITLES[view]} `}
        </Text>
      ))}
      {props.detail ? <Text bold>{` › ${props.detail}`}</Text> : null}
      <Box flexGrow={1} />
      <Text color={theme.muted}>{MODE_TEXT[props.mode]}</Text>
      {props.readOnly ? <Text color={theme.status.warning}> [read-only]</Text> : null}
      <Text> </Text>
    </Box>
  );
});
