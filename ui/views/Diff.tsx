/**
 * A task's diff: the changed files with their counts, then the unified diff, coloured (added,
 * removed, hunk headers, file headers), a page at a time. Only the lines on screen are drawn, each
 * as one string (Volatile), so a 5,000-line diff costs what a page costs.
 */
import chalk from 'chalk';
import { Box, Text } from 'ink';
import type { Task } from '../../state/schemas.js';
import { Volatile } from '../components/Volatile.js';
import { type DiffLineKind, fileAt } from '../diff-model.js';
import { bindingOf, KeyCommand, showKeys } from '../keymap.js';
import type { Layout } from '../layout.js';
import type { DiffPage } from '../review-select.js';
import { clean } from '../text.js';
import { paint, type Theme, useTheme } from '../theme.js';

/** `] file · [ prev file · A approve · …`, from the keymap. */
const HINT = [
  KeyCommand.DiffNextFile,
  KeyCommand.DiffPrevFile,
  KeyCommand.ReviewApprove,
  KeyCommand.ReviewReject,
  KeyCommand.Back,
]
  .map((command) => `${showKeys(bindingOf(command), 1)} ${bindingOf(command).label}`)
  .join(' · ');

function colourOf(theme: Theme, kind: DiffLineKind): string | undefined {
  switch (kind) {
    case 'add':
      return theme.status.ok;
    case 'del':
      return theme.status.error;
    case 'hunk':
      return theme.accent;
    case 'meta':
    case 'title':
      return theme.muted;
    default:
      return undefined;
  }
}

export function Diff(props: {
  taskId: string;
  task: Task | null;
  page: DiffPage;
  top: number;
  layout: Layout;
}) {
  const { page, top, layout, task } = props;
  const theme = useTheme();
  const rows = layout.list.rows;
  const parsed = page.parsed;
  const code = task?.code;
  const title = `Diff of ${props.taskId}${task ? ` ${clean(task.title, 60)}` : ''}${code ? `  ${code.branch} → ${clean(code.base, 40)}` : ''}`;
  if (!parsed)
    return (
      <Box flexDirection="column" height={layout.body.height} overflowY="hidden">
        <Text bold wrap="truncate">
          {title}
        </Text>
        <Text color={page.error ? theme.status.error : theme.muted} wrap="truncate">
          {page.error ? `The diff cannot be shown: ${clean(page.error, 300)}` : 'reading the diff…'}
        </Text>
      </Box>
    );
  const lines = parsed.lines;
  const shown = lines.slice(top, top + rows);
  const file = fileAt(parsed, top);
  const where = `lines ${top + 1}-${top + shown.length} of ${lines.length}`;
  const fileWords = parsed.files.length
    ? file >= 0
      ? `file ${file + 1}/${parsed.files.length} ${parsed.files[file]}`
      : `${parsed.files.length} files`
    : 'no change';
  return (
    <Box flexDirection="column" height={layout.body.height} overflowY="hidden">
      <Text bold wrap="truncate">
        {title}
        <Text color={theme.muted}>{`  ${where} · ${clean(fileWords, 80)}`}</Text>
      </Text>
      <Box flexDirection="column" height={rows} overflowY="hidden">
        {shown.map((line, i) => {
          const text =
            line.kind === 'file' ? chalk.bold(line.text) : paint(colourOf(theme, line.kind), line.text);
          // biome-ignore lint/suspicious/noArrayIndexKey: diff lines are positional
          return <Volatile key={i} text={text} width={layout.width} />;
        })}
      </Box>
      <Volatile text={paint(theme.muted, HINT)} width={layout.width} />
    </Box>
  );
}
