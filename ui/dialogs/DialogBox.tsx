/** The frame every dialog is drawn in, with a hint line generated from the keymap. */
import { Box, Text } from 'ink';
import type { ReactNode } from 'react';
import { BINDINGS, type DialogKind, KeyCommand, showKey } from '../keymap.js';
import { useTheme } from '../theme.js';

const HINT_ORDER = [
  KeyCommand.EditorSave,
  KeyCommand.DialogSubmit,
  KeyCommand.DialogConfirm,
  KeyCommand.DialogClose,
  KeyCommand.DialogCycle,
  KeyCommand.DialogCycleBack,
  KeyCommand.DialogNext,
  KeyCommand.DialogPrev,
  KeyCommand.TextDelete,
  KeyCommand.TextClear,
  KeyCommand.EditorNewline,
  KeyCommand.TextEditor,
];

/** "enter ok · esc close · →/← change · …": the dialog's bindings, one entry per label, most used first. */
export function dialogHint(kind: DialogKind): string {
  const keys = new Map<string, string[]>();
  const bindings = BINDINGS.filter((b) => b.scopes.includes(kind)).sort(
    (a, b) => HINT_ORDER.indexOf(a.command) - HINT_ORDER.indexOf(b.command),
  );
  for (const b of bindings)
    keys.set(b.label, [...(keys.get(b.label) ?? []), ...b.keys.slice(0, 1).map(showKey)]);
  return [...keys].map(([label, k]) => `${k.join('/')} ${label}`).join(' · ');
}

export function DialogBox(props: {
  title: string;
  kind: DialogKind;
  width: number;
  height?: number;
  children: ReactNode;
}) {
  const theme = useTheme();
  return (
    <Box flexDirection="column" alignItems="center" width="100%">
      <Box
        flexDirection="column"
        width={props.width}
        height={props.height}
        borderStyle="round"
        borderColor={theme.focusBorder}
        paddingX={1}
        overflowY="hidden"
      >
        <Text bold color={theme.accent}>
          {props.title}
        </Text>
        <Box flexDirection="column" flexGrow={1} overflowY="hidden">
          {props.children}
        </Box>
        <Text color={theme.muted} wrap="truncate">
          {dialogHint(props.kind)}
        </Text>
      </Box>
    </Box>
  );
}
