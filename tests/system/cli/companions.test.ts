/**
 * Webhooks are delivered by every long-running process of a workspace, not only by
 * `dreamos webhook run`: by `dreamos serve`, whose metrics count each delivery's outcome, and by a
 * plain `dreamos run`, so that a webhook set up for a night of unattended work is not silently
 * left waiting for a server nobody started.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { WebhookSummary } from '../../../src/webhooks/index.js';
import { waitFor } from '../../helpers/agents.js';
import { type Board, board } from '../../helpers/cli.js';
import { type Receiver, startReceiver } from '../../helpers/webhook-receiver.js';
import { BIN, collectOutput } from '../../helpers/workspace.js';

const ENV = { DREAMOS_WEBHOOK_SCHEDULE_SCALE: '0.001', DREAMOS_STORE: '' };
const WAIT_MS = 30_000;

let b: Board;
let receiver: Receiver;
const children: ChildProcess[] = [];

beforeEach(async () => {
  b = board();
  receiver = await startReceiver();
  const added = b.json<{ webhook: WebhookSummary; secret: string }>(
    'webhook',
    'add',
    receiver.url,
    '--events',
    'task.done',
  );
  receiver.secret = added.secret;
});
afterEach(async () => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await receiver.close();
  b.cleanup();
});

function start(...args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: b.dir, env: { ...process.env, ...ENV } });
  children.push(child);
  const output = collectOutput(child);
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, output, exited };
}

it('dreamos run delivers the webhooks of its own work', async () => {
  const task = b.add('say hello', '--run', 'echo hello');
  const run = start('run');
  await waitFor(() => receiver.received.some((m) => m.type === 'task.done'), WAIT_MS);
  const done = receiver.received.find((m) => m.type === 'task.done')!;
  expect(done.verified).toBe(true);
  expect(JSON.parse(done.body).data.tasks[0]).toMatchObject({ id: task.id, status: 'done' });
  run.child.kill('SIGTERM');
  expect(await run.exited).toBe(0);
});

it('dreamos serve delivers webhooks and counts their outcomes in its metrics', async () => {
  const token = b.run('token', 'create', '--scope', 'read').stdout.trim();
  const serve = start('serve', '--listen', '127.0.0.1:0', '--json');
  await waitFor(() => serve.output.stdout().includes('\n'), WAIT_MS);
  const { origin } = JSON.parse(serve.output.stdout().split('\n')[0]!) as { origin: string };
  const task = b.add('one step', '--run', 'true');
  expect(b.run('task', 'claim', '--agent', 'agent-1', '--task', task.id).code).toBe(0);
  expect(b.run('task', 'complete', task.id, '--agent', 'agent-1').code).toBe(0);
  await waitFor(() => receiver.received.some((m) => m.type === 'task.done' && m.verified), WAIT_MS);

  // The outcome is counted once the delivery's log line is written, just after the answer.
  let text = '';
  for (const deadline = Date.now() + WAIT_MS; Date.now() < deadline; ) {
    const res = await fetch(`${origin}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    text = await res.text();
    if (/^dreamos_webhook_deliveries_total\{outcome="delivered"\} 1$/m.test(text)) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(text).toMatch(/^dreamos_webhook_deliveries_total\{outcome="delivered"\} 1$/m);
  serve.child.kill('SIGTERM');
  expect(await serve.exited).toBe(0);
});

it('dreamos run started before the first webhook delivers it once it is added', async () => {
  for (const hook of b.json<WebhookSummary[]>('webhook', 'list')) b.run('webhook', 'remove', hook.id);
  const run = start('run');
  await waitFor(() => run.output.stderr().includes('running'), WAIT_MS);
  const added = b.json<{ webhook: WebhookSummary; secret: string }>(
    'webhook',
    'add',
    `${receiver.url}?late`,
    '--events',
    'task.done',
  );
  receiver.secret = added.secret;
  const task = b.add('after the webhook', '--run', 'true');
  await waitFor(
    () => receiver.received.some((m) => m.type === 'task.done' && m.path.endsWith('?late')),
    WAIT_MS,
  );
  const done = receiver.received.find((m) => m.path.endsWith('?late'))!;
  expect(done.verified).toBe(true);
  expect(JSON.parse(done.body).data.tasks[0]).toMatchObject({ id: task.id });
  run.child.kill('SIGTERM');
  expect(await run.exited).toBe(0);
});
