/**
 * A task's diff for the diff view, read from git once per task and commit (`reviewDiff`: files with
 * counts, then the unified diff, escape sequences stripped) and parsed once (ui/diff-model.ts).
 */
import { useEffect, useState } from 'react';
import { reviewDiff } from '../../src/review/index.js';
import { type ParsedDiff, parseDiff } from '../diff-model.js';
import { errorText } from '../effects.js';
import { useServices } from '../hooks.js';

export interface DiffState {
  taskId: string | null;
  /** The commit shown (the branch's head). */
  head: string | null;
  parsed: ParsedDiff | null;
  error: string | null;
}

const NONE: DiffState = { taskId: null, head: null, parsed: null, error: null };

/**
 * The diff of `taskId` (null: no diff view open), read again when `version` changes (the task's
 * recorded head: a new attempt or a merge).
 */
export function useTaskDiff(taskId: string | null, version: string): DiffState {
  const { ws } = useServices();
  const [state, setState] = useState<DiffState>(NONE);
  // biome-ignore lint/correctness/useExhaustiveDependencies: version is the trigger to read it again
  useEffect(() => {
    if (!taskId) {
      setState(NONE);
      return;
    }
    let live = true;
    setState((s) => (s.taskId === taskId ? s : { ...NONE, taskId }));
    reviewDiff(ws, taskId).then(
      (diff) => {
        if (live) setState({ taskId, head: diff.head, parsed: parseDiff(diff), error: null });
      },
      (error) => {
        if (live) setState({ taskId, head: null, parsed: null, error: errorText(error) });
      },
    );
    return () => {
      live = false;
    };
  }, [ws, taskId, version]);
  return state.taskId === taskId ? state : { ...NONE, taskId };
}
