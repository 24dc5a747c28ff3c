/** A dangerous action asks first; Cancel has the focus, so enter alone never does harm. */
import { Box, Text } from 'ink';
import type { Dialog } from '../model.js';
import { clean } from '../text.js';
import { useTheme } from '../theme.js';
import { DialogBox } from './DialogBox.js';

export function Confirm(props: { dialog: Extract<Dialog, { kind: 'confirm' }>; width: number }) {
  const theme = useTheme();
  const { dialog } = props;
  const button = (name: 'cancel' | 'confirm', label: string) => {
    const focused = dialog.focus === name;
    return (
      <Text inverse={focused} bold={focused} color={name === 'confirm' ? theme.status.error : undefined}>
        {`${focused ? '▶' : ' '}[ ${label} ]`}
      </Text>
    );
  };
  return (
    <DialogBox title={clean(dialog.title)} kind="confirm" width={Math.min(props.width, 72)}>
      <Text wrap="wrap">{clean(dialog.detail, 400)}</Text>
      {dialog.note ? (
        <Text wrap="truncate" color={theme.muted}>{`note: ${clean(dialog.note, 200)}`}</Text>
      ) : null}
      <Text> </Text>
      <Box gap={2}>
        {button('cancel', 'Cancel')}
        {button('confirm', 'Confirm')}
      </Box>
    </DialogBox>
  );
}
