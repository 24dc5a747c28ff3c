/**
 * One agent on the dashboard: name, role, driver ("simulated" for sim agents), status, current task,
 * progress and the last lines of its current task's log (or of its last task while idle). A compact
 * one-line form is used when the terminal is short.
 */
import chalk from 'chalk';
import { Box, Text } from 'ink';
import { memo } from 'react';
import { stripControl } from '../../src/sanitize.js';
import { Volatile } from '../components/Volatile.js';
import type { AgentRow } from '../data/console-view.js';
import type { AgentReviewNote } from '../data/review.js';
import { hasSession } from '../data/sessions.js';
import { useLogLines, useServices } from '../hooks.js';
import { useLiveScreen } from '../live-screen.js';
import { clean, percent, progressBar } from '../text.js';
import { AGENT_GLYPH, paint, useTheme } from '../theme.js';
import { LiveScreen } from './LiveScreen.js';

/** The log the pane follows: the current task's, else the last finished one's (none without an agent). */
export function useAgentLog(agent: AgentRow | null): readonly string[] {
  const { ws } = useServices();
  const task = agent ? (agent.task ?? agent.lastTask) : null;
  return useLogLines(agent && task ? ws.paths.log(agent.id, task.id) : null);
}

function StatusWord({ agent }: { agent: AgentRow }) {
  const theme = useTheme();
  const status = agent.paused && agent.status !== 'paused' ? `${agent.status} (pausing)` : agent.status;
  return <Text color={theme.agent[agent.status]}>{`${AGENT_GLYPH[agent.status]} ${status}`}</Text>;
}

export const AgentPane = memo(function AgentPane(props: {
  agent: AgentRow;
  width: number;
  height: number;
  logLines: number;
  selected: boolean;
  /** Its code work waiting for review or sent back by the merge queue (shown while it has no task). */
  review?: AgentReviewNote | null;
}) {
  const { agent, selected } = props;
  const theme = useTheme();
  const lines = useAgentLog(agent).slice(-props.logLines);
  const task = agent.task;
  return (
    <Box
      width={props.width}
      height={props.height}
      flexDirection="column"
      borderStyle={selected ? 'double' : 'round'}
      borderColor={selected ? theme.focusBorder : theme.border}
      overflowY="hidden"
    >
      <Box height={1} overflowY="hidden">
        <Text wrap="truncate">
          <Text bold inverse={selected}>{`${selected ? '▶ ' : ''}${clean(agent.name, 30)}`}</Text>
          {agent.simulated ? <Text color={theme.simulated}> [simulated]</Text> : null}
          <Text
            color={theme.muted}
          >{` ${agent.id} · ${agent.role}${agent.simulated ? '' : ` · ${agent.driver}`}`}</Text>
        </Text>
      </Box>
      <Box height={1} overflowY="hidden">
        <Text wrap="truncate">
          <StatusWord agent={agent} />
          {agent.progress !== null ? (
            <Text
              color={theme.accent}
            >{` ${percent(agent.progress)} ${progressBar(agent.progress, 6)}`}</Text>
          ) : null}
          {task ? <Text>{` ${task.id} ${clean(task.title, 80)}`}</Text> : null}
          {!task && props.review ? (
            <Text
              color={props.review.level === 'warning' ? theme.status.warning : theme.accent}
            >{` · ${props.review.taskId} ${props.review.words}`}</Text>
          ) : null}
        </Text>
      </Box>
      {hasSession(agent) ? (
        <LiveScreen agentId={agent.id} task={task!.id} rows={props.logLines} width={props.width - 2} />
      ) : lines.length === 0 ? (
        <Text color={theme.muted} wrap="truncate">
          {task ? '(no output yet)' : agent.lastTask ? `(idle; last: ${agent.lastTask.id})` : '(idle)'}
        </Text>
      ) : (
        lines.map((line, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: log lines are positional
          <Volatile key={i} text={task ? line : paint(theme.muted, line)} width={props.width - 2} />
        ))
      )}
    </Box>
  );
});

export const AgentLine = memo(function AgentLine(props: {
  agent: AgentRow;
  width: number;
  selected: boolean;
  review?: AgentReviewNote | null;
}) {
  const { agent, selected } = props;
  const theme = useTheme();
  const note = !agent.task && props.review ? props.review : null;
  const { ws } = useServices();
  // A pty agent's line ends with the last text of its live screen, not of its log.
  const live = useLiveScreen(ws.home, agent.id, hasSession(agent) ? agent.task!.id : null);
  const screenLast =
    live.state === 'live' ? live.screen.lines.filter((l) => l.trim() !== '').at(-1) : undefined;
  const logLast = useAgentLog(agent).at(-1) ?? '';
  const last = screenLast === undefined ? logLast : stripControl(screenLast);
  const status = agent.paused && agent.status !== 'paused' ? `${agent.status} (pausing)` : agent.status;
  // One string (the last log line changes all the time: see Volatile).
  const text = [
    `${selected ? '▶' : ' '} ${clean(agent.name, 16).padEnd(16)}`,
    agent.simulated ? paint(theme.simulated, ' sim ') : '     ',
    paint(theme.agent[agent.status], `${AGENT_GLYPH[agent.status]} ${status}`),
    ` ${agent.task ? `${agent.task.id} ${clean(agent.task.title, 40)}` : ''} ${percent(agent.progress)}`,
    note
      ? paint(note.level === 'warning' ? theme.status.warning : theme.accent, `${note.taskId} ${note.words}`)
      : '',
    last ? paint(theme.muted, ` │ ${last}`) : '',
  ].join('');
  return (
    <Box width={props.width} height={1} overflowY="hidden">
      <Volatile text={selected ? chalk.inverse(text) : text} width={props.width} />
    </Box>
  );
});
