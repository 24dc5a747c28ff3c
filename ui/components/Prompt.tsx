/** A line being typed: its prompt, the text so far, a block cursor and an optional hint. */
import { Text } from 'ink';
import { useTheme } from '../theme.js';

export function Prompt(props: { prefix: string; text: string; hint?: string }) {
  const theme = useTheme();
  return (
    <Text>
      <Text bold color={theme.accent}>
        {props.prefix}
      </Text>
      {props.text}
      <Text inverse> </Text>
      {props.hint ? <Text color={theme.muted}>{`   ${props.hint}`}</Text> : null}
    </Text>
  );
}
