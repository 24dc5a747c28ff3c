/**
 * The two bottom lines: a text prompt (filter, message) or the flash message or a status, and the
 * help bar generated from the keymap.
 */
import { Box, Text } from 'ink';
import { memo, type ReactNode } from 'react';
import { firstLine } from '../long-text.js';
import type { Dialog, Flash } from '../model.js';
import { clean } from '../text.js';
import { paint, useTheme } from '../theme.js';
import { Prompt } from './Prompt.js';
import { Volatile } from './Volatile.js';

const LEVEL_WORD = { info: '', warning: 'warning: ', error: 'error: ' } as const;

export const Footer = memo(function Footer(props: {
  dialog: Dialog | null;
  flash: Flash | null;
  status: string;
  help: string;
  width: number;
  /** A bulk action under way (ui/bulk.ts): shown before anything but a prompt. */
  progress?: string | null;
}) {
  const theme = useTheme();
  const { dialog, flash } = props;
  let line: ReactNode;
  if (dialog?.kind === 'filter') {
    const hint =
      dialog.view === 'log'
        ? 'enter goes to the first match · esc clears it'
        : dialog.view === 'journal'
          ? 'words, task:ID agent:ID kind:OP · enter keeps the filter · esc clears it'
          : 'enter keeps the filter · esc clears it';
    line = <Prompt prefix="/ " text={dialog.text} hint={hint} />;
  } else if (dialog?.kind === 'message') {
    line = (
      <Prompt
        prefix={`message to ${dialog.agentId}: `}
        text={firstLine(dialog.text)}
        hint="enter sends · ctrl-e editor · esc cancels"
      />
    );
  } else if (props.progress) {
    line = <Text color={theme.status.info}>{`⏳ ${props.progress}`}</Text>;
  } else if (flash) {
    const colour =
      flash.level === 'error'
        ? theme.status.error
        : flash.level === 'warning'
          ? theme.status.warning
          : theme.status.info;
    line = (
      <Text color={colour} bold={flash.level !== 'info'}>
        {`${LEVEL_WORD[flash.level]}${clean(flash.text, 500)}`}
      </Text>
    );
  } else {
    line = null;
  }
  return (
    <Box flexDirection="column" width={props.width} height={2} overflowY="hidden">
      <Box height={1} overflowY="hidden">
        {line ? (
          <Text wrap="truncate">{line}</Text>
        ) : (
          // The status changes with every journal entry: see Volatile.
          <Volatile text={paint(theme.muted, props.status)} width={props.width} />
        )}
      </Box>
      <Box height={1} overflowY="hidden">
        <Text wrap="truncate" color={theme.muted}>
          {props.help}
        </Text>
      </Box>
    </Box>
  );
});
