/** The area between header and footer: the open dialog, else the current view. */
import { Box, Text } from 'ink';
import { Component, type ReactNode } from 'react';
import { reviewRows } from './data/review.js';
import { boardCursors, type Lists, type Selection } from './derive.js';
import { Confirm } from './dialogs/Confirm.js';
import { Help } from './dialogs/Help.js';
import { NoteForm } from './dialogs/NoteForm.js';
import { Palette } from './dialogs/Palette.js';
import { Picker } from './dialogs/Picker.js';
import { TaskForm } from './dialogs/TaskForm.js';
import { TextEditor } from './dialogs/TextEditor.js';
import type { KeyContext } from './keymap.js';
import type { Layout } from './layout.js';
import type { UiState } from './model.js';
import { AgentDetail } from './views/AgentDetail.js';
import { Attention } from './views/Attention.js';
import { Board } from './views/Board.js';
import { Dashboard } from './views/Dashboard.js';
import { Diff } from './views/Diff.js';
import { Journal } from './views/Journal.js';
import { LogPager } from './views/LogPager.js';
import { Metrics } from './views/Metrics.js';
import { Review } from './views/Review.js';
import { TaskDetail } from './views/TaskDetail.js';

export interface BodyProps {
  state: UiState;
  lists: Lists;
  selection: Selection;
  ctx: KeyContext;
  layout: Layout;
}

function Dialogs({ state, ctx, layout, lists }: BodyProps): ReactNode {
  const d = state.dialog;
  const { width, rows } = layout.dialog;
  if (d?.kind === 'help') return <Help ctx={ctx} scroll={d.scroll} width={width} rows={rows} />;
  if (d?.kind === 'palette')
    return (
      <Palette
        ctx={ctx}
        query={d.query}
        index={d.index}
        error={d.error}
        view={lists.consoleView}
        width={width}
        rows={rows}
      />
    );
  if (d?.kind === 'confirm') return <Confirm dialog={d} width={width} />;
  if (d?.kind === 'form') return <TaskForm form={d.form} width={width} />;
  if (d?.kind === 'picker') return <Picker dialog={d} width={width} />;
  if (d?.kind === 'editor') return <TextEditor dialog={d} width={width} rows={rows} />;
  if (d?.kind === 'note') return <NoteForm dialog={d} width={width} />;
  return null;
}

function View({ state, lists, selection, layout }: BodyProps): ReactNode {
  const { consoleView } = lists;
  const filter = state.filters[state.view] ?? '';
  switch (state.view) {
    case 'dashboard':
      return (
        <Dashboard
          consoleView={consoleView}
          attention={lists.attention}
          layout={layout}
          cursor={selection.cursor}
        />
      );
    case 'board':
      return (
        <Board
          columns={lists.columns}
          cursors={boardCursors(state, lists)}
          column={state.boardColumn}
          filter={filter}
          total={consoleView.total}
          attention={lists.attention}
          layout={layout}
          marked={state.marked}
          sort={state.sort}
        />
      );
    case 'alerts':
      return <Attention items={lists.attention} cursor={selection.cursor} filter={filter} layout={layout} />;
    case 'journal':
      return (
        <Journal
          rows={lists.journal}
          cursor={selection.cursor}
          filter={filter}
          layout={layout}
          following={state.cursors.journal === undefined}
          hidden={lists.journalHidden}
          noise={state.journalNoise}
        />
      );
    case 'metrics':
      return <Metrics consoleView={consoleView} layout={layout} />;
    case 'agent':
      return (
        <AgentDetail
          agent={selection.agent}
          seq={consoleView.seq}
          layout={layout}
          scroll={selection.cursor}
        />
      );
    case 'log':
      return (
        <LogPager
          taskId={state.logTaskId ?? ''}
          what={state.logWhat}
          task={selection.task}
          lines={selection.log?.lines ?? []}
          top={selection.cursor}
          following={selection.cursor >= selection.size - 1}
          search={filter}
          match={state.logMatch}
          layout={layout}
        />
      );
    case 'task':
      return (
        <TaskDetail task={selection.task} layout={layout} scroll={selection.cursor} lookup={lists.task} />
      );
    case 'review':
      return (
        <Review
          rows={reviewRows(consoleView.columns.review)}
          cursor={selection.cursor}
          lookup={lists.task}
          layout={layout}
        />
      );
    case 'diff':
      return (
        <Diff
          taskId={state.diffTaskId ?? ''}
          task={selection.task}
          page={selection.diff ?? { parsed: null, error: null, rows: layout.list.rows }}
          top={selection.cursor}
          layout={layout}
        />
      );
    default:
      return null;
  }
}

/** A view that throws shows the error instead of taking the console down. */
class Guard extends Component<
  { children: ReactNode; reset: unknown },
  { error: Error | null; reset: unknown }
> {
  override state = { error: null as Error | null, reset: undefined as unknown };
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  static getDerivedStateFromProps(props: { reset: unknown }, state: { reset: unknown; error: Error | null }) {
    return props.reset === state.reset ? null : { error: null, reset: props.reset };
  }
  override render() {
    if (!this.state.error) return this.props.children;
    return <Text>{`This view failed: ${this.state.error.message} (press esc or switch views)`}</Text>;
  }
}

export function Body(props: BodyProps) {
  const dialog = props.state.dialog;
  const modal = dialog && dialog.kind !== 'filter' && dialog.kind !== 'message';
  return (
    <Box
      flexDirection="column"
      width={props.layout.width}
      height={props.layout.body.height}
      overflowY="hidden"
    >
      <Guard reset={`${props.state.view}:${dialog?.kind ?? ''}`}>
        {modal ? <Dialogs {...props} /> : <View {...props} />}
      </Guard>
    </Box>
  );
}
