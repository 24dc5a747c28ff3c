/**
 * What the console passes to a command, and how a change to the workspace runs: asynchronously,
 * its outcome (or its error) reported as a flash message — never a crash.
 */
import type { Workspace } from '../src/workspace.js';
import type { Lists, Selection } from './derive.js';
import type { Handover } from './editor.js';
import type { KeyContext } from './keymap.js';
import { listKey, type UiAction, type UiState } from './model.js';

export interface Env {
  ws: Workspace;
  state: UiState;
  lists: Lists;
  selection: Selection;
  ctx: KeyContext;
  pageSize: number;
  dispatch: (action: UiAction) => void;
  quit: () => void;
  /** Gives the terminal to an editor and takes it back. */
  handover: Handover;
  /** Attach to an agent's live session, full screen (ui/use-attach.ts); absent where there is no terminal. */
  attach?: (agentId: string) => void;
}

export const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Run a change; its text goes to the flash line. Workspace methods may throw before their promise
 * exists, so the work runs inside an async function.
 */
export function perform(env: Env, work: () => Promise<string>): void {
  (async () => work())().then(
    (text) => env.dispatch({ type: 'flash', level: 'info', text }),
    (error) => env.dispatch({ type: 'flash', level: 'error', text: errorText(error) }),
  );
}

/**
 * A change that takes the row under the cursor out of its list (promote, retry, cancel, move, an
 * alert acknowledged): the cursor then stays at its place, on the row that takes the place.
 */
export function release(env: Env): void {
  const { cursor, idAt } = env.selection;
  const id = idAt?.(cursor);
  if (id !== undefined) env.dispatch({ type: 'release', key: listKey(env.state), at: cursor, id });
}

export const flashWarning = (env: Env, text: string) =>
  env.dispatch({ type: 'flash', level: 'warning', text });

export const roles = (ws: Workspace) => ws.config.agents.map((a) => a.role);
