/** The rejection form: the reviewer's note (required), which the task's next attempt gets. */
import { Text } from 'ink';
import type { Dialog } from '../model.js';
import { clean } from '../text.js';
import { useTheme } from '../theme.js';
import { DialogBox } from './DialogBox.js';

export function NoteForm(props: { dialog: Extract<Dialog, { kind: 'note' }>; width: number }) {
  const theme = useTheme();
  const { dialog, width } = props;
  const room = width - 12;
  const text = dialog.text.length > room ? `…${dialog.text.slice(-(room - 1))}` : dialog.text;
  return (
    <DialogBox title={`Reject ${dialog.taskId}`} kind="note" width={width}>
      <Text color={theme.muted} wrap="truncate">
        What should change? The task goes back to ready on its branch, with this note for its next attempt.
      </Text>
      <Text> </Text>
      <Text wrap="truncate">
        <Text bold color={theme.accent}>
          {'▶ Note  '}
        </Text>
        {text}
        <Text inverse> </Text>
        {dialog.text ? null : <Text color={theme.muted}>{'  required'}</Text>}
      </Text>
      <Text> </Text>
      {dialog.error ? (
        <Text color={theme.status.error} wrap="truncate">{`error: ${clean(dialog.error, 300)}`}</Text>
      ) : (
        <Text color={theme.muted}>enter rejects the task</Text>
      )}
    </DialogBox>
  );
}
