/** The add/edit task form: one line per field, the focused one marked; the engine's refusal shows in red. */
import { Text } from 'ink';
import type { FormState } from '../form.js';
import { firstLine } from '../long-text.js';
import { clean } from '../text.js';
import { useTheme } from '../theme.js';
import { DialogBox } from './DialogBox.js';

export function TaskForm(props: { form: FormState; width: number }) {
  const theme = useTheme();
  const { form } = props;
  return (
    <DialogBox
      title={form.mode === 'add' ? 'Add a task' : `Edit ${form.taskId}`}
      kind="form"
      width={props.width}
    >
      {form.fields.map((field, i) => {
        const focused = i === form.focus;
        return (
          <Text key={field.name} wrap="truncate">
            <Text bold={focused} color={focused ? theme.accent : theme.muted}>
              {`${focused ? '▶' : ' '} ${field.label.padEnd(11)}`}
            </Text>
            {field.kind === 'choice' ? (
              <Text inverse={focused}>{`‹ ${field.value} ›`}</Text>
            ) : (
              <Text>
                {(() => {
                  const value = firstLine(field.value);
                  return value.length > props.width - 20 ? `…${value.slice(-(props.width - 21))}` : value;
                })()}
                {focused ? <Text inverse> </Text> : null}
              </Text>
            )}
            {!field.value && field.hint ? <Text color={theme.muted}>{`  ${field.hint}`}</Text> : null}
          </Text>
        );
      })}
      <Text> </Text>
      {form.error ? (
        <Text color={theme.status.error} wrap="truncate">{`error: ${clean(form.error, 300)}`}</Text>
      ) : (
        <Text color={theme.muted}>
          {`${form.mode === 'add' ? 'enter adds the task' : 'enter saves'} · ctrl-e writes the prompt in an editor`}
        </Text>
      )}
    </DialogBox>
  );
}
