/** Shown instead of the console when the terminal is below the minimum size. */
import { Box, Text } from 'ink';
import { MIN_SIZE, type Size } from '../layout.js';

export function TooSmall({ size }: { size: Size }) {
  return (
    <Box flexDirection="column">
      <Text bold>Dream.OS: the terminal is too small</Text>
      <Text>
        {`It is ${size.columns}×${size.rows}; the console needs at least ${MIN_SIZE.columns}×${MIN_SIZE.rows}.`}
      </Text>
      <Text>Make the window larger, or press q to quit.</Text>
    </Box>
  );
}
