/** The errors an llm turn ends with. */

/** A failure the run ends with: E_HTTP (the endpoint refused or was unreachable) or E_LLM (bad reply). */
export class LlmError extends Error {
  constructor(
    readonly code: 'E_HTTP' | 'E_LLM',
    message: string,
  ) {
    super(message);
  }
}

/** The run was stopped while a request was in flight. */
export class StoppedError extends Error {}
