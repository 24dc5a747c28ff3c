/** The first frame, drawn before the workspace is read (a board of 10,000 tasks takes a moment). */
import { Box, Text } from 'ink';

export function Splash({ what }: { what: string }) {
  return (
    <Box flexDirection="column" paddingX={1}>
      <Text bold>Dream.OS</Text>
      <Text>{what}</Text>
    </Box>
  );
}
