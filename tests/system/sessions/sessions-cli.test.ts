/**
 * `dreamos agent peek | send` against a live `pty` agent of a running orchestrator, and an
 * orchestrator SIGKILLed with a live session: the session stops, and the next orchestrator resumes
 * the task in the same conversation.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Checkpoint, Task } from '../../../state/schemas.js';
import { waitFor } from '../../helpers/agents.js';
import { usePtyAgent } from '../../helpers/sessions.js';
import { BIN, cli, collectOutput, tempDir } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
const children: ChildProcess[] = [];
const run = (args: string[]) => cli(args, { cwd: tmp.dir });

beforeEach(() => {
  tmp = tempDir('dreamos-sessions-');
  expect(run(['init']).code).toBe(0);
});
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }
  tmp.cleanup();
});

function orchestrate(): ChildProcess {
  const child = spawn(process.execPath, [BIN, 'run', '--agents', 'agent-1'], { cwd: tmp.dir });
  collectOutput(child);
  children.push(child);
  return child;
}

/** `agent peek` once the screen shows `text`. */
async function peekUntil(text: string): Promise<string> {
  let screen = '';
  await waitFor(() => {
    const peek = run(['agent', 'peek', 'agent-1']);
    screen = peek.stdout;
    return peek.code === 0 && screen.includes(text);
  }, 30_000);
  return screen;
}

const taskOf = (id: string) => run(['task', 'show', id, '--json']).json<Task>();

describe('agent peek and send', () => {
  it('answers the question of a live agent, and peeks at its screen as plain text', async () => {
    usePtyAgent(tmp.dir, ['--hostile']);
    const task = run(['task', 'add', 'ask me', '--prompt', 'deploy the thing', '--json']).json<Task>();
    orchestrate();
    const screen = await peekUntil('Proceed with the change?');
    expect(screen).toContain('prompt: deploy the thing');
    expect(screen).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    const json = run(['agent', 'peek', 'agent-1', '--json']);
    expect(json.code).toBe(0);
    expect(json.json()).toMatchObject({
      agent: 'agent-1',
      task: task.id,
      cols: 80,
      rows: 12,
      alternate: false,
    });

    // The question is in the attention inbox, right after failures, with what it asks.
    type Item = { reason: string; agent?: string; task?: string; text: string };
    const inbox = () => run(['attention', '--json']).json<Item[]>();
    await waitFor(() => inbox().some((i) => i.reason === 'needs-input'), 30_000);
    expect(inbox().find((i) => i.reason === 'needs-input')).toMatchObject({
      agent: 'agent-1',
      task: task.id,
      text: expect.stringMatching(/agent-1 waits for input \(question\): .*Proceed with the change\?/),
    });

    const sent = run(['agent', 'send', 'agent-1', 'yes, go ahead']);
    expect(sent.code).toBe(0);
    expect(sent.stdout).toContain('agent-1: sent');
    await waitFor(() => taskOf(task.id).status === 'done', 30_000);
    const log = fs.readFileSync(path.join(tmp.dir, '.dreamos', 'logs', 'agent-1', `${task.id}.log`), 'utf8');
    expect(log).toContain('answer: yes, go ahead');
    expect(log).not.toContain('[paste refused]');
    expect(log).not.toMatch(/\x1b|pwned/);
    expect(inbox().some((i) => i.reason === 'needs-input')).toBe(false);
  });

  it('says clearly when there is no session, and refuses a text with control characters', () => {
    const none = run(['agent', 'peek', 'agent-2']);
    expect(none.code).toBe(3);
    expect(none.stderr).toMatch(/agent-2 has no live session/);
    expect(run(['agent', 'peek', 'agent-99']).code).toBe(3);
    const multi = run(['agent', 'send', 'agent-1', 'one\ntwo']);
    expect(multi.code).toBe(2);
    expect(multi.stderr).toMatch(/control characters/);
  });
});

describe('an orchestrator SIGKILLed with a live session', () => {
  it('stops the session, and the next one resumes the task in the same conversation', async () => {
    usePtyAgent(tmp.dir);
    const task = run(['task', 'add', 'long talk', '--prompt', 'talk to me', '--json']).json<Task>();
    const first = orchestrate();
    const before = await peekUntil('Proceed with the change?');
    const conversation = /conversation (\S+) \(new\)/.exec(before)?.[1];
    expect(conversation).toMatch(/^[0-9a-f-]{36}$/);
    const checkpoints = () =>
      run(['checkpoint', 'list', '--agent', 'agent-1', '--json']).json<Checkpoint[]>();
    await waitFor(() => checkpoints().some((c) => c.sessionId === conversation), 30_000);
    const program = run(['agent', 'show', 'agent-1', '--json']).json<{ state: { child: { pgid: number } } }>()
      .state.child.pgid;

    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    // The program loses its terminal with its orchestrator.
    await waitFor(() => {
      try {
        process.kill(-program, 0);
        return false;
      } catch {
        return true;
      }
    }, 30_000);
    expect(run(['agent', 'peek', 'agent-1']).code).toBe(3);

    orchestrate();
    const after = await peekUntil(`conversation ${conversation} (resumed)`);
    expect(after).toContain('prompt: talk to me');
    expect(run(['agent', 'send', 'agent-1', 'welcome back']).code).toBe(0);
    await waitFor(() => taskOf(task.id).status === 'done', 30_000);
  });
});
