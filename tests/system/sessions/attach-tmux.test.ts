/**
 * `dreamos agent attach` in a real terminal (tmux): the agent's screen full screen, keys reaching
 * the program but never the detach key, the operator's screen back after the detach with the
 * program's modes reset, and hostile output kept from the terminal, attached or not.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/agents.js';
import { usePtyAgent } from '../../helpers/sessions.js';
import { hasTmux, type TmuxServer, tmuxServer } from '../../helpers/terminal.js';
import { BIN, cli, collectOutput, tempDir } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
let server: TmuxServer;
let orchestrator: ChildProcess | null = null;
const run = (args: string[]) => cli(args, { cwd: tmp.dir });

beforeAll(() => {
  server = tmuxServer('dreamos-attach');
});
afterAll(() => server.kill());
beforeEach(() => {
  tmp = tempDir('dreamos-attach-');
  expect(run(['init']).code).toBe(0);
});
afterEach(async () => {
  server.tmux('kill-session', '-a', '-t', 'keep');
  if (orchestrator && orchestrator.exitCode === null) {
    orchestrator.kill('SIGTERM');
    await new Promise((resolve) => orchestrator!.once('exit', resolve));
  }
  orchestrator = null;
  tmp.cleanup();
});

async function screenUntil(session: string, test: (screen: string) => boolean): Promise<string> {
  let screen = '';
  try {
    await waitFor(() => {
      screen = server.screen(session);
      return test(screen);
    }, 30_000);
  } catch {
    throw new Error(`the terminal never showed what was awaited; it shows:\n${screen}`);
  }
  return screen;
}

const pane = (session: string, format: string) => server.tmux('display', '-p', '-t', session, format).trim();
const peek = () => run(['agent', 'peek', 'agent-1']).stdout;

describe.skipIf(!hasTmux)('agent attach', () => {
  beforeAll(() => {
    // A session that outlives each test's, so that the server stays up between them.
    server.open('keep', '/', 'sleep 3600');
  });

  it('takes over the terminal, passes keys but not the detach key, and gives the screen back', async () => {
    usePtyAgent(tmp.dir, ['--loop', '--hostile']);
    run(['task', 'add', 'talk', '--prompt', 'attach to me']);
    orchestrator = spawn(process.execPath, [BIN, 'run', '--agents', 'agent-1'], { cwd: tmp.dir });
    const said = collectOutput(orchestrator);
    const bin = JSON.stringify(BIN);
    await waitFor(() => peek().includes('Proceed with the change?'), 30_000);

    server.open(
      'main',
      tmp.dir,
      `sh -c 'echo BEFORE-ATTACH; ${JSON.stringify(process.execPath)} ${bin} agent attach agent-1; echo AFTER-ATTACH; sleep 600'`,
    );
    await screenUntil('main', (s) => s.includes('Proceed with the change?'));
    expect(server.screen('main')).not.toContain('BEFORE-ATTACH');
    expect(pane('main', '#{pane_title}')).not.toContain('pwned');
    // The program's modes are the terminal's while attached (it asked for mouse reports).
    expect(pane('main', '#{mouse_any_flag}')).toBe('1');

    server.tmux('send-keys', '-t', 'main', '-l', 'first');
    await screenUntil('main', (s) => s.includes('first'));
    server.tmux('send-keys', '-t', 'main', 'Enter');
    await screenUntil('main', (s) => s.split('\n').some((line) => line.trim() === 'answer: first'));
    server.tmux('send-keys', '-t', 'main', '-l', 'half');
    await screenUntil('main', (s) => s.trimEnd().endsWith('half'));
    server.tmux('send-keys', '-t', 'main', 'C-]');

    const back = await screenUntil('main', (s) => s.includes('AFTER-ATTACH'));
    expect(back).toContain('BEFORE-ATTACH');
    expect(back).toContain('detached from agent-1 (ctrl-])');
    expect(back).not.toContain('Proceed with the change?');
    expect(pane('main', '#{mouse_any_flag}')).toBe('0');
    expect(pane('main', '#{alternate_on}')).toBe('0');
    expect(pane('main', '#{pane_title}')).not.toContain('pwned');
    // The keys reached the program; the detach key did not.
    const screen = peek();
    expect(screen).toContain('answer: first');
    expect(screen.trimEnd().endsWith('answer: half')).toBe(true);
    expect(screen).not.toContain('[key 1d]');
    // The orchestrator's own output holds nothing of the program's.
    expect(said.stdout() + said.stderr()).not.toMatch(/\x1b|pwned|Proceed/);
  });

  it('repaints the screen on a second attach, at the new terminal size', async () => {
    usePtyAgent(tmp.dir, ['--loop']);
    run(['task', 'add', 'talk', '--prompt', 'attach twice']);
    orchestrator = spawn(process.execPath, [BIN, 'run', '--agents', 'agent-1'], { cwd: tmp.dir });
    collectOutput(orchestrator);
    await waitFor(() => peek().includes('Proceed with the change?'), 30_000);
    expect(run(['agent', 'send', 'agent-1', 'remember me']).code).toBe(0);
    await waitFor(() => peek().includes('answer: remember me'), 30_000);

    const attach = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} agent attach agent-1 --detach-key ctrl-b`;
    server.open('main', tmp.dir, `sh -c '${attach}; sleep 600'`);
    // The stand-in prints its terminal's size when it changes: the attach gave it tmux's 160x48.
    const shown = await screenUntil('main', (s) => s.includes('size 160x48'));
    expect(shown).toContain('answer: remember me');
    server.tmux('send-keys', '-t', 'main', 'C-b');
    await screenUntil('main', (s) => s.includes('detached from agent-1 (ctrl-b)'));
  });

  it("detaches with config.json's console.detachKey, and refuses one a terminal cannot send", async () => {
    usePtyAgent(tmp.dir, ['--loop']);
    const file = path.join(tmp.dir, '.dreamos', 'config.json');
    const config = JSON.parse(fs.readFileSync(file, 'utf8'));
    fs.writeFileSync(file, JSON.stringify({ ...config, console: { detachKey: 'ctrl-[' } }));
    const refused = run(['agent', 'peek', 'agent-1']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/detachKey.*not a Ctrl key a terminal sends as one byte/s);
    fs.writeFileSync(file, JSON.stringify({ ...config, console: { detachKey: 'ctrl-q' } }));

    run(['task', 'add', 'talk', '--prompt', 'configured key']);
    orchestrator = spawn(process.execPath, [BIN, 'run', '--agents', 'agent-1'], { cwd: tmp.dir });
    collectOutput(orchestrator);
    await waitFor(() => peek().includes('Proceed with the change?'), 30_000);
    const attach = `env -u DREAMOS_DETACH_KEY ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} agent attach agent-1`;
    server.open('main', tmp.dir, `sh -c '${attach}; sleep 600'`);
    await screenUntil('main', (s) => s.includes('Proceed with the change?'));
    server.tmux('send-keys', '-t', 'main', 'C-]');
    await waitFor(() => peek().includes('[key 1d]'), 30_000);
    server.tmux('send-keys', '-t', 'main', 'C-q');
    await screenUntil('main', (s) => s.includes('detached from agent-1 (ctrl-q)'));
    expect(peek()).not.toContain('[key 11]');
  });
});
