/**
 * What every part of the HTTP API shares: the scopes a token may carry, who is calling, and the
 * hono environment the handlers see (docs/api.md).
 */

/**
 * What a token allows. `read`: every GET but the event stream; `events`: the event stream;
 * `tasks:write`: task changes, mail and alerts; `tasks:approve`: approving work from outside and
 * agents' proposals, changing what a task runs, and adding tasks that run without waiting for
 * approval; `agents:control`: pause, resume, restart and reset agents; `admin`: all of these.
 */
export const SCOPES = ['read', 'events', 'tasks:write', 'tasks:approve', 'agents:control', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** The token a request came with, once it is found valid. */
export interface Caller {
  tokenId: string;
  name: string;
  scopes: readonly Scope[];
}

/** Whether a caller may do what needs `scope` (`admin` may do everything). */
export const allows = (caller: Caller, scope: Scope): boolean =>
  caller.scopes.includes('admin') || caller.scopes.includes(scope);

/** Finds the token a bearer secret belongs to; null for an unknown, expired or revoked one. */
export interface TokenVerifier {
  verify(secret: string): Caller | null;
  /** How many tokens could be used now (neither expired nor revoked). */
  usable(): number;
}

/** The hono environment of the API's handlers: the caller, set by the bearer check. */
export interface ApiEnv {
  Variables: { caller: Caller };
}

/** A server as the process that started it sees it: where it listens, and who is connected now. */
export interface ServingStatus {
  /** The API's base address, `http://127.0.0.1:7420/api/v1`. */
  readonly url: string;
  /** Open connections: event streams and requests under way. */
  clients(): number;
}
