/**
 * Live sessions of `pty` agents, for the library, the CLI and the console (docs/sessions.md): find
 * an agent's session and connect to it. A read-only face (`console --read-only`) connects with
 * `mode: 'read'` only; the session's server refuses input from such a connection in any case.
 */
import {
  type ConnectOptions,
  connectSession,
  type SessionClient,
  SessionUnavailable,
} from '../agents/sessions/client.js';
import { sessionSocketPath } from '../agents/sessions/server.js';
import { notFound } from './errors.js';

export {
  type ConnectOptions,
  connectSession,
  type SessionClient,
  type SessionEvent,
  SessionUnavailable,
  typeLine,
} from '../agents/sessions/client.js';
export { DETACH_RESET, TerminalFilter } from '../agents/sessions/filter.js';
export {
  DEFAULT_DETACH_KEY,
  type DetachKey,
  findDetachKey,
  parseDetachKey,
} from '../agents/sessions/keys.js';
export type { ScreenSnapshot, SessionInfo, SessionMode, SessionStream } from '../agents/sessions/protocol.js';
export { sessionSocketPath } from '../agents/sessions/server.js';

/**
 * Connect to the live session of agent `agentId` of the workspace at `home`. Throws E_NOT_FOUND
 * (exit 3) when the agent has none: it is not a `pty` agent, it runs no task now, or no
 * orchestrator runs it.
 */
export async function openSession(
  home: string,
  agentId: string,
  options: ConnectOptions,
): Promise<SessionClient> {
  try {
    return await connectSession(sessionSocketPath(home, agentId), options);
  } catch (error) {
    if (!(error instanceof SessionUnavailable)) throw error;
    const why =
      error.code === 'ENOENT' || error.code === 'ECONNREFUSED'
        ? 'only a pty agent has one, while it runs a task'
        : error.message;
    throw notFound(`${agentId} has no live session (${why})`);
  }
}
