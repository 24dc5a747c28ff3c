/**
 * The top line: the product, the views with their number keys (attention with the count of items not
 * seen yet), who runs the agents, read-only mode.
 */
import { Box, Text } from 'ink';
import { memo } from 'react';
import type { Runner } from '../../src/runners.js';
import { TOP_VIEWS, VIEW_TITLES, type ViewId } from '../keymap.js';
import { useTheme } from '../theme.js';

/** From this width every view's title fits in the header beside who runs the agents. */
const WIDE = 120;

export type AgentsMode = 'running' | 'attached' | 'starting' | 'unavailable';

/** Who runs the agents, whatever this console's mode: this process, other ones (by pid), or nobody. */
function whoRuns(mode: AgentsMode, runners: readonly Runner[]): string {
  if (mode === 'starting') return 'starting agents…';
  if (runners.length === 0) return 'nobody runs agents';
  const others = runners.filter((r) => !r.here).map((r) => r.pid);
  if (others.length === runners.length) return `agents: pid ${others.join(', ')}`;
  return `agents run here${others.length ? ` + pid ${others.join(', ')}` : ''}`;
}

export const Header = memo(function Header(props: {
  view: ViewId;
  origin: ViewId | null;
  detail: string | null;
  mode: AgentsMode;
  runners: readonly Runner[];
  readOnly: boolean;
  /** Attention items that came since the attention view was last open. */
  unseen?: number;
  width: number;
}) {
  const theme = useTheme();
  const active = (TOP_VIEWS as readonly ViewId[]).includes(props.view) ? props.view : props.origin;
  // Narrow terminals name only the view shown; the others keep their number key.
  const named = (view: ViewId) => props.width >= WIDE || view === active;
  return (
    <Box width={props.width} height={1} overflowY="hidden">
      <Text bold color={theme.accent}>
        {' Dream.OS '}
      </Text>
      {TOP_VIEWS.map((view, i) => (
        <Text key={view} inverse={view === active} bold={view === active}>
          {named(view) ? ` ${i + 1} ${VIEW_TITLES[view]}` : ` ${i + 1}`}
          {view === 'alerts' && props.unseen ? (
            // Narrow terminals get the short form: the tabs already fill 80 columns.
            <Text color={theme.status.warning}>
              {props.width >= 100 ? ` ${props.unseen} new` : ` +${props.unseen}`}
            </Text>
          ) : null}{' '}
        </Text>
      ))}
      {props.detail ? <Text bold>{` › ${props.detail}`}</Text> : null}
      <Box flexGrow={1} />
      <Text
        color={props.runners.length === 0 && props.mode !== 'starting' ? theme.status.warning : theme.muted}
      >
        {whoRuns(props.mode, props.runners)}
      </Text>
      {props.readOnly ? <Text color={theme.status.warning}> [read-only]</Text> : null}
      <Text> </Text>
    </Box>
  );
});
