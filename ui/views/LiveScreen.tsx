/**
 * The live screen of a `pty` agent, cropped to a box of `rows` × `width` (ui/live-screen.ts): the
 * dashboard pane and the agent detail show it instead of the log while the agent runs a task.
 */
import { Box, Text } from 'ink';
import { Volatile } from '../components/Volatile.js';
import { cropScreen } from '../data/sessions.js';
import { useServices } from '../hooks.js';
import { useLiveScreen } from '../live-screen.js';
import { paint, useTheme } from '../theme.js';

export function LiveScreen(props: { agentId: string; task: string; rows: number; width: number }) {
  const { ws } = useServices();
  const theme = useTheme();
  const live = useLiveScreen(ws.home, props.agentId, props.task);
  if (live.state === 'connecting' || (live.state === 'ended' && !live.screen))
    return (
      <Text color={theme.muted} wrap="truncate">
        {live.state === 'connecting' ? '(connecting to its terminal…)' : '(its terminal has closed)'}
      </Text>
    );
  const lines = cropScreen(live.screen!, props.rows, props.width);
  const dim = live.state === 'ended';
  return (
    <Box flexDirection="column" height={Math.max(1, props.rows)} overflowY="hidden">
      {lines.map((line, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: screen rows are positional
        <Volatile key={i} text={dim ? paint(theme.muted, line) : line} width={props.width} />
      ))}
    </Box>
  );
}
