/**
 * Bounds on mail and tasks (issue 20, M5): past policies.limits a send, add, import or edit is
 * refused with E_LIMIT (exit 4) and records nothing, and `mail ack --all` is the way out of a full
 * mailbox. The CLI tests use small limits set in config.json; the planner tests use the defaults.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Policies } from '../../../src/config.js';
import type { Ctx } from '../../../src/lifecycle/index.js';
import { planAckBatch, planSend } from '../../../src/mail.js';
import { parseTaskInput, planAdd } from '../../../src/task-input.js';
import type { Mail } from '../../../state/schemas.js';
import { StateIndex } from '../../../state/state-index.js';
import {
  type Board,
  board,
  expectError,
  expectJsonError,
  expectRefused,
  setPolicies,
  show,
} from '../../helpers/cli.js';

vi.setConfig({ testTimeout: 180_000 });

const AGENTS = Array.from({ length: 8 }, (_, i) => `agent-${i + 1}`);

describe('limits through the CLI', () => {
  let b: Board;
  beforeEach(() => {
    b = board();
  });
  afterEach(() => b.cleanup());

  const send = (to: string, body: string) => b.run('mail', 'send', '--to', to, body);

  it('a full mailbox refuses more mail (exit 4, nothing recorded) until `mail ack --all` empties it', () => {
    setPolicies(b, { limits: { mailboxMessages: 3 } });
    for (const n of [1, 2, 3]) expect(send('agent-3', `message ${n}`).code).toBe(0);
    const before = b.state();
    expectError(
      send('agent-3', 'one too many'),
      4,
      /mailbox of agent-3 holds 3 unacknowledged.*mail ack --all/,
    );
    expectJsonError(b.run('mail', 'send', '--to', 'agent-3', 'again', '--json'), 4, 'E_LIMIT');
    expect(b.state()).toEqual(before);
    // Other mailboxes are not affected, and the operator's directives always go through.
    expect(send('agent-4', 'hello').code).toBe(0);
    expect(b.run('agent', 'pause', 'agent-3').code).toBe(0);

    const r = b.run('mail', 'ack', '--all', '--agent', 'agent-3');
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toContain('3 messages acknowledged; 1 directive left for the agent');
    const left = b.json<Mail[]>('mail', 'list', '--agent', 'agent-3');
    expect(left.map((m) => m.type)).toEqual(['directive']);
    expect(send('agent-3', 'room again').code).toBe(0);
    expectError(b.run('mail', 'ack', '--agent', 'agent-3'), 2, /--all/);
  });

  it('directives neither fill a mailbox nor pass 1,000 characters, and `mail ack --all` makes room', () => {
    setPolicies(b, { limits: { mailboxMessages: 2, mailboxChars: 5000 } });
    const before = b.state();
    expectError(
      b.run('agent', 'pause', 'agent-3', '--why', 'w'.repeat(1001)),
      2,
      /at most 1,000 characters, got 1,001/,
    );
    // Mail cannot pose as a directive: that would be mail no limit counts and `ack --all` skips.
    expectError(b.run('mail', 'send', '--type', 'directive', '--to', 'agent-3', 'x'), 2, /agent pause/);
    expect(b.state()).toEqual(before);
    // Directives of 1,000 characters, five times the mailbox's count and past its characters.
    for (const verb of ['pause', 'resume', 'pause', 'resume', 'restart'])
      expect(b.run('agent', verb, 'agent-3', '--why', 'w'.repeat(1000)).code).toBe(0);
    expect(send('agent-3', 'one').code).toBe(0);
    expect(send('agent-3', 'two').code).toBe(0);
    expectError(send('agent-3', 'three'), 4, /holds 2 unacknowledged.*mail ack --all --agent agent-3/);
    // The way out the refusal names works.
    const r = b.run('mail', 'ack', '--all', '--agent', 'agent-3');
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toContain('2 messages acknowledged; 5 directives left');
    expect(send('agent-3', 'three').code).toBe(0);
    const one = b.run('mail', 'ack', '--all', '--agent', 'agent-3');
    expect(one.stdout).toMatch(/^1 message acknowledged;/);
  });

  it('caps the characters of unacknowledged mail per mailbox and in the whole workspace', () => {
    setPolicies(b, { limits: { mailboxChars: 100, mailChars: 150 } });
    expect(send('agent-3', 'x'.repeat(60)).code).toBe(0);
    expectError(send('agent-3', 'y'.repeat(60)), 4, /mailbox of agent-3 would hold 120 characters/);
    // A broadcast of 8 × 20 characters passes every mailbox's limit but not the workspace's: none is sent.
    const before = b.state();
    expectError(send('all', 'z'.repeat(20)), 4, /mailboxes would hold 220 characters.*mailChars/);
    expect(b.state()).toEqual(before);
    expect(b.json<Mail[]>('mail', 'list', '--agent', 'agent-5')).toEqual([]);
    expect(send('all', 'z'.repeat(10)).code).toBe(0);
  });

  it('counts every field of a task, not only prompts: a big `run` or `resources` import is refused', () => {
    // The limits' former names still configure them.
    setPolicies(b, { limits: { importPromptChars: 5000, promptChars: 9000 } });
    const file = path.join(b.dir, 'import.json');
    const big = (title: string) => ({
      title,
      run: 'r'.repeat(1500),
      resources: ['x'.repeat(500), 'y'.repeat(500)],
    });
    fs.writeFileSync(file, JSON.stringify([big('a'), big('b')]));
    // Two tasks of about 3,000 characters each as stored, no prompt: past the import's 5,000.
    expectRefused(
      b,
      ['task', 'import', file],
      4,
      /the import takes 6,\d{3} characters as stored.*importChars/,
    );
    expect(b.list()).toEqual([]);
    fs.writeFileSync(file, JSON.stringify([big('a')]));
    expect(b.run('task', 'import', file).code).toBe(0);
    fs.writeFileSync(file, JSON.stringify([big('b')]));
    expect(b.run('task', 'import', file).code).toBe(0);
    // A third passes the boards' 9,000.
    fs.writeFileSync(file, JSON.stringify([big('c')]));
    expectRefused(b, ['task', 'import', file], 4, /tasks on the boards take 6,\d{3} characters.*boardChars/);
    expectRefused(b, ['task', 'add', 'c', '--run', 'r'.repeat(3000)], 4, /boardChars/);
  });

  it('bounds tags, capabilities and edits by the same limits, and keeps small edits possible', () => {
    setPolicies(b, { limits: { importChars: 2500, boardChars: 3000 } });
    const file = path.join(b.dir, 'import.json');
    const tags = Array.from({ length: 64 }, (_, i) => `${i}`.padEnd(40, 't'));
    fs.writeFileSync(file, JSON.stringify([{ title: 'tagged', tags }]));
    expectRefused(b, ['task', 'import', file], 4, /the task takes 3,\d{3} characters.*importChars/);
    const caps = Array.from({ length: 32 }, (_, i) => `${i}`.padEnd(64, 'c'));
    const add = ['task', 'add', 'capable', ...caps.flatMap((c) => ['--capability', c])];
    expectRefused(b, add, 4, /importChars/);

    const first = b.add('first');
    expectRefused(b, ['task', 'edit', first.id, '--run', 'r'.repeat(3500)], 4, /boardChars/);
    expectRefused(b, ['task', 'edit', first.id, ...tags.flatMap((t) => ['--tag', t])], 4, /boardChars/);
    expect(b.run('task', 'edit', first.id, '--run', 'r'.repeat(2000)).code).toBe(0);
    expect(b.run('task', 'edit', first.id, '--priority', 'high').code).toBe(0);
  });

  it('refuses a config that gives a limit under both its names', () => {
    setPolicies(b, { limits: { promptChars: 5000, boardChars: 6000 } });
    expectError(b.run('task', 'list'), 6, /promptChars: the former name of boardChars/);
  });
});

describe('limits at their defaults (planners)', () => {
  const at = new Date('2026-12-06T00:00:00.000Z');
  const ctx = (view: StateIndex): Ctx => ({ view, now: at, by: 'agent-5', policies: Policies.parse({}) });
  const mail = (n: number, to: string, body: string, acked = false): Mail => ({
    id: `M-${String(n).padStart(5, '0')}`,
    to,
    from: 'agent-5',
    type: 'message',
    body,
    createdAt: at.toISOString(),
    readAt: null,
    ackedAt: acked ? at.toISOString() : null,
    rev: n,
  });

  it('a mailbox holds 1,000 unacknowledged messages; acknowledged ones do not count', () => {
    const view = new StateIndex();
    for (let n = 1; n <= 999; n++) view.putMail(mail(n, 'agent-3', 'hi'));
    for (let n = 1000; n <= 1100; n++) view.putMail(mail(n, 'agent-3', 'old', true));
    view.mergeCounters({ mail: 1100 });
    const sent = planSend(ctx(view), AGENTS, { to: 'agent-3', body: 'the 1,000th' });
    for (const m of sent.change!.mail!) view.putMail({ ...m, rev: 2000 });
    expect(() => planSend(ctx(view), AGENTS, { to: 'agent-3', body: 'the 1,001st' })).toThrow(
      expect.objectContaining({ code: 'E_LIMIT', exitCode: 4 }),
    );
  });

  it('a mailbox holds 4 Mi characters of unacknowledged mail, the workspace 32 Mi', () => {
    const view = new StateIndex();
    const body = 'x'.repeat(20_000);
    // 209 messages of 20,000 characters are 4,180,000: one more passes 4 Mi (4,194,304).
    for (let n = 1; n <= 209; n++) view.putMail(mail(n, 'agent-3', body));
    expect(() => planSend(ctx(view), AGENTS, { to: 'agent-3', body })).toThrow(/mailboxChars/);
    // Seven more full mailboxes, and the eighth agent's has room: the workspace's total refuses.
    let n = 209;
    for (const to of ['agent-1', 'agent-2', 'agent-4', 'agent-5', 'agent-6', 'agent-7', 'operator'])
      for (let i = 0; i < 209; i++) view.putMail(mail(++n, to, body));
    // 8 × 209 × 20,000 = 33,440,000; 5 more fit under 32 Mi (33,554,432), the 6th does not.
    for (let i = 0; i < 5; i++) view.putMail(mail(++n, 'agent-8', body));
    expect(() => planSend(ctx(view), AGENTS, { to: 'agent-8', body })).toThrow(/mailChars/);
  });

  it('`mail ack --all` goes in batches of at most 500 messages or 1 Mi characters', () => {
    const view = new StateIndex();
    for (let n = 1; n <= 1200; n++) view.putMail(mail(n, 'agent-3', n <= 600 ? 'short' : 'x'.repeat(10_000)));
    const sizes: number[] = [];
    for (let rev = 5000; ; rev++) {
      const batch = planAckBatch(ctx(view), 'agent-3');
      if (!batch.change) break;
      sizes.push(batch.result.length);
      for (const m of batch.change.mail!) view.putMail({ ...m, rev });
    }
    // 500 short ones (the count), then 100 short and 104 long (1 Mi characters), then 104 long at a time.
    expect(sizes).toEqual([500, 204, 104, 104, 104, 104, 80]);
  });

  it('one add or import takes 16 Mi characters as stored, the boards 64 Mi', () => {
    const view = new StateIndex();
    const roles = new Set(AGENTS);
    const input = (i: number) => parseTaskInput({ title: `t${i}`, prompt: 'p'.repeat(200_000) });
    const size = JSON.stringify(planAdd(ctx(view), [input(0)], roles).result[0]).length;
    expect(size).toBeGreaterThan(200_000);
    const fit = Math.floor((16 * 1024 * 1024) / size);
    const many = Array.from({ length: fit + 1 }, (_, i) => input(i));
    expect(() => planAdd(ctx(view), many, roles)).toThrow(/importChars/);
    const rounds = Math.floor((64 * 1024 * 1024) / (fit * size));
    for (let round = 0; round < rounds; round++) {
      const added = planAdd(ctx(view), many.slice(0, fit), roles);
      view.apply({
        schemaVersion: 1,
        seq: round + 1,
        at: at.toISOString(),
        by: 'operator',
        op: 'import',
        tasks: added.change!.tasks!.map((task) => ({ task: { ...task, rev: round + 1 } })),
        counters: { task: added.change!.counters!.task ?? 0, alert: 0, mail: 0, checkpoint: 0 },
        crc: '00000000',
      });
    }
    // The room left under 64 Mi takes this many more tasks, one at a time; the next is refused.
    const more = Math.floor((64 * 1024 * 1024 - rounds * fit * size) / size);
    for (let i = 0; i < more; i++) {
      const one = planAdd(ctx(view), [input(900 + i)], roles);
      view.putTask({ ...one.change!.tasks![0]!, rev: 10 + i });
      view.mergeCounters({ task: one.change!.counters!.task ?? 0 });
    }
    expect(() => planAdd(ctx(view), [input(999)], roles)).toThrow(/boardChars/);
  });
});
