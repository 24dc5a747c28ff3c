/** `dreamos agent attach | peek | send`: the live sessions of `pty` agents (docs/sessions.md). */
import type { Command } from 'commander';
import { DreamError } from '../errors.js';
import { emit, say } from '../output.js';
import { stripControl } from '../sanitize.js';
import {
  connectSession,
  DEFAULT_DETACH_KEY,
  openSession,
  parseDetachKey,
  sessionSocketPath,
  typeLine,
} from '../sessions.js';
import { attachTerminal } from './attach.js';
import { readWorkspace } from './common.js';

/** A control character in text to type: only Tab is kept (Enter is what `send` adds, once). */
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/;

/** A hook's event on stdin is small; more is not one. */
const MAX_HOOK_INPUT = 1024 * 1024;

async function readStdin(max: number): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (text.length > max) break;
  }
  return text;
}

export function registerSessionCommands(agent: Command): void {
  agent
    .command('attach')
    .description(
      'take over the live terminal of a pty agent, full screen, until the detach key (Ctrl-] by default)',
    )
    .argument('<id>')
    .option(
      '--detach-key <key>',
      `the key that gives the terminal back (ctrl-LETTER, ctrl-], …; default DREAMOS_DETACH_KEY, else console.detachKey in config.json, else ${DEFAULT_DETACH_KEY})`,
    )
    .action(async (id: string, o, command: Command) => {
      // The option, then the environment, then config.json's console.detachKey (checked when loaded).
      const given = o.detachKey ?? process.env.DREAMOS_DETACH_KEY;
      const chosen = given === undefined ? undefined : parseDetachKey(String(given));
      if (chosen === null)
        throw new DreamError(
          'E_USAGE',
          `${o.detachKey === undefined ? 'DREAMOS_DETACH_KEY=' : '--detach-key '}${given}: not a Ctrl key a terminal sends as one byte (ctrl-], ctrl-b, ctrl-q, …)`,
        );
      if (!process.stdin.isTTY || !process.stdout.isTTY)
        throw new DreamError(
          'E_USAGE',
          'attach needs a terminal on stdin and stdout; `dreamos agent peek` shows the screen as text',
        );
      await readWorkspace(command, async (ws) => {
        ws.agent(id);
        const key = chosen ?? parseDetachKey(ws.config.console.detachKey ?? DEFAULT_DETACH_KEY)!;
        const client = await openSession(ws.home, id, { mode: 'write', stream: 'raw' });
        const end = await attachTerminal(client, key);
        if (end.how === 'detached') say(`detached from ${id} (${key.name}); it goes on working`);
        else if (end.how === 'ended')
          say(
            `${id}'s program ended${end.signal ? ` (${end.signal})` : ` (exit code ${end.exitCode ?? '?'})`}`,
          );
        else say(`${id}'s session closed`);
      });
    });
  agent
    .command('peek')
    .description("a pty agent's screen now, as plain text (--json: with its size and cursor)")
    .argument('<id>')
    .action(async (id: string, _o, command: Command) => {
      await readWorkspace(command, async (ws, options) => {
        ws.agent(id);
        const client = await openSession(ws.home, id, { mode: 'read' });
        try {
          const screen = await client.snapshot();
          const lines = screen.lines.map(stripControl);
          const data = { ...client.info, ...screen, lines };
          let end = lines.length;
          while (end > 0 && lines[end - 1]!.trim() === '') end--;
          emit(options, data, () => lines.slice(0, end).join('\n'));
        } finally {
          client.close();
        }
      });
    });
  agent
    .command('hook', { hidden: true })
    .description(
      "report an event of a pty agent's CLI hooks to its session (run by the CLI, with the event on stdin)",
    )
    .action(async () => {
      // Run by the agent's CLI as its hook: it must never fail the CLI's action (Claude Code takes
      // exit code 2 as "block"), so nothing here is an error; what went wrong goes to stderr.
      try {
        const home = process.env.DREAMOS_HOME;
        const agentId = process.env.DREAMOS_AGENT_ID;
        if (!home || !agentId) throw new Error('DREAMOS_HOME and DREAMOS_AGENT_ID are not set');
        const event: unknown = JSON.parse(await readStdin(MAX_HOOK_INPUT));
        const client = await connectSession(sessionSocketPath(home, agentId), {
          mode: 'write',
          timeoutMs: 2000,
        });
        try {
          client.send({ type: 'hook', event: event as { hook_event_name: string } });
          await client.snapshot(); // answered once the event was handled
        } finally {
          client.close();
        }
      } catch (error) {
        say(`dreamos agent hook: ${(error as Error).message}`);
      }
    });
  agent
    .command('send')
    .description('type a line into a pty agent: the text, then Enter once it shows on the screen')
    .argument('<id>')
    .argument('<text>')
    .option('--no-enter', 'type the text without pressing Enter')
    .action(async (id: string, text: string, o, command: Command) => {
      if (CONTROL.test(text))
        throw new DreamError(
          'E_INVALID_INPUT',
          'the text is one line without control characters (send adds the Enter)',
        );
      await readWorkspace(command, async (ws, options) => {
        ws.agent(id);
        const client = await openSession(ws.home, id, { mode: 'write' });
        try {
          if (o.enter === false) {
            client.write(text);
            await client.snapshot(); // answered after the input was handed over
            emit(options, { agent: id, typed: true, enter: false }, () => `${id}: typed, no Enter`);
            return;
          }
          const entered = await typeLine(client, text);
          if (!entered)
            throw new DreamError(
              'E_CONFLICT',
              `the text was typed but did not show on ${id}'s screen within 5 s: Enter was not pressed (\`dreamos agent peek ${id}\`)`,
            );
          await client.snapshot();
          emit(options, { agent: id, typed: true, enter: true }, () => `${id}: sent`);
        } finally {
          client.close();
        }
      });
    });
}
