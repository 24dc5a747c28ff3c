/** Choose one of a few options (the stage a task moves to). */
import { Text } from 'ink';
import type { Dialog } from '../model.js';
import { DialogBox } from './DialogBox.js';

export function Picker(props: { dialog: Extract<Dialog, { kind: 'picker' }>; width: number }) {
  const { dialog } = props;
  return (
    <DialogBox title={dialog.title} kind="picker" width={Math.min(props.width, 48)}>
      {dialog.options.map((option, i) => (
        <Text key={option} inverse={i === dialog.index}>
          {`${i === dialog.index ? '▶' : ' '} ${option}`}
        </Text>
      ))}
    </DialogBox>
  );
}
