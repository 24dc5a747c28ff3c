/** Live sessions in tests: waiting for a session's socket, and for what its screen shows. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
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

/** The stand-ins for agent CLIs (tests/helpers/pty-*.mjs). */
export const STAND_INS = fileURLToPath(new URL('./', import.meta.url));
export const QUESTION = path.join(STAND_INS, 'pty-question.mjs');

/**
 * Make agent-1 of the workspace in `dir` a `pty` agent running the question stand-in: a new
 * conversation with `--session-id`, a resumed one with `--resume`; `flags` go to both.
 */
export function usePtyAgent(dir: string, flags: string[] = [], driver: Record<string, unknown> = {}): void {
  const file = path.join(dir, '.dreamos', 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8'));
  config.agents[0].driver = {
    kind: 'pty',
    argv: [process.execPath, QUESTION, '{prompt}', '--session-id', '{sessionId}', ...flags],
    resume: [process.execPath, QUESTION, '{prompt}', '--resume', '{sessionId}', ...flags],
    cols: 80,
    rows: 12,
    ...driver,
  };
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
}
