/**
 * The `:` command palette: type to narrow, arrows to choose, enter to run. Once a command's name
 * and a space are typed, it is a typed command (`retry failed`): its usage, what is wrong with it,
 * and completions of the word being typed (tab takes the chosen one).
 */
import { Text } from 'ink';
import { typedLine } from '../commands.js';
import { completions } from '../completion.js';
import { Prompt } from '../components/Prompt.js';
import type { ConsoleView } from '../data/console-view.js';
import { useServices } from '../hooks.js';
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
  error?: string | undefined;
  view: ConsoleView;
  width: number;
  rows: number;
}) {
  const theme = useTheme();
  const { ws } = useServices();
  const typed = typedLine(props.query, props.ctx.readOnly);
  const rows = Math.max(1, props.rows - 6);
  const problem = props.error ?? typed?.error ?? null;
  if (typed) {
    const items = completions(props.query, {
      view: props.view,
      roles: ws.config.agents.map((a) => a.role),
      readOnly: props.ctx.readOnly,
    }).items;
    const index = Math.min(props.index, Math.max(0, items.length - 1));
    const start = windowStart(index, items.length, rows);
    return (
      <DialogBox title="Commands" kind="palette" width={props.width} height={props.rows}>
        <Prompt prefix=": " text={props.query} />
        <Text wrap="truncate" color={theme.muted}>
          {`:${typed.binding.typed?.usage ?? typed.name} — ${typed.binding.description}`}
        </Text>
        {problem ? (
          <Text wrap="truncate" color={theme.status.error}>{`error: ${problem}`}</Text>
        ) : (
          <Text color={theme.muted}>{items.length ? 'tab completes · enter runs' : 'enter runs'}</Text>
        )}
        {items.slice(start, start + rows).map((item, i) => (
          <Text key={item} wrap="truncate" inverse={start + i === index}>
            {`${start + i === index ? '▶' : ' '} ${item}`}
          </Text>
        ))}
      </DialogBox>
    );
  }
  const items = paletteItems(props.ctx, props.query);
  const index = Math.min(props.index, Math.max(0, items.length - 1));
  const start = windowStart(index, items.length, rows);
  return (
    <DialogBox title="Commands" kind="palette" width={props.width} height={props.rows}>
      <Prompt prefix=": " text={props.query} />
      {problem ? <Text color={theme.status.error}>{`error: ${problem}`}</Text> : null}
      {items.length === 0 ? <Text color={theme.muted}>no command matches</Text> : null}
      {items.slice(start, start + rows).map((item, i) => {
        const selected = start + i === index;
        const typedAs = item.binding.typed ? `  :${item.binding.typed.usage}` : '';
        return (
          <Text
            key={`${item.binding.command}-${item.binding.keys[0]}`}
            wrap="truncate"
            inverse={selected}
            dimColor={item.disabled !== null}
          >
            {`${selected ? '▶' : ' '} ${showKeys(item.binding).padEnd(10)} ${item.binding.description}`}
            {item.binding.dangerous ? <Text color={theme.status.warning}> (asks first)</Text> : null}
            <Text color={theme.muted}>{typedAs}</Text>
            {item.disabled ? <Text color={theme.muted}>{` — ${item.disabled}`}</Text> : null}
          </Text>
        );
      })}
    </DialogBox>
  );
}
