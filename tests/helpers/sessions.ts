/** Live sessions in tests: waiting for a session's socket, and for what its screen shows. */
import { type ConnectOptions, connectSession, type SessionClient } from '../../agents/sessions/client.js';
import { sessionSocketPath } from '../../agents/sessions/server.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Connect to the agent's session once it is served (within `timeoutMs`). */
export async function waitForSession(
  home: string,
  agentId: string,
  options: ConnectOptions,
  timeoutMs = 10_000,
): Promise<SessionClient> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await connectSession(sessionSocketPath(home, agentId), options);
    } catch (error) {
      if (Date.now() > until) throw error;
      await sleep(50);
    }
  }
}

/** The screen's text once `test` holds for it (within `timeoutMs`); the last screen in the error otherwise. */
export async function waitForScreen(
  client: SessionClient,
  test: (text: string) => boolean,
  timeoutMs = 10_000,
): Promise<string> {
  const until = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < until) {
    text = (await client.snapshot()).lines.join('\n');
    if (test(text)) return text;
    await sleep(25);
  }
  throw new Error(`the screen never showed what was awaited; it shows:\n${text}`);
}
