/** The multi-line editor (when neither $VISUAL nor $EDITOR is set): the last lines that fit, a block cursor at the end. */
import { Text } from 'ink';
import { stripControl } from '../../src/sanitize.js';
import type { Dialog } from '../model.js';
import { clean } from '../text.js';
import { useTheme } from '../theme.js';
import { DialogBox } from './DialogBox.js';

/** The text as screen lines `width` wide (long lines wrap), control characters removed. */
export function screenLines(text: string, width: number): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const shown = stripControl(line).replace(/\t/g, '  ');
    if (!shown) out.push('');
    for (let i = 0; i < shown.length; i += width) out.push(shown.slice(i, i + width));
  }
  return out;
}

export function TextEditor(props: {
  dialog: Extract<Dialog, { kind: 'editor' }>;
  width: number;
  rows: number;
}) {
  const theme = useTheme();
  const inner = Math.max(10, props.width - 4);
  const rows = Math.max(3, props.rows - 4);
  const lines = screenLines(props.dialog.text, inner - 1);
  const shown = lines.slice(-rows);
  const count = props.dialog.text.split('\n').length;
  return (
    <DialogBox title={clean(props.dialog.title)} kind="editor" width={props.width} height={rows + 4}>
      {shown.map((line, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: screen lines are positional
        <Text key={i} wrap="truncate">
          {line}
          {i === shown.length - 1 ? <Text inverse> </Text> : null}
        </Text>
      ))}
      <Text color={theme.muted} wrap="truncate">
        {`${count} line${count === 1 ? '' : 's'}${lines.length > rows ? `, the last ${rows} shown` : ''} · set $VISUAL or $EDITOR to write in your editor`}
      </Text>
    </DialogBox>
  );
}
