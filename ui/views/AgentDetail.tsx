/** One agent: its state, last checkpoint and mailbox beside the log of its current task. */
import { Box, Text } from 'ink';
import { useMemo } from 'react';
import { Field } from '../components/Field.js';
import type { AgentRow } from '../data/console-view.js';
import { hasSession } from '../data/sessions.js';
import { useServices } from '../hooks.js';
import { bindingOf, KeyCommand, showKeys } from '../keymap.js';
import type { Layout } from '../layout.js';
import { clean, clock, percent, progressBar } from '../text.js';
import { AGENT_GLYPH, useTheme } from '../theme.js';
import { useAgentLog } from './AgentPane.js';
import { LiveScreen } from './LiveScreen.js';
import { LogBox } from './LogBox.js';

export function AgentDetail(props: { agent: AgentRow | null; seq: number; layout: Layout; scroll: number }) {
  const { agent, layout } = props;
  const theme = useTheme();
  const { ws } = useServices();
  const lines = useAgentLog(agent);
  // The view is as new as the console view that drew this (seq): no read of the journal here.
  // biome-ignore lint/correctness/useExhaustiveDependencies: seq is the trigger to read again
  const { checkpoint, mail } = useMemo(() => {
    if (!agent) return { checkpoint: undefined, mail: [] };
    return {
      checkpoint: ws.view.checkpoints(agent.id).at(-1),
      mail: ws.view.mailbox(agent.id).slice(-8).reverse(),
    };
  }, [ws, agent?.id, props.seq]);
  if (!agent) return <Text>This agent is no longer configured (esc goes back).</Text>;
  const d = layout.detail;
  const task = agent.task;
  const side = (
    <Box flexDirection="column" width={d.sideWidth} paddingRight={1} overflowY="hidden">
      <Text bold wrap="truncate">
        {`${clean(agent.name)} `}
        <Text color={theme.muted}>{`${agent.id} · ${agent.role}`}</Text>
      </Text>
      <Field name="driver">
        {agent.simulated ? <Text color={theme.simulated}>sim (simulated)</Text> : agent.driver}
      </Field>
      <Field name="status">
        <Text
          color={theme.agent[agent.status]}
        >{`${AGENT_GLYPH[agent.status]} ${agent.status}${agent.paused ? ' (paused)' : ''}`}</Text>
      </Field>
      <Field name="task">{task ? `${task.id} ${clean(task.title)}` : '-'}</Field>
      <Field name="progress">{`${progressBar(agent.progress, 12)} ${percent(agent.progress)}`}</Field>
      <Field name="heartbeat">{clock(agent.heartbeatAt)}</Field>
      <Field name="failures">{`${agent.failures} in a row · context resets ${agent.contextResets}`}</Field>
      <Text bold>Checkpoint</Text>
      {checkpoint ? (
        <>
          <Field name="at">{`${clock(checkpoint.at)} ${checkpoint.task ?? ''} ${percent(checkpoint.progress)}`}</Field>
          {checkpoint.step ? <Field name="step">{clean(checkpoint.step)}</Field> : null}
          {checkpoint.summary ? <Field name="summary">{clean(checkpoint.summary)}</Field> : null}
        </>
      ) : (
        <Text color={theme.muted}> none yet</Text>
      )}
      <Text bold>{`Mailbox (${mail.length ? 'newest first' : 'empty'})`}</Text>
      {mail.map((m) => (
        <Text key={m.id} wrap="truncate" color={m.ackedAt ? theme.muted : undefined}>
          {`${clock(m.createdAt)} ${clean(m.from, 20)}→${m.to} ${m.directive ?? m.type}${m.ackedAt ? ' ✓' : ''}  ${clean(m.body, 200)}`}
        </Text>
      ))}
    </Box>
  );
  const log = hasSession(agent) ? (
    <Box
      flexDirection="column"
      width={d.mainWidth}
      borderStyle="single"
      borderColor={theme.border}
      overflowY="hidden"
    >
      <Text bold wrap="truncate">
        {`Terminal of ${task!.id}`}
        <Text
          color={theme.muted}
        >{` (live; ${showKeys(bindingOf(KeyCommand.AgentAttach), 1)} attaches)`}</Text>
      </Text>
      <LiveScreen agentId={agent.id} task={task!.id} rows={d.logLines - 1} width={d.mainWidth - 2} />
    </Box>
  ) : (
    <LogBox
      title={task ? `Log of ${task.id}` : agent.lastTask ? `Log of ${agent.lastTask.id} (last task)` : 'Log'}
      lines={lines}
      rows={d.logLines - 1}
      back={props.scroll}
      width={d.mainWidth}
    />
  );
  return (
    <Box flexDirection={d.split ? 'row' : 'column'} height={layout.body.height} overflowY="hidden">
      {side}
      {log}
    </Box>
  );
}
