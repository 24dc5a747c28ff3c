/** One labelled line of a detail view: the name in the muted colour, padded, then the value. */
import { Text } from 'ink';
import type { ReactNode } from 'react';
import { useTheme } from '../theme.js';

export function Field({ name, children }: { name: string; children: ReactNode }) {
  const theme = useTheme();
  return (
    <Text wrap="truncate">
      <Text color={theme.muted}>{name.padEnd(11)}</Text>
      {children}
    </Text>
  );
}
