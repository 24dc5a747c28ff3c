/**
 * The pty driver: a program in a pseudo-terminal with its screen kept, the log made of the lines
 * that scroll off it, the session served on a socket (type, peek, resize), the conversation's id
 * carried by the checkpoints, and hostile output kept from the operator's terminal.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDriver } from '../../../agents/drivers/index.js';
import type { DriverRun } from '../../../agents/drivers/types.js';
import { typeLine } from '../../../agents/sessions/client.js';
import { sessionSocketPath } from '../../../agents/sessions/server.js';
import type { Driver } from '../../../src/config.js';
import { makeCheckpoint, makeContext, waitFor } from '../../helpers/agents.js';
import { waitForScreen, waitForSession } from '../../helpers/sessions.js';
import { tempDir } from '../../helpers/workspace.js';

const helpers = fileURLToPath(new URL('../../helpers/', import.meta.url));
const QUESTION = path.join(helpers, 'pty-question.mjs');
const SPINNER = path.join(helpers, 'pty-spinner.mjs');
const HOOKS = path.join(helpers, 'pty-hooks.mjs');
const node = process.execPath;

let dir: string;
let cleanup: () => void;
const runs: DriverRun[] = [];

beforeEach(() => {
  ({ dir, cleanup } = tempDir('dreamos-pty-'));
});
afterEach(async () => {
  await Promise.all(runs.splice(0).map((run) => run.stop('shutdown')));
  cleanup();
});

type PtyConfig = Extract<Driver, { kind: 'pty' }>;

function start(
  argv: string[],
  extra: Partial<PtyConfig> = {},
  context: Parameters<typeof makeContext>[1] = {},
) {
  const config: PtyConfig = { kind: 'pty', argv, cols: 80, rows: 12, env: {}, worktree: false, ...extra };
  const { ctx, rec } = makeContext(dir, { driver: config, ...context });
  const run = createDriver(config, { supervisor: { graceMs: 500 } }).start(ctx);
  runs.push(run);
  return { run, ctx, rec, log: () => fs.readFileSync(ctx.logPath, 'utf8') };
}

describe('pty driver', () => {
  it('logs each line as it finally stood, never the frames of a spinner', async () => {
    const { run, rec, log } = start([node, SPINNER, '4']);
    const outcome = await run.done;
    expect(outcome).toMatchObject({ ok: true, exitCode: 0, summary: 'finished' });
    const text = log();
    for (const step of [1, 2, 3, 4]) expect(text).toContain(`step ${step} done\n`);
    expect(text).not.toContain('working on step');
    expect(text).not.toMatch(/\x1b/);
    expect(rec.progress).toEqual([0.25, 0.5, 0.75, 1]);
  });

  it('takes an answer typed through the session, Enter only once the text shows', async () => {
    const { run, ctx, rec, log } = start([node, QUESTION, '{prompt}', '--session-id', '{sessionId}'], {}, {});
    const client = await waitForSession(ctx.home, 'agent-5', { mode: 'write' });
    await waitForScreen(client, (s) => s.includes('Proceed with the change?'));
    expect(await typeLine(client, 'yes please')).toBe(true);
    const outcome = await run.done;
    expect(outcome.ok).toBe(true);
    expect(log()).toContain('answer: yes please');
    expect(log()).not.toContain('[paste refused]');
    const session = rec.checkpoints.find((c) => c.step === 'session')?.sessionId;
    expect(session).toMatch(/^[0-9a-f-]{36}$/);
    expect(log()).toContain(`conversation ${session} (new)`);
    // The program's own checkpoint carries the conversation's id too.
    expect(rec.checkpoints.find((c) => c.step === 'answered yes please')?.sessionId).toBe(session);
    await client.closed;
    expect(fs.existsSync(sessionSocketPath(ctx.home, 'agent-5'))).toBe(false);
  });

  it('resumes the conversation the checkpoint names, with the resume template', async () => {
    const checkpoint = makeCheckpoint({ sessionId: 'conv-1234' });
    const { run, ctx, log } = start(
      [node, QUESTION, '{prompt}', '--session-id', '{sessionId}'],
      { resume: [node, QUESTION, '{prompt}', '--resume', '{sessionId}'] },
      { checkpoint },
    );
    const client = await waitForSession(ctx.home, 'agent-5', { mode: 'write' });
    await waitForScreen(client, (s) => s.includes('conversation conv-1234 (resumed)'));
    await typeLine(client, 'ok');
    await run.done;
    expect(log()).toContain('resuming the conversation conv-1234');
  });

  it('finds the id of a program that chooses its own, on the screen', async () => {
    const { run, ctx, rec } = start([node, QUESTION, '{prompt}', '--own-session'], {
      sessionIdPattern: 'session id: ([0-9a-f-]{36})',
    });
    const client = await waitForSession(ctx.home, 'agent-5', { mode: 'write' });
    await waitForScreen(client, (s) => s.includes('Proceed'));
    await typeLine(client, 'go');
    await run.done;
    expect(rec.checkpoints.find((c) => c.step === 'session')?.sessionId).toBe(
      '5f0c9a1e-0000-4000-8000-00000000beef',
    );
  });

  it('lets a reader peek while a writer is attached, and refuses its input on the server', async () => {
    const { run, ctx, log } = start([node, QUESTION, '{prompt}', '--loop']);
    const writer = await waitForSession(ctx.home, 'agent-5', { mode: 'write', stream: 'raw' });
    const reader = await waitForSession(ctx.home, 'agent-5', { mode: 'read' });
    expect(reader.info).toMatchObject({
      agent: 'agent-5',
      task: 'T-0000A',
      mode: 'read',
      cols: 80,
      rows: 12,
    });
    await waitForScreen(reader, (s) => s.includes('Proceed'));
    expect(() => reader.write('x')).toThrow(/read-only/);
    // A client that lies about itself is refused by the server all the same.
    const refusal = await rawExchange(sessionSocketPath(ctx.home, 'agent-5'), [
      { type: 'hello', protocol: 1, mode: 'read', stream: 'none' },
      { type: 'input', data: 'sneaky\r' },
    ]);
    expect(refusal).toContainEqual(expect.objectContaining({ type: 'error', code: 'E_READ_ONLY' }));
    await typeLine(writer, 'first');
    // The line of the answer itself (the question's line ends with the typed text too).
    await waitForScreen(reader, (s) => s.split('\n').includes('answer: first'));
    await typeLine(writer, 'bye');
    await run.done;
    expect(log()).not.toContain('sneaky');
  });

  it('resizes the terminal for a writer, and tells every client', async () => {
    const { run, ctx } = start([node, QUESTION, '{prompt}', '--loop']);
    const writer = await waitForSession(ctx.home, 'agent-5', { mode: 'write' });
    const reader = await waitForSession(ctx.home, 'agent-5', { mode: 'read', stream: 'screen' });
    const resized = new Promise((resolve) =>
      reader.subscribe((e) => {
        if (e.type === 'resized') resolve(e);
      }),
    );
    await waitForScreen(reader, (s) => s.includes('Proceed'));
    writer.resize(100, 30);
    expect(await resized).toEqual({ type: 'resized', cols: 100, rows: 30 });
    await waitForScreen(reader, (s) => s.includes('size 100x30'));
    expect((await reader.snapshot()).lines).toHaveLength(30);
    await typeLine(writer, 'bye');
    await run.done;
  });

  it('keeps queries, titles and the clipboard from the attached terminal, and answers the queries itself', async () => {
    const { run, ctx, log } = start([node, QUESTION, '{prompt}', '--hostile']);
    const writer = await waitForSession(ctx.home, 'agent-5', { mode: 'write', stream: 'raw' });
    let raw = '';
    writer.subscribe((e) => {
      if (e.type === 'output') raw += e.data;
      if (e.type === 'screen') raw += e.screen.ansi ?? '';
    });
    await waitForScreen(writer, (s) => s.includes('[terminal answered ESC[?1;2c'));
    await typeLine(writer, 'done');
    await run.done;
    expect(raw).not.toMatch(/\x1b\[c|\x1b\[6n|\x1b\]52|\x1b\]0;|pwned title|\x1bP/);
    expect(log()).not.toMatch(/\x1b|pwned title/);
  });

  it('stops the program and its group on cancel, and removes the socket', async () => {
    const { run, ctx, rec } = start([node, QUESTION, '{prompt}', '--loop']);
    const client = await waitForSession(ctx.home, 'agent-5', { mode: 'read' });
    const ended = new Promise((resolve) =>
      client.subscribe((e) => {
        if (e.type === 'exit') resolve(e);
      }),
    );
    await run.stop('cancel');
    expect(await run.done).toMatchObject({ ok: false, errorCode: 'E_CANCELLED' });
    expect(await ended).toMatchObject({ type: 'exit' });
    expect(() => process.kill(-rec.spawns[0]!.pgid, 0)).toThrow();
    expect(fs.existsSync(sessionSocketPath(ctx.home, 'agent-5'))).toBe(false);
  });

  it('says when the program waits for input, never while it redraws, and when the input came', async () => {
    const waits: Array<{ kind: string; text: string } | null> = [];
    const { run, ctx } = start([node, SPINNER, '30', '--ask'], {}, { onNeedsInput: (w) => waits.push(w) });
    const client = await waitForSession(ctx.home, 'agent-5', { mode: 'write' });
    await waitForScreen(client, (s) => s.includes('Shall I go on?'));
    await waitFor(() => waits.length > 0);
    expect(waits).toEqual([{ kind: 'question', text: expect.stringContaining('Shall I go on?') }]);
    client.write('\r');
    expect((await run.done).ok).toBe(true);
    expect(waits).toEqual([expect.objectContaining({ kind: 'question' }), null]);
  });

  it('hears the hooks of the program: a permission asked, answered, its turn ended', async () => {
    const waits: Array<{ kind: string; text: string } | null> = [];
    const bin = fileURLToPath(new URL('../../../bin/dreamos.js', import.meta.url));
    const { run, ctx, rec } = start(
      [node, HOOKS, '--settings', '{hookSettings}'],
      { hooks: 'claude' },
      { env: { DREAMOS_BIN: bin }, onNeedsInput: (w) => waits.push(w) },
    );
    const client = await waitForSession(ctx.home, 'agent-5', { mode: 'write' });
    await waitFor(() => waits.length > 0);
    expect(waits).toEqual([{ kind: 'permission', text: 'Claude needs your permission to use Bash' }]);
    await waitForScreen(client, (s) => s.includes('[allow]'));
    await typeLine(client, 'yes');
    await waitFor(() => waits.some((w) => w?.kind === 'turn-ended'));
    expect(waits).toEqual([
      expect.objectContaining({ kind: 'permission' }),
      null,
      { kind: 'turn-ended', text: 'its turn ended' },
    ]);
    client.write('\r');
    expect((await run.done).ok).toBe(true);
    expect(waits.at(-1)).toBeNull();
    // The program's session id came with its hooks.
    expect(rec.checkpoints.find((c) => c.step === 'session')?.sessionId).toBe('hook-session-1');
  });

  it('refuses a program it cannot find before starting anything', async () => {
    const { run } = start(['no-such-agent-cli-here', '{prompt}']);
    expect(await run.done).toMatchObject({ ok: false, errorCode: 'E_SPAWN' });
  });
});

/** Send raw protocol lines and collect what the server answers until it closes or 1 s passes. */
function rawExchange(socketPath: string, messages: object[]): Promise<Array<Record<string, unknown>>> {
  return new Promise((resolve) => {
    const socket = net.createConnection(socketPath);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.on('connect', () => {
      for (const m of messages) socket.write(`${JSON.stringify(m)}\n`);
    });
    const done = () =>
      resolve(
        text
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      );
    setTimeout(() => {
      socket.destroy();
      done();
    }, 1000);
  });
}
