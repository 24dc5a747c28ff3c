/**
 * Outbound webhooks end to end: `dreamos webhook run` as a child process delivers to a receiver on
 * 127.0.0.1 that checks every signature with the Standard Webhooks reference verifier. Retries keep
 * the `webhook-id`, `Retry-After` is honoured, 410 disables (and the attention inbox says so), and a
 * dispatcher killed mid-delivery and started again delivers every event, skipping none.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AttentionItem } from '../../../src/attention.js';
import type { DeliveryRecord, WebhookSummary } from '../../../src/webhooks/index.js';
import type { Alert, JournalEntry } from '../../../state/schemas.js';
import { waitFor } from '../../helpers/agents.js';
import { type Board, board, show } from '../../helpers/cli.js';
import { describePg, TEST_PG_URL, testSchema, trimJournal } from '../../helpers/pg.js';
import { type Answer, type Received, type Receiver, startReceiver } from '../../helpers/webhook-receiver.js';
import { BIN, cli, cliAsync, collectOutput } from '../../helpers/workspace.js';

/** The retry schedule in milliseconds, and a lead term of a fraction of a second. */
const ENV = { DREAMOS_WEBHOOK_SCHEDULE_SCALE: '0.001' };
const WAIT_MS = 30_000;

let b: Board;
let receiver: Receiver | null = null;
const children: ChildProcess[] = [];

beforeEach(() => {
  b = board();
});
afterEach(async () => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await receiver?.close();
  receiver = null;
  b.cleanup();
});

interface Dispatcher {
  child: ChildProcess;
  exited: Promise<number | null>;
  stdout: () => string;
}

function dispatch(scale = ENV.DREAMOS_WEBHOOK_SCHEDULE_SCALE, cwd = b.dir): Dispatcher {
  const child = spawn(process.execPath, [BIN, 'webhook', 'run', '--json'], {
    cwd,
    env: { ...process.env, DREAMOS_WEBHOOK_SCHEDULE_SCALE: scale, DREAMOS_STORE: '' },
  });
  children.push(child);
  const output = collectOutput(child);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, stdout: output.stdout };
}

async function receive(respond?: (r: Received) => Answer): Promise<Receiver> {
  receiver = await startReceiver(respond);
  return receiver;
}

function subscribe(url: string, ...flags: string[]): { id: string; secret: string } {
  const added = b.json<{ webhook: WebhookSummary; secret?: string }>('webhook', 'add', url, ...flags);
  return { id: added.webhook.id, secret: added.secret ?? '' };
}

const seqsOf = (op: string) =>
  b
    .json<JournalEntry[]>('log')
    .filter((e) => e.op === op)
    .map((e) => e.seq);
const log = (id?: string) => b.json<DeliveryRecord[]>('webhook', 'deliveries', ...(id ? [id] : []));
const hook = (id: string) => b.json<WebhookSummary[]>('webhook', 'list').find((w) => w.id === id);

describe('dreamos webhook', () => {
  it('delivers signed events the reference verifier accepts, filtered per subscription', async () => {
    const r = await receive();
    const all = subscribe(`${r.url}?all`, '--events', 'task');
    r.secret = all.secret;
    const secretFile = path.join(b.dir, 'secret');
    fs.writeFileSync(secretFile, `${all.secret}\n`);
    const only = subscribe(`${r.url}?only`, '--events', 'task.cancelled', '--secret-file', secretFile);
    expect(only.secret).toBe(''); // a given secret is never printed back

    b.add('one', '--run', 'true');
    const two = b.add('two', '--run', 'true');
    const cancel = b.run('task', 'cancel', two.id);
    expect(cancel.code, show(cancel)).toBe(0);
    const [seqOne, seqTwo] = seqsOf('add');
    const [seqCancel] = seqsOf('cancel');

    const d = dispatch();
    const to = (which: string) => r.received.filter((m) => m.path.endsWith(`?${which}`));
    await waitFor(() => to('all').length >= 3 && to('only').length >= 1, WAIT_MS);
    expect(r.received.every((m) => m.verified)).toBe(true);
    expect(
      to('all')
        .map((m) => m.id)
        .sort(),
    ).toEqual([seqOne, seqTwo, seqCancel].map((s) => `msg_${all.id}_${s}`).sort());
    expect(to('only').map((m) => [m.id, m.type])).toEqual([
      [`msg_${only.id}_${seqCancel}`, 'task.cancelled'],
    ]);
    const body = JSON.parse(to('all').find((m) => m.id.endsWith(`_${seqCancel}`))!.body);
    expect(body).toMatchObject({ type: 'task.cancelled', data: { seq: seqCancel, op: 'cancel' } });
    expect(body.data.tasks[0]).toMatchObject({ id: two.id, status: 'cancelled' });

    // Every delivery to the filtered subscription is in the log: only the one it wanted.
    await waitFor(() => log(only.id).length >= 1 && log(all.id).length >= 3, WAIT_MS);
    expect(log(only.id).map((l) => [l.delivery, l.outcome])).toEqual([
      [`msg_${only.id}_${seqCancel}`, 'delivered'],
    ]);

    // A test ping, and a delivery sent again: the same id and the same body.
    // Run without blocking this process: the receiver answers from it.
    const ping = await cliAsync(['webhook', 'test', all.id, '--json'], { cwd: b.dir });
    expect(ping.code, show(ping)).toBe(0);
    expect(ping.json()).toMatchObject({ ok: true, status: 200, subscription: all.id });
    expect(r.received.at(-1)).toMatchObject({ type: 'webhook.test', verified: true });
    const first = to('all').find((m) => m.id === `msg_${all.id}_${seqOne}`)!;
    const again = await cliAsync(['webhook', 'redeliver', first.id, '--json'], { cwd: b.dir });
    expect(again.code, show(again)).toBe(0);
    expect(again.json()).toMatchObject({ ok: true, delivery: first.id, attempt: 2 });
    expect(r.received.at(-1)).toMatchObject({ id: first.id, body: first.body, verified: true });

    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);

    // The secret is in its own file of mode 600, and nowhere else the operator reads.
    const key = all.secret.slice('whsec_'.length);
    const secretPath = path.join(b.dir, '.dreamos', 'secrets', `webhook-${all.id}`);
    expect(fs.statSync(secretPath).mode & 0o777).toBe(0o600);
    for (const text of [
      b.run('webhook', 'list').stdout,
      b.run('webhook', 'list', '--json').stdout,
      b.run('webhook', 'deliveries', '--json').stdout,
      b.run('webhook', 'deliveries').stdout,
      fs.readFileSync(path.join(b.dir, '.dreamos', 'webhooks', 'deliveries.jsonl'), 'utf8'),
      fs.readFileSync(path.join(b.dir, '.dreamos', 'webhooks', 'subscriptions.json'), 'utf8'),
      d.stdout(),
    ])
      expect(text).not.toContain(key);
  });

  it('retries a 500 with the same webhook-id until the receiver takes it', async () => {
    const r = await receive((m) => ({ status: m.n === 1 ? 500 : 200 }));
    const sub = subscribe(r.url, '--events', 'task.created');
    r.secret = sub.secret;
    b.add('one', '--run', 'true');
    const [seq] = seqsOf('add');
    dispatch();
    await waitFor(() => r.received.length >= 2, WAIT_MS);
    expect(r.received.map((m) => [m.id, m.verified])).toEqual([
      [`msg_${sub.id}_${seq}`, true],
      [`msg_${sub.id}_${seq}`, true],
    ]);
    await waitFor(() => log(sub.id).length >= 2, WAIT_MS);
    expect(log(sub.id).map((l) => [l.attempt, l.outcome, l.status])).toEqual([
      [1, 'retrying', 500],
      [2, 'delivered', 200],
    ]);
    expect(hook(sub.id)).toMatchObject({ state: 'enabled', pending: 0, failures: null });
  });

  it('waits as long as a 429 Retry-After asks', async () => {
    const r = await receive((m) =>
      m.n === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 },
    );
    const sub = subscribe(r.url, '--events', 'task');
    r.secret = sub.secret;
    b.add('one', '--run', 'true');
    dispatch();
    await waitFor(() => log(sub.id).length >= 2, WAIT_MS);
    const [first, second] = log(sub.id);
    expect([first!.status, first!.outcome, second!.outcome]).toEqual([429, 'retrying', 'delivered']);
    // The scaled schedule alone would try again within milliseconds.
    expect(Date.parse(first!.nextAttemptAt!) - Date.parse(first!.at)).toBeGreaterThanOrEqual(1000);
    expect(r.received[1]!.id).toBe(r.received[0]!.id);
  });

  it('disables a subscription on 410 Gone, shows it in attention, and resumes on enable', async () => {
    let gone = true;
    const r = await receive(() => ({ status: gone ? 410 : 200 }));
    const sub = subscribe(r.url, '--events', 'task');
    r.secret = sub.secret;
    b.add('one', '--run', 'true');
    const [seq] = seqsOf('add');
    const d = dispatch();
    await waitFor(() => hook(sub.id)?.state === 'disabled', WAIT_MS);
    expect(hook(sub.id)).toMatchObject({ pending: 1, disabled: { by: 'receiver' } });

    const item = b.json<AttentionItem[]>('attention').find((i) => i.key === `webhook:${sub.id}`);
    expect(item).toMatchObject({ reason: 'webhook-failing', severity: 'warning', subject: sub.id });
    expect(item!.action).toContain(`dreamos webhook enable ${sub.id}`);
    const text = b.run('attention');
    expect(text.stdout).toMatch(new RegExp(`webhook-failing +warning +${sub.id}`));

    gone = false;
    const enabled = b.run('webhook', 'enable', sub.id, '--json');
    expect(enabled.code, show(enabled)).toBe(0);
    await waitFor(() => hook(sub.id)?.pending === 0, WAIT_MS);
    expect(r.received.map((m) => m.id)).toEqual([`msg_${sub.id}_${seq}`, `msg_${sub.id}_${seq}`]);
    expect(b.json<AttentionItem[]>('attention').some((i) => i.key === `webhook:${sub.id}`)).toBe(false);
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
  });

  it('delivers every event after the dispatcher is killed mid-delivery and started again', async () => {
    // The first request is never answered: the dispatcher dies waiting for it.
    const r = await receive((m) => (m.n === 1 ? 'hold' : { status: 200 }));
    const sub = subscribe(r.url, '--events', 'task.created');
    r.secret = sub.secret;
    for (const title of ['a', 'b', 'c']) b.add(title, '--run', 'true');
    const first = dispatch();
    await waitFor(() => r.received.length >= 1, WAIT_MS);
    first.child.kill('SIGKILL');
    await first.exited;
    for (const title of ['d', 'e']) b.add(title, '--run', 'true');

    dispatch();
    const expected = seqsOf('add').map((s) => `msg_${sub.id}_${s}`);
    expect(expected).toHaveLength(5);
    const answered = () => new Set(r.received.filter((m) => m.n !== 1).map((m) => m.id));
    await waitFor(() => expected.every((id) => answered().has(id)), WAIT_MS);
    // Nothing invented: every message is one of the events, and each is signed.
    expect(r.received.every((m) => expected.includes(m.id) && m.verified)).toBe(true);
    // The one left unanswered was sent again, with the same id.
    expect(r.received.filter((m) => m.id === r.received[0]!.id).length).toBeGreaterThanOrEqual(2);
    await waitFor(() => hook(sub.id)?.pending === 0, WAIT_MS);
  });

  it('disables a subscription whose message fails every attempt of the schedule', async () => {
    const r = await receive(() => ({ status: 500 }));
    const sub = subscribe(r.url, '--events', 'task');
    r.secret = sub.secret;
    b.add('one', '--run', 'true');
    // Three days of retries in about three seconds.
    dispatch('0.00001');
    await waitFor(() => hook(sub.id)?.state === 'disabled', WAIT_MS);
    expect(hook(sub.id)).toMatchObject({ pending: 0, disabled: { by: 'failures' } });
    const attempts = log(sub.id);
    expect(attempts.map((l) => l.attempt)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(attempts.at(-1)!.outcome).toBe('failed');
    expect(new Set(r.received.map((m) => m.id)).size).toBe(1);
    const item = b.json<AttentionItem[]>('attention').find((i) => i.key === `webhook:${sub.id}`);
    expect(item).toMatchObject({ reason: 'webhook-failing', severity: 'warning' });
  });

  it('delivers from one process at a time when several run', async () => {
    const r = await receive();
    const sub = subscribe(r.url, '--events', 'task.created');
    r.secret = sub.secret;
    for (const title of ['a', 'b', 'c']) b.add(title, '--run', 'true');
    // A term of three seconds: long enough that a busy machine does not hand the role over.
    const both = [dispatch('0.1'), dispatch('0.1')];
    const expected = seqsOf('add').map((s) => `msg_${sub.id}_${s}`);
    await waitFor(() => expected.every((id) => r.received.some((m) => m.id === id)), WAIT_MS);
    const leading = both.filter((d) => d.stdout().includes('"leading":true'));
    expect(leading).toHaveLength(1);
    expect(r.received.map((m) => m.id).sort()).toEqual([...expected].sort());
    for (const d of both) d.child.kill('SIGTERM');
    expect(await Promise.all(both.map((d) => d.exited))).toEqual([0, 0]);
  });

  it('refuses hostile URLs and changes nothing; remove deletes the secret', async () => {
    for (const url of [
      'file:///etc/passwd',
      'ftp://example.com/x',
      'javascript:alert(1)',
      'not a url',
      'http://user:pw@example.com/',
    ]) {
      const r = b.run('webhook', 'add', url);
      expect(r.code, show(r)).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    const bad = b.run('webhook', 'add', 'http://127.0.0.1:9/', '--events', 'task.nonsense');
    expect(bad.code, show(bad)).toBe(2);
    expect(b.json('webhook', 'list')).toEqual([]);
    const secrets = path.join(b.dir, '.dreamos', 'secrets');
    expect(fs.existsSync(secrets) ? fs.readdirSync(secrets) : []).toEqual([]);

    const sub = subscribe('https://example.com/hook');
    expect(fs.readdirSync(secrets)).toEqual([`webhook-${sub.id}`]);
    expect(b.run('webhook', 'remove', sub.id).code).toBe(0);
    expect(fs.readdirSync(secrets)).toEqual([]);
    expect(b.run('webhook', 'remove', sub.id).code).toBe(3);
    expect(b.run('webhook', 'test', 'W-NOPE0000').code).toBe(3);

    // A link planted in place of a webhook folder (a cloned repository can hold one) is refused.
    const elsewhere = path.join(b.dir, 'elsewhere');
    fs.mkdirSync(elsewhere);
    fs.rmSync(secrets, { recursive: true });
    fs.symlinkSync(elsewhere, secrets);
    const planted = b.run('webhook', 'add', 'https://example.com/hook');
    expect(planted.code, show(planted)).toBe(6);
    expect(planted.stderr).toContain('secrets');
    expect(fs.readdirSync(elsewhere)).toEqual([]);
  });
});

describePg('dreamos webhook on a PostgreSQL workspace', () => {
  it('delivers what the journal table holds, retrying a 503', async () => {
    const { schema } = await testSchema('dreamos_webhooks');
    const run = (...args: string[]) =>
      cli(args, { cwd: b.dir, env: { DREAMOS_INIT_DRIVER: 'shell', DREAMOS_STORE: '' } });
    fs.rmSync(path.join(b.dir, '.dreamos'), { recursive: true });
    const init = run('init', '--backend', 'postgres', '--store', TEST_PG_URL, '--schema', schema);
    expect(init.code, show(init)).toBe(0);
    const r = await receive((m) => ({ status: m.n === 1 ? 503 : 200 }));
    const added = run('webhook', 'add', r.url, '--events', 'task.created', '--json');
    expect(added.code, show(added)).toBe(0);
    const sub = added.json<{ webhook: WebhookSummary; secret: string }>();
    r.secret = sub.secret;
    for (const title of ['a', 'b']) expect(run('task', 'add', title, '--run', 'true').code).toBe(0);
    const seqs = run('log', '--json')
      .json<JournalEntry[]>()
      .filter((e) => e.op === 'add')
      .map((e) => `msg_${sub.webhook.id}_${e.seq}`);
    const d = dispatch(ENV.DREAMOS_WEBHOOK_SCHEDULE_SCALE, b.dir);
    await waitFor(() => seqs.every((id) => r.received.some((m) => m.id === id && m.n !== 1)), WAIT_MS);
    expect(r.received.every((m) => m.verified && seqs.includes(m.id))).toBe(true);
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
  });

  it('says in the delivery log and with one alert which entries retention deleted before delivery', async () => {
    const { schema } = await testSchema('dreamos_webhooks');
    const run = (...args: string[]) =>
      cli(args, { cwd: b.dir, env: { DREAMOS_INIT_DRIVER: 'shell', DREAMOS_STORE: '' } });
    const json = <T>(...args: string[]) => {
      const r = run(...args, '--json');
      expect(r.code, show(r)).toBe(0);
      return r.json<T>();
    };
    fs.rmSync(path.join(b.dir, '.dreamos'), { recursive: true });
    expect(run('init', '--backend', 'postgres', '--store', TEST_PG_URL, '--schema', schema).code).toBe(0);
    const r = await receive();
    // The query stands for a token in the URL: the alert names the host only.
    const added = run('webhook', 'add', `${r.url}?token=kept-out`, '--events', 'task.created', '--json');
    expect(added.code, show(added)).toBe(0);
    const sub = added.json<{ webhook: WebhookSummary; secret: string }>();
    r.secret = sub.secret;
    /** 20 tasks added while the dispatcher is not running; meanwhile retention keeps the last 5 entries. */
    const addAndTrim = async () => {
      for (let i = 0; i < 20; i++) expect(run('task', 'add', `task ${i}`, '--run', 'true').code).toBe(0);
      const trimmed = await trimJournal(schema, 5, { archiveKeepDays: 10_000 });
      expect(trimmed.entries).toBeGreaterThan(0);
      const left = json<JournalEntry[]>('log');
      const kept = left.filter((e) => e.op === 'add').map((e) => `msg_${sub.webhook.id}_${e.seq}`);
      expect(kept.length).toBeGreaterThan(0);
      return { oldest: Math.min(...left.map((e) => e.seq)), kept };
    };
    const lostLines = () =>
      json<DeliveryRecord[]>('webhook', 'deliveries', sub.webhook.id).filter((l) => l.outcome === 'lost');
    const lostAlerts = () => json<Alert[]>('alert', 'list', '--kind', 'webhook-lost');
    const listed = () =>
      json<AttentionItem[]>('attention').filter(
        (i) => i.reason === 'webhook-lost' && i.subject === sub.webhook.id,
      );

    const first = await addAndTrim();
    let d = dispatch(ENV.DREAMOS_WEBHOOK_SCHEDULE_SCALE, b.dir);
    await waitFor(() => first.kept.every((id) => r.received.some((m) => m.id === id)), WAIT_MS);
    const lost = lostLines();
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({ type: 'events-lost', seq: first.oldest - 1, attempt: 0 });
    expect(lost[0]!.error).toMatch(
      new RegExp(`journal entries \\d+–${first.oldest - 1} were deleted by retention`),
    );
    const from = Number(/entries (\d+)–/.exec(lost[0]!.error!)![1]);

    // One alert, in the attention list, naming the subscription, its host and the entries lost.
    await waitFor(() => lostAlerts().length > 0, WAIT_MS);
    const [alert, ...others] = lostAlerts();
    expect(others).toEqual([]);
    const host = new URL(r.url).host;
    expect(alert).toMatchObject({
      kind: 'webhook-lost',
      severity: 'warning',
      status: 'open',
      count: 1,
      key: `webhook-lost:${sub.webhook.id}`,
      subject: sub.webhook.id,
      evidence: { subscription: sub.webhook.id, host, from, to: first.oldest - 1 },
    });
    expect(alert!.message).toContain(
      `webhook ${sub.webhook.id} (${host}) missed journal entries ${from}–${first.oldest - 1}`,
    );
    expect(listed()).toHaveLength(1);
    expect(listed()[0]).toMatchObject({ severity: 'warning', alerts: [alert!.id] });
    expect(listed()[0]!.action).toContain(`dreamos alert resolve ${alert!.id}`);
    for (const text of [JSON.stringify(lostAlerts()), run('attention').stdout])
      expect(text).not.toContain('kept-out');
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);

    // Acknowledged, it leaves the list; a further loss bumps it (open again, the range wider).
    expect(run('alert', 'ack', alert!.id).code).toBe(0);
    expect(listed()).toEqual([]);
    const second = await addAndTrim();
    d = dispatch(ENV.DREAMOS_WEBHOOK_SCHEDULE_SCALE, b.dir);
    await waitFor(() => second.kept.every((id) => r.received.some((m) => m.id === id)), WAIT_MS);
    expect(lostLines()).toHaveLength(2);
    await waitFor(() => lostAlerts()[0]?.count === 2, WAIT_MS);
    expect(lostAlerts()).toHaveLength(1);
    expect(lostAlerts()[0]).toMatchObject({
      id: alert!.id,
      status: 'open',
      evidence: { from, to: second.oldest - 1 },
    });
    expect(listed()).toHaveLength(1);

    // Resolved, it is gone from the attention list.
    const resolved = run('alert', 'resolve', alert!.id, '--json');
    expect(resolved.code, show(resolved)).toBe(0);
    expect(listed()).toEqual([]);
    expect(lostAlerts()[0]).toMatchObject({ id: alert!.id, status: 'resolved', count: 2 });
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
  });
});
