/** A log tail in a box: the last `rows` lines, or earlier ones when scrolled back `back` lines. */
import { Box, Text } from 'ink';
import { Volatile } from '../components/Volatile.js';
import { useTheme } from '../theme.js';

export function LogBox(props: {
  title: string;
  lines: readonly string[];
  rows: number;
  back?: number;
  width?: number;
}) {
  const theme = useTheme();
  const back = Math.min(props.back ?? 0, Math.max(0, props.lines.length - props.rows));
  const end = props.lines.length - back;
  const shown = props.lines.slice(Math.max(0, end - props.rows), end);
  return (
    <Box
      flexDirection="column"
      width={props.width}
      borderStyle="single"
      borderColor={theme.border}
      overflowY="hidden"
    >
      <Text bold wrap="truncate">
        {props.title}
        {back ? <Text color={theme.muted}>{` (scrolled back ${back} lines)`}</Text> : null}
      </Text>
      <Box flexDirection="column" height={props.rows} overflowY="hidden">
        {shown.length === 0 ? <Text color={theme.muted}>(no output)</Text> : null}
        {shown.map((line, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: log lines are positional
          <Volatile key={i} text={line} width={(props.width ?? 80) - 2} />
        ))}
      </Box>
    </Box>
  );
}
