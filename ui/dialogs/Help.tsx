/** The `?` overlay: every key from the keymap, grouped; dangerous ones marked, disabled ones say why. */
import { Text } from 'ink';
import { helpLines } from '../help.js';
import type { KeyContext } from '../keymap.js';
import { useTheme } from '../theme.js';
import { DialogBox } from './DialogBox.js';

export function Help(props: { ctx: KeyContext; scroll: number; width: number; rows: number }) {
  const theme = useTheme();
  const lines = helpLines(props.ctx);
  const rows = Math.max(1, props.rows - 4);
  const start = Math.min(props.scroll, Math.max(0, lines.length - rows));
  return (
    <DialogBox
      title={`Keys${props.ctx.readOnly ? ' (read-only: changes are hidden)' : ''}`}
      kind="help"
      width={props.width}
      height={props.rows}
    >
      {lines.slice(start, start + rows).map((line) =>
        line.kind === 'group' ? (
          <Text key={`group:${line.text}`} bold color={theme.accent}>
            {line.text}
          </Text>
        ) : (
          <Text key={`key:${line.keys}:${line.text}`} wrap="truncate" dimColor={line.disabled !== null}>
            {`  ${line.keys.padEnd(16)} ${line.text}`}
            {line.typed ? <Text color={theme.accent}>{`   ${line.typed}`}</Text> : null}
            {line.dangerous ? <Text color={theme.status.warning}> (asks first)</Text> : null}
            {line.disabled ? <Text color={theme.muted}>{` — ${line.disabled}`}</Text> : null}
          </Text>
        ),
      )}
    </DialogBox>
  );
}
