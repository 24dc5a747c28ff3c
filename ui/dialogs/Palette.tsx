/** The `:` command palette: type to narrow, arrows to choose, enter to run. */
import { Text } from 'ink';
import { Prompt } from '../components/Prompt.js';
import type { KeyContext } from '../keymap.js';
import { showKeys } from '../keymap.js';
import { windowStart } from '../layout.js';
import { paletteItems } from '../palette.js';
import { useTheme } from '../theme.js';
import { DialogBox } from './DialogBox.js';

export function Palette(props: {
  ctx: KeyContext;
  query: string;
  index: number;
  width: number;
  rows: number;
}) {
  const theme = useTheme();
  const items = paletteItems(props.ctx, props.query);
  const index = Math.min(props.index, Math.max(0, items.length - 1));
  const rows = Math.max(1, props.rows - 5);
  const start = windowStart(index, items.length, rows);
  return (
    <DialogBox title="Commands" kind="palette" width={props.width} height={props.rows}>
      <Prompt prefix=": " text={props.query} />
      {items.length === 0 ? <Text color={theme.muted}>no command matches</Text> : null}
      {items.slice(start, start + rows).map((item, i) => {
        const selected = start + i === index;
        return (
          <Text
            key={`${item.binding.command}-${item.binding.keys[0]}`}
            wrap="truncate"
            inverse={selected}
            dimColor={item.disabled !== null}
          >
            {`${selected ? '▶' : ' '} ${showKeys(item.binding).padEnd(10)} ${item.binding.description}`}
            {item.binding.dangerous ? <Text color={theme.status.warning}> (asks first)</Text> : null}
            {item.disabled ? <Text color={theme.muted}>{` — ${item.disabled}`}</Text> : null}
          </Text>
        );
      })}
    </DialogBox>
  );
}
