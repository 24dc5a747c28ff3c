/** One task: its fields, its history (scrolling) and the log of its last run. */
import { Box, Text } from 'ink';
import { useEffect, useState } from 'react';
import type { Task } from '../../state/schemas.js';
import { Field } from '../components/Field.js';
import { taskLogPath } from '../data/logs.js';
import { useLogLines, useServices } from '../hooks.js';
import { type Layout, windowStart } from '../layout.js';
import { clean, clock } from '../text.js';
import { useTheme } from '../theme.js';
import { LogBox } from './LogBox.js';
import { TaskCode } from './TaskCode.js';

/** The log of the task's agent, else of the last agent in its history that left one. */
function useTaskLogPath(task: Task | null): string | null {
  const { ws } = useServices();
  const [path, setPath] = useState<string | null>(null);
  useEffect(() => {
    const agents = ws.config.agents.map((a) => a.id);
    setPath(task ? taskLogPath((agent, id) => ws.paths.log(agent, id), agents, task) : null);
  }, [ws, task]);
  return path;
}

export function TaskDetail(props: {
  task: Task | null;
  layout: Layout;
  scroll: number;
  lookup: (id: string) => Task | undefined;
}) {
  const { task, layout } = props;
  const theme = useTheme();
  const lines = useLogLines(useTaskLogPath(task));
  if (!task)
    return <Text>This task is no longer on the board (it may have been archived). esc goes back.</Text>;
  const d = layout.detail;
  const deps = task.dependsOn.map((id) => `${id} (${props.lookup(id)?.status ?? 'archived'})`).join(', ');
  const historyRows = Math.max(2, d.split ? layout.body.height - 16 : 4);
  const start = windowStart(props.scroll, task.history.length, historyRows);
  const side = (
    <Box flexDirection="column" width={d.sideWidth} paddingRight={1} overflowY="hidden">
      <Text bold wrap="truncate">{`${task.id}  ${clean(task.title)}`}</Text>
      <Field name="status">
        <Text color={theme.stage[task.status]}>{task.status}</Text>
        {task.agent ? ` (${task.agent})` : ''}
        {`   priority ${task.priority}   attempts ${task.attempts}/${task.maxAttempts}   stalls ${task.stalls}`}
      </Field>
      {task.role || task.capabilities.length ? (
        <Field name="for">{[task.role, ...task.capabilities].filter(Boolean).join(', ')}</Field>
      ) : null}
      {deps ? <Field name="depends on">{deps}</Field> : null}
      {task.resources.length ? <Field name="resources">{clean(task.resources.join(', '))}</Field> : null}
      {task.tags.length ? <Field name="tags">{clean(task.tags.join(', '))}</Field> : null}
      {task.lease ? (
        <Field name="lease">{`${task.lease.owner} until ${clock(task.lease.expiresAt)}`}</Field>
      ) : null}
      {task.notBefore ? <Field name="retry at">{clock(task.notBefore)}</Field> : null}
      <TaskCode task={task} />
      {task.run ? <Field name="run">{clean(task.run, 300)}</Field> : null}
      {task.prompt ? <Field name="prompt">{clean(task.prompt, 300)}</Field> : null}
      {task.result ? (
        <Field name="result">
          <Text color={task.result.ok ? theme.status.ok : theme.status.error}>
            {task.result.ok ? 'ok' : 'failed'}
          </Text>
          {task.result.exitCode != null ? ` exit ${task.result.exitCode}` : ''}
          {` ${clean(task.result.summary ?? task.result.error ?? '', 300)}`}
        </Field>
      ) : null}
      <Field name="created">
        {`${clock(task.createdAt)} from ${task.source}, updated ${clock(task.updatedAt)}`}
        {task.approval?.status === 'pending' ? (
          <Text color={theme.status.warning}>, waits for approval (v)</Text>
        ) : null}
        {task.approval?.status === 'approved' ? `, approved by ${clean(task.approval.by ?? '?', 40)}` : ''}
      </Field>
      <Text bold>{`History (${task.history.length})`}</Text>
      {task.history.slice(start, start + historyRows).map((h, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: history is append-only, its positions are stable
        <Text key={`${h.at}-${start + i}`} wrap="truncate" inverse={start + i === props.scroll}>
          {`${clock(h.at)} ${h.from ?? '∅'} → ${h.to}  by ${clean(h.by, 20)}${h.why ? `  ${clean(h.why, 200)}` : ''}`}
        </Text>
      ))}
    </Box>
  );
  return (
    <Box flexDirection={d.split ? 'row' : 'column'} height={layout.body.height} overflowY="hidden">
      {side}
      <LogBox title="Log" lines={lines} rows={d.logLines - 1} width={d.mainWidth} />
    </Box>
  );
}
