/**
 * The board: one column per stage, each scrolling on its own cursor; only the visible rows of each
 * column are rendered (a column of 10,000 tasks costs as much as one of 40). Columns that do not fit
 * the width scroll sideways with the focused one.
 */
import { Box, Text } from 'ink';
import { memo } from 'react';
import { plural } from '../../src/output.js';
import { STATUSES, type Status, type Task } from '../../state/schemas.js';
import { Volatile } from '../components/Volatile.js';
import { type AttentionItem, reasonWords } from '../data/attention.js';
import type { Followed } from '../derive.js';
import { type Layout, windowStart } from '../layout.js';
import { type BoardSort, sortWords } from '../selection.js';
import { taskMatcher } from '../task-query.js';
import { clean, PRIORITY_MARK } from '../text.js';
import { paint, useTheme } from '../theme.js';

const TaskRow = memo(function TaskRow(props: {
  task: Task;
  selected: boolean;
  focused: boolean;
  marked: boolean;
}) {
  const { task, selected, focused, marked } = props;
  const theme = useTheme();
  const agent = task.agent && task.status === 'working' ? ` @${task.agent}` : '';
  return (
    <Text wrap="truncate" inverse={selected && focused} underline={selected && !focused}>
      {selected && focused ? '▶' : ' '}
      {marked ? <Text color={theme.accent}>✓</Text> : ' '}
      <Text color={theme.muted}>{`${task.id} `}</Text>
      <Text
        color={task.priority === 'critical' || task.priority === 'high' ? theme.status.warning : theme.muted}
      >
        {PRIORITY_MARK[task.priority]}
      </Text>
      {clean(task.title, 200)}
      <Text color={theme.muted}>{agent}</Text>
    </Text>
  );
});

const Column = memo(function Column(props: {
  stage: Status;
  tasks: Task[];
  cursor: number;
  focused: boolean;
  width: number;
  rows: number;
  marked: ReadonlySet<string>;
}) {
  const { stage, tasks, cursor, focused, rows, marked } = props;
  const theme = useTheme();
  const start = windowStart(cursor, tasks.length, rows);
  const visible = tasks.slice(start, start + rows);
  const more = tasks.length > rows ? ` ${start + 1}-${start + visible.length}` : '';
  return (
    <Box flexDirection="column" width={props.width} paddingRight={1} overflowY="hidden">
      <Text wrap="truncate" bold inverse={focused} color={theme.stage[stage]}>
        {`${focused ? '▸' : ' '}${stage.toUpperCase()} (${tasks.length})${more}`}
      </Text>
      {visible.map((task, i) => (
        <TaskRow
          key={task.id}
          task={task}
          selected={start + i === cursor}
          focused={focused}
          marked={marked.has(task.id)}
        />
      ))}
      {tasks.length === 0 ? <Text color={theme.muted}> (empty)</Text> : null}
    </Box>
  );
});

/** Why a filter matches nothing because it is not a query (`status:limbo`), else null. */
const filterError = (filter: string) => {
  const { error } = taskMatcher(filter);
  return error ? `error: ${error}` : null;
};

export function Board(props: {
  columns: Record<Status, Task[]>;
  cursors: Record<Status, Followed>;
  column: number;
  filter: string;
  total: number;
  /** What needs the operator: the selected task's item is shown in the status line. */
  attention: AttentionItem[];
  layout: Layout;
  /** Tasks marked for a bulk action, and the order of the columns. */
  marked: ReadonlySet<string>;
  sort: BoardSort;
}) {
  const { columns, layout, column } = props;
  const theme = useTheme();
  const { columnsVisible, columnWidth, rows } = layout.board;
  const first = Math.max(
    0,
    Math.min(column - Math.floor(columnsVisible / 2), STATUSES.length - columnsVisible),
  );
  const shown = STATUSES.slice(first, first + columnsVisible);
  const stage = STATUSES[column]!;
  const list = columns[stage];
  const { cursor, lost } = props.cursors[stage];
  const selected = list[cursor];
  const needs = selected ? props.attention.find((i) => i.task === selected.id) : undefined;
  const matching = STATUSES.reduce((n, s) => n + columns[s].length, 0);
  const hidden = [
    first > 0 ? `← ${first} more` : '',
    first + columnsVisible < STATUSES.length ? `${STATUSES.length - first - columnsVisible} more →` : '',
  ]
    .filter(Boolean)
    .join('  ');
  return (
    <Box flexDirection="column" height={layout.body.height} overflowY="hidden">
      <Box height={rows + 1} overflowY="hidden">
        {shown.map((s) => (
          <Column
            key={s}
            stage={s}
            tasks={columns[s]}
            cursor={props.cursors[s].cursor}
            focused={s === stage}
            width={columnWidth}
            rows={rows}
            marked={props.marked}
          />
        ))}
      </Box>
      <Volatile
        width={layout.width}
        text={paint(
          theme.muted,
          `${stage} ${list.length ? `${cursor + 1}/${list.length}` : '0/0'}${list[cursor] ? ` ${list[cursor]!.id}` : ''}` +
            (lost ? `   ${lost} has left ${stage}` : '') +
            (props.filter
              ? `   filter "${props.filter}": ${filterError(props.filter) ?? `${matching} of ${props.total}`}`
              : `   ${plural(props.total, 'task')}`) +
            (props.marked.size ? `   ${props.marked.size} marked` : '') +
            (props.sort !== 'priority' ? `   sorted ${sortWords[props.sort]}` : '') +
            (needs ? `   ⚠ ${reasonWords(needs.reason)}: ${clean(needs.text, 300)}` : '') +
            (hidden ? `   ${hidden}` : ''),
        )}
      />
    </Box>
  );
}
