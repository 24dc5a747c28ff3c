/**
 * The live screen of a `pty` agent in the console: its dashboard pane shows the program's screen
 * (the bottom rows that fit, each cut to the pane, plain text), served by a real orchestrator
 * running the question stand-in; a read-only console looks but never attaches.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterEach, describe, expect, test } from 'vitest';
import { openWorkspace, type Workspace } from '../../../src/workspace.js';
import { KeyCommand } from '../../../ui/keymap.js';
import { waitFor } from '../../helpers/agents.js';
import { usePtyAgent as makePtyAgent } from '../../helpers/sessions.js';
import { cleanupAll, type Harness, open, SIZE } from '../../helpers/ui.js';
import { BIN, cli, collectOutput, tempDir } from '../../helpers/workspace.js';

let orchestrator: ChildProcess | null = null;
let ws: Workspace | null = null;
let tmp: ReturnType<typeof tempDir> | null = null;

afterEach(async () => {
  await cleanupAll();
  await ws?.close();
  ws = null;
  if (orchestrator && orchestrator.exitCode === null) {
    orchestrator.kill('SIGTERM');
    await new Promise((resolve) => orchestrator!.once('exit', resolve));
  }
  orchestrator = null;
  tmp?.cleanup();
  tmp = null;
});

const PROMPT = 'rename every module of the billing service and its tests, then run them all';

/** A workspace whose agent-1 runs the question stand-in (`--loop`) under `dreamos run`; the console on it. */
async function consoleWithPtyAgent(
  props: { readOnly?: boolean; size?: { columns: number; rows: number } } = {},
): Promise<Harness> {
  tmp = tempDir('dreamos-live-');
  const run = (args: string[]) => cli(args, { cwd: tmp!.dir });
  expect(run(['init']).code).toBe(0);
  makePtyAgent(tmp.dir, ['--loop', '--hostile']);
  expect(run(['task', 'add', 'talk', '--prompt', PROMPT]).code).toBe(0);
  orchestrator = spawn(process.execPath, [BIN, 'run', '--agents', 'agent-1'], { cwd: tmp.dir });
  collectOutput(orchestrator);
  await waitFor(() => run(['agent', 'peek', 'agent-1']).stdout.includes('Proceed with the change?'), 30_000);
  ws = await openWorkspace({ home: tmp.dir, ...(props.readOnly ? { readOnly: true } : {}) });
  return open({ ws, dir: tmp.dir, mode: 'attached', ...props });
}

const send = (text: string, ...flags: string[]) => {
  const r = cli(['agent', 'send', 'agent-1', text, ...flags], { cwd: tmp!.dir });
  expect(r.code, r.stderr).toBe(0);
};

describe("a pty agent's pane", () => {
  test('shows the live screen, cropped to the pane: the bottom rows, each cut to its width', async () => {
    const h = await consoleWithPtyAgent();
    await h.waitFor((f) => f.includes('Proceed with the change?'), 'the live screen in the pane', 15_000);
    send('first');
    send('second, an answer long enough to be cut at the edge of the pane');
    const frame = await h.waitFor(
      (f) => f.includes('answer: second'),
      'the answers on the live screen',
      15_000,
    );
    // Three rows fit a pane at 100x40: the top of the screen (the conversation, the prompt) is cropped.
    expect(frame).not.toContain('conversation ');
    expect(frame).not.toContain('prompt: rename');
    expect(frame).toContain('answer: second');
    // The layout holds: every row of the frame within the terminal's width, both panes of a row drawn.
    for (const line of frame.split('\n')) expect([...line].length).toBeLessThanOrEqual(SIZE.columns);
    expect(frame).toMatch(/answer: second, an answer long enough[^\n]*…/);
    expect(frame).not.toContain('to be cut at the');
    // The agent's escape sequences never reach the console's output (it asked for the title, the clipboard).
    expect(h.frame()).not.toContain('pwned');
    // `o` opens the agent view, its live terminal in place of the log.
    await h.run(KeyCommand.AgentView);
    await h.waitFor((f) => f.includes('Terminal of T-') && f.includes('answer: second'), 'the agent view');
  });

  test('a read-only console looks at the live screen but cannot attach, and says why', async () => {
    const h = await consoleWithPtyAgent({ readOnly: true });
    await h.waitFor((f) => f.includes('Proceed with the change?'), 'the live screen in the pane', 15_000);
    await h.run(KeyCommand.AgentAttach);
    await h.waitFor((f) => f.includes('read-only: this console can look, never type'));
    // Enter opens the agent instead, with its live terminal beside its state.
    await h.press('enter');
    await h.waitFor(
      (f) => f.includes('Terminal of T-') && f.includes('Proceed with the change?'),
      "the agent's live terminal in its detail",
      15_000,
    );
  });

  test("on a short terminal, the agent's line ends with the last text of its live screen", async () => {
    const h = await consoleWithPtyAgent({ size: { columns: 100, rows: 24 } });
    // Typed, not yet entered: it shows on the screen's last line only, never in the log.
    send('short', '--no-enter');
    const frame = await h.waitFor(
      (f) => /Captain[^\n]*│ Proceed with the change\? answer: short/.test(f),
      'the compact line',
      15_000,
    );
    expect(frame).not.toContain('╭');
  });

  test('an agent without a live terminal cannot be attached to', async () => {
    const h = await consoleWithPtyAgent();
    await h.run(KeyCommand.Down);
    await h.run(KeyCommand.AgentAttach);
    await h.waitFor((f) => f.includes('Infrastructure: no live terminal (a running pty agent has one)'));
  });
});
