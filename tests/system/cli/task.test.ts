/**
 * `dreamos task …` driven as a child process: every subcommand of the lifecycle, its --json output,
 * its exit codes, and what it leaves on the board.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { JournalEntry, Task } from '../../../state/schemas.js';
import {
  type Board,
  board,
  dreamos,
  expectError,
  expectJsonError,
  expectRefused,
  setPolicies,
  show,
  statuses,
  transitions,
} from '../../helpers/cli.js';
import { BIN } from '../../helpers/workspace.js';

// Each test starts dozens of real processes: a loaded machine is slow, not wrong.
vi.setConfig({ testTimeout: 180_000 });

let b: Board;
beforeEach(() => {
  b = board();
});
afterEach(() => b.cleanup());

const claim = (agent: string, ...flags: string[]) =>
  b.json<Task>('task', 'claim', '--agent', agent, ...flags);

describe('task add', () => {
  it('accepts every flag and prints the whole task, with its id, as JSON', () => {
    const dep = b.add('build');
    const t = b.add(
      'deploy',
      ...['--prompt', 'Deploy the build to staging', '--run', 'make deploy', '--role', 'infrastructure'],
      ...['--capability', 'build', '--capability', 'ci', '--priority', 'high', '--depends-on', dep.id],
      ...['--resource', 'deploy/**', '--resource', 'Makefile', '--tag', 'release', '--tag', 'ops'],
      ...['--max-attempts', '5', '--timeout', '10m', '--budget-tokens', '5000', '--budget-usd', '1.5'],
      ...['--budget-seconds', '1h'],
    );
    expect(t.id).toMatch(/^T-[0-9A-Z]{5,10}$/);
    expect(t).toMatchObject({
      title: 'deploy',
      prompt: 'Deploy the build to staging',
      run: 'make deploy',
      role: 'infrastructure',
      capabilities: ['build', 'ci'],
      priority: 'high',
      dependsOn: [dep.id],
      resources: ['deploy/**', 'Makefile'],
      tags: ['release', 'ops'],
      maxAttempts: 5,
      timeout: 600,
      budget: { tokens: 5000, usd: 1.5, seconds: 3600 },
      source: 'cli',
      status: 'backlog', // its dependency is not done
      agent: null,
      lease: null,
      attempts: 0,
    });
    expect(b.get(t.id)).toEqual(t);
  });

  it('applies the documented defaults and sends a task without dependencies straight to ready', () => {
    const t = b.add('plain');
    expect(t).toMatchObject({ priority: 'normal', maxAttempts: 3, status: 'ready', dependsOn: [], tags: [] });
    expect(transitions(t)).toEqual(['∅>backlog', 'backlog>ready']);
  });

  it('keeps a task in the backlog with --hold', () => {
    expect(b.add('later', '--hold').status).toBe('backlog');
  });

  it('hands out unique ids that sort in the order the tasks were added', () => {
    const ids = Array.from({ length: 5 }, (_, i) => b.add(`t${i}`).id);
    expect(new Set(ids).size).toBe(5);
    expect([...ids].sort()).toEqual(ids);
  });

  it('reads durations as 30s, 10m, 1.5h, 250ms or plain seconds', () => {
    const timeout = (v: string) => b.add(`t ${v}`, '--timeout', v).timeout;
    expect(timeout('30s')).toBe(30);
    expect(timeout('10m')).toBe(600);
    expect(timeout('1.5h')).toBe(5400);
    expect(timeout('250ms')).toBe(0.25);
    expect(timeout('45')).toBe(45);
  });

  it('records an agent as the source when DREAMOS_AGENT_ID is set', () => {
    const byAgent = dreamos(['task', 'add', 'from an agent', '--json'], {
      cwd: b.dir,
      env: { DREAMOS_AGENT_ID: 'agent-3' },
    });
    expect(byAgent.code, show(byAgent)).toBe(0);
    const t = byAgent.json<Task>();
    expect(t.source).toBe('agent');
    expect(t.history[0]?.by).toBe('agent-3');
  });

  it('says what it did in one line on stdout without --json, and nothing on stderr', () => {
    const r = b.run('task', 'add', 'human', '--run', 'true');
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(/^T-[0-9A-Z]{5,10} added \(ready\)\n$/);
    expect(r.stderr).toBe('');
  });
});

describe('task list and show', () => {
  it('stops quietly when the reader of its output goes away (| head)', () => {
    // More than a pipe holds (64 KiB), so that the writer meets the closed pipe.
    const file = path.join(b.dir, 'many.json');
    const many = Array.from({ length: 200 }, (_, i) => ({ title: `task ${i}`, prompt: 'x'.repeat(500) }));
    fs.writeFileSync(file, JSON.stringify(many));
    expect(b.run('task', 'import', file).code).toBe(0);
    // A reader that takes one byte and leaves: the rest of the output meets a closed pipe.
    const r = spawnSync('sh', ['-c', `"${process.execPath}" "${BIN}" task list --json | head -c 1`], {
      cwd: b.dir,
      encoding: 'utf8',
    });
    expect(r.stdout).toBe('[');
    expect(r.stderr).toBe('');
  });

  it('lists every task as a JSON array sorted by id, and filters by status, agent, tag and limit', () => {
    expect(b.list()).toEqual([]);
    const a = b.add('a', '--tag', 'x');
    const h = b.add('h', '--hold');
    const w = b.add('w', '--tag', 'x');
    claim('agent-2', '--task', w.id);
    const all = b.list();
    expect(all.map((t) => t.id)).toEqual([a.id, h.id, w.id]);
    expect(statuses(all)).toEqual({ [a.id]: 'ready', [h.id]: 'backlog', [w.id]: 'working' });
    expect(b.list('--status', 'ready').map((t) => t.id)).toEqual([a.id]);
    expect(b.list('--status', 'ready,backlog').map((t) => t.id)).toEqual([a.id, h.id]);
    expect(b.list('--status', 'done')).toEqual([]);
    expect(b.list('--agent', 'agent-2').map((t) => t.id)).toEqual([w.id]);
    expect(b.list('--tag', 'x').map((t) => t.id)).toEqual([a.id, w.id]);
    expect(b.list('--limit', '2').map((t) => t.id)).toEqual([a.id, h.id]);
  });

  it('prints a table for people', () => {
    expect(b.run('task', 'list').stdout).toBe('no tasks\n');
    const t = b.add('write the docs', '--priority', 'low');
    const r = b.run('task', 'list');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATUS\s+PRIORITY\s+AGENT\s+TITLE$/);
    expect(lines[1]).toMatch(new RegExp(`^${t.id}\\s+ready\\s+low\\s+-\\s+write the docs$`));
  });

  it('shows one task with its whole history', () => {
    const t = b.add('show me', '--run', 'echo hi', '--tag', 'demo');
    claim('agent-2');
    const json = b.get(t.id);
    expect(json.status).toBe('working');
    expect(transitions(json)).toEqual(['∅>backlog', 'backlog>ready', 'ready>working']);
    const r = b.run('task', 'show', t.id);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${t.id}  show me`);
    expect(r.stdout).toMatch(/status\s+working \(agent-2\)/);
    expect(r.stdout).toContain('lease      agent-2 until');
    expect(r.stdout).toContain('ready → working  by agent-2');
  });

  it('exits 3 for a task that does not exist', () => {
    expectError(b.run('task', 'show', 'T-00ZZZ'), 3, /no task T-00ZZZ/);
    expectJsonError(b.run('task', 'show', 'T-00ZZZ', '--json'), 3, 'E_NOT_FOUND');
  });
});

describe('task promote and move', () => {
  it('promotes a backlog task to ready, and refuses to promote anything else (exit 4)', () => {
    const t = b.add('held', '--hold');
    const p = b.json<Task>('task', 'promote', t.id, '--why', 'go');
    expect(p.status).toBe('ready');
    expect(p.history.at(-1)).toMatchObject({ from: 'backlog', to: 'ready', by: 'operator', why: 'go' });
    expectRefused(b, ['task', 'promote', t.id], 4, /only a backlog task can be promoted/);
  });

  it('lets the operator promote a task before its dependencies are done, and records that', () => {
    const dep = b.add('dep');
    const t = b.add('after', '--depends-on', dep.id);
    const p = b.json<Task>('task', 'promote', t.id);
    expect(p.status).toBe('ready');
    expect(p.history.at(-1)?.why).toMatch(/before its dependencies were done/);
  });

  it('makes every move the lifecycle allows', () => {
    const t = b.add('mover');
    const move = (to: string) => b.json<Task>('task', 'move', t.id, '--to', to);
    expect(move('backlog').status).toBe('backlog');
    expect(move('ready').status).toBe('ready');
    claim('agent-2', '--task', t.id);
    const requeued = move('ready');
    expect(requeued).toMatchObject({ status: 'ready', agent: null, lease: null });
    claim('agent-2', '--task', t.id);
    expect(move('failed').status).toBe('failed');
    expect(move('backlog')).toMatchObject({ status: 'backlog', attempts: 0 });
    expect(move('cancelled').status).toBe('cancelled');
    expect(move('ready').status).toBe('ready');
    claim('agent-2', '--task', t.id);
    const done = move('done');
    expect(done).toMatchObject({ status: 'done', lease: null, result: { ok: true } });
    expect(transitions(done)).toEqual([
      '∅>backlog',
      'backlog>ready',
      'ready>backlog',
      'backlog>ready',
      'ready>working',
      'working>ready',
      'ready>working',
      'working>failed',
      'failed>backlog',
      'backlog>cancelled',
      'cancelled>ready',
      'ready>working',
      'working>done',
    ]);
  });

  it('refuses moves the lifecycle does not allow with exit 4, changing nothing', () => {
    const ready = b.add('ready');
    const backlog = b.add('backlog', '--hold');
    const done = b.add('done');
    claim('agent-2', '--task', done.id);
    b.json('task', 'complete', done.id);
    expectRefused(b, ['task', 'move', ready.id, '--to', 'working'], 4, /only when an agent claims it/);
    expectRefused(b, ['task', 'move', ready.id, '--to', 'ready'], 4, /already ready/);
    expectRefused(b, ['task', 'move', ready.id, '--to', 'done'], 4, /cannot move/);
    expectRefused(b, ['task', 'move', backlog.id, '--to', 'failed'], 4, /cannot move/);
    expectRefused(b, ['task', 'move', done.id, '--to', 'ready'], 4, /done is final/);
    expectRefused(b, ['task', 'move', done.id, '--to', 'cancelled'], 4, /already done/);
    const r = b.run('task', 'move', ready.id, '--to', 'working', '--json');
    expectJsonError(r, 4, 'E_INVALID_TRANSITION');
  });

  it('refuses an unknown stage (exit 2) and a missing --to (exit 2)', () => {
    const t = b.add('x');
    expectRefused(b, ['task', 'move', t.id, '--to', 'limbo'], 2, /unknown stage "limbo"/);
    expectRefused(b, ['task', 'move', t.id], 2, /--to/);
  });
});

describe('task claim and renew', () => {
  it('claims the best ready task with a lease, and exits 3 when nothing is left', () => {
    const t = b.add('only one');
    const c = claim('agent-2');
    expect(c).toMatchObject({ id: t.id, status: 'working', agent: 'agent-2', attempts: 1 });
    expect(c.lease?.owner).toBe('agent-2');
    expect(Date.parse(c.lease!.expiresAt)).toBeGreaterThan(Date.parse(c.updatedAt));
    expectRefused(b, ['task', 'claim', '--agent', 'agent-3'], 3, /nothing agent-3 may claim/);
    expectJsonError(b.run('task', 'claim', '--agent', 'agent-3', '--json'), 3, 'E_NOTHING_TO_CLAIM');
  });

  it('prints the claimed task for people too', () => {
    const t = b.add('for people');
    const r = b.run('task', 'claim', '--agent', 'agent-2');
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(`^${t.id} claimed by agent-2, lease until \\S+ \\(token \\d+\\) \\(working\\)\\n$`),
    );
  });

  it('takes higher priority first, then the oldest', () => {
    const low = b.add('low', '--priority', 'low');
    const normal1 = b.add('n1');
    const normal2 = b.add('n2');
    const critical = b.add('crit', '--priority', 'critical');
    const order = [1, 2, 3, 4].map(() => claim('agent-2').id);
    expect(order).toEqual([critical.id, normal1.id, normal2.id, low.id]);
  });

  it('gives a task only to an agent with its role and capabilities', () => {
    const infra = b.add('infra only', '--role', 'infrastructure');
    const review = b.add('needs review', '--capability', 'review');
    expectRefused(b, ['task', 'claim', '--agent', 'agent-5', '--task', infra.id], 4, /may not take/);
    expect(claim('agent-2', '--task', infra.id).id).toBe(infra.id);
    expectRefused(b, ['task', 'claim', '--agent', 'agent-2'], 3); // agent-2 cannot review
    expect(claim('agent-6').id).toBe(review.id); // Feedback reviews
  });

  it('never hands out two tasks whose resources overlap at the same time', () => {
    const first = b.add('edit src', '--resource', 'src/**');
    const second = b.add('edit a file in src', '--resource', 'src/cli.ts');
    const other = b.add('edit docs', '--resource', 'docs/**');
    expect(claim('agent-2').id).toBe(first.id);
    expect(claim('agent-3').id).toBe(other.id);
    expectRefused(b, ['task', 'claim', '--agent', 'agent-4'], 3);
    expectRefused(b, ['task', 'claim', '--agent', 'agent-4', '--task', second.id], 4, /resources/);
    b.json('task', 'complete', first.id, '--agent', 'agent-2');
    expect(claim('agent-4').id).toBe(second.id);
  });

  it('claims a named task with --task, and refuses one that is not ready (exit 4)', () => {
    const a = b.add('a');
    const c = b.add('c');
    const held = b.add('held', '--hold');
    expect(claim('agent-2', '--task', c.id).id).toBe(c.id);
    expectRefused(b, ['task', 'claim', '--agent', 'agent-3', '--task', held.id], 4, /only a ready task/);
    expectRefused(b, ['task', 'claim', '--agent', 'agent-3', '--task', c.id], 4, /is working/);
    expect(b.get(a.id).status).toBe('ready');
  });

  it('refuses an unknown agent with exit 3, changing nothing', () => {
    b.add('x');
    expectRefused(b, ['task', 'claim', '--agent', 'agent-99'], 3, /no agent "agent-99"/);
    expectJsonError(b.run('task', 'claim', '--agent', 'agent-99', '--json'), 3, 'E_NOT_FOUND');
    expectRefused(b, ['task', 'claim'], 2, /--agent/);
  });

  it('renews the lease for its holder only', () => {
    const t = b.add('long job');
    const c = claim('agent-2');
    const r = b.json<Task>('task', 'renew', t.id, '--agent', 'agent-2');
    expect(r.lease?.owner).toBe('agent-2');
    expect(Date.parse(r.lease!.expiresAt)).toBeGreaterThan(Date.parse(c.lease!.expiresAt));
    expect(r.status).toBe('working');
    expect(r.history).toEqual(c.history); // a heartbeat is not a transition
    expectRefused(b, ['task', 'renew', t.id, '--agent', 'agent-3'], 4, /held by agent-2, not agent-3/);
    expectRefused(b, ['task', 'renew', t.id, '--agent', 'nobody'], 3, /no agent "nobody"/);
    const idle = b.add('idle');
    expectRefused(b, ['task', 'renew', idle.id, '--agent', 'agent-2'], 4, /only a working task/);
  });

  it('in a driven program, complete, fail and renew check the lease of DREAMOS_AGENT_ID', () => {
    const t = b.add('agent-3 works on it');
    claim('agent-3');
    const asAgent2 = { env: { DREAMOS_AGENT_ID: 'agent-2' } };
    for (const args of [
      ['task', 'complete', t.id],
      ['task', 'fail', t.id, '--reason', 'sabotage'],
      ['task', 'renew', t.id],
    ])
      expectRefused(b, args, 4, /held by agent-3, not agent-2/, asAgent2);
    expectRefused(b, ['task', 'renew', t.id], 2, /name the agent holding the lease: --agent ID/);
    const own = dreamos(['task', 'complete', t.id, '--json'], {
      cwd: b.dir,
      env: { DREAMOS_AGENT_ID: 'agent-3' },
    });
    expect(own.code, show(own)).toBe(0);
    expect(own.json<Task>()).toMatchObject({ status: 'done' });
  });

  it('returns a task whose lease expired to ready as a stall, and fails it after too many stalls', async () => {
    setPolicies(b, { leaseSeconds: 0.001, maxStalls: 2 });
    const t = b.add('hangs');
    claim('agent-2');
    await new Promise((r) => setTimeout(r, 20));
    const again = claim('agent-3'); // the claim first returns the expired task to ready
    expect(again).toMatchObject({ id: t.id, agent: 'agent-3', stalls: 1, attempts: 2 });
    expect(
      again.history.some((h) => h.from === 'working' && h.to === 'ready' && /expired/.test(h.why ?? '')),
    ).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    expectError(b.run('task', 'claim', '--agent', 'agent-4'), 3);
    const failed = b.get(t.id);
    expect(failed).toMatchObject({ status: 'failed', stalls: 2, lease: null });
    expect(failed.result?.errorCode).toBe('E_STALLED');
  });
});

describe('lease fencing tokens', () => {
  const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  it('refuses a late complete, fail or renew from a lease that ran out (exit 4), changing nothing', async () => {
    setPolicies(b, { leaseSeconds: 0.001 });
    const t = b.add('slow');
    const c = claim('agent-2');
    const token = String(c.lease!.token);
    await new Promise((r) => setTimeout(r, 20));
    const expired = new RegExp(`lease of agent-2 on ${t.id} expired at ${literal(c.lease!.expiresAt)}`);
    const flags = ['--agent', 'agent-2', '--lease-token', token];
    expectRefused(b, ['task', 'complete', t.id, ...flags], 4, expired);
    expectRefused(b, ['task', 'fail', t.id, '--reason', 'late', ...flags], 4, expired);
    expectRefused(b, ['task', 'renew', t.id, ...flags], 4, expired);
    // A driven program's own lease, from the environment its driver set.
    const driven = {
      env: { DREAMOS_AGENT_ID: 'agent-2', DREAMOS_TASK_ID: t.id, DREAMOS_LEASE_TOKEN: token },
    };
    expectRefused(b, ['task', 'complete', t.id], 4, expired, driven);
    const json = dreamos(['task', 'complete', t.id, ...flags, '--json'], { cwd: b.dir });
    expectJsonError(json, 4, 'E_CONFLICT', expired);
    expect(b.get(t.id)).toEqual(c);
    // The operator may still complete it.
    expect(b.json<Task>('task', 'complete', t.id).status).toBe('done');
  });

  it('refuses a report with the token of an earlier claim after a retry and a new claim', () => {
    const t = b.add('twice', '--max-attempts', '3');
    const first = claim('agent-2');
    const old = String(first.lease!.token);
    b.json('task', 'fail', t.id, '--agent', 'agent-2', '--lease-token', old, '--reason', 'flaky');
    b.json('task', 'retry', t.id);
    const second = claim('agent-2');
    expect(second.lease!.token).toBeGreaterThan(first.lease!.token!);
    const again = new RegExp(`${t.id} was claimed again by agent-2 \\(lease ${second.lease!.token}\\)`);
    for (const args of [
      ['task', 'complete', t.id],
      ['task', 'fail', t.id, '--reason', 'late'],
      ['task', 'renew', t.id],
    ])
      expectRefused(b, [...args, '--agent', 'agent-2', '--lease-token', old], 4, again);
    const driven = { env: { DREAMOS_AGENT_ID: 'agent-2', DREAMOS_TASK_ID: t.id, DREAMOS_LEASE_TOKEN: old } };
    expectRefused(b, ['task', 'complete', t.id], 4, again, driven);
    expect(b.get(t.id)).toEqual(second);
    const own = dreamos(['task', 'complete', t.id, '--json'], {
      cwd: b.dir,
      env: { ...driven.env, DREAMOS_LEASE_TOKEN: String(second.lease!.token) },
    });
    expect(own.code, show(own)).toBe(0);
    expect(own.json<Task>()).toMatchObject({ status: 'done' });
  });

  it('refuses a lease token without the agent holding the lease, and a malformed one (exit 2)', () => {
    const t = b.add('x');
    claim('agent-2');
    expectRefused(
      b,
      ['task', 'complete', t.id, '--lease-token', '1'],
      2,
      /--lease-token goes with the agent/,
    );
    expectRefused(
      b,
      ['task', 'complete', t.id, '--agent', 'agent-2', '--lease-token', 'x'],
      2,
      /--lease-token/,
    );
  });
});

describe('task complete', () => {
  it('marks a working task done with its summary and exit code', () => {
    const t = b.add('build');
    claim('agent-2');
    const d = b.json<Task>(
      'task',
      'complete',
      t.id,
      '--agent',
      'agent-2',
      '--summary',
      'built',
      '--exit-code',
      '0',
    );
    expect(d).toMatchObject({
      status: 'done',
      lease: null,
      result: { ok: true, summary: 'built', exitCode: 0 },
    });
    expect(d.history.at(-1)).toMatchObject({ from: 'working', to: 'done', by: 'agent-2' });
    expect(b.list('--status', 'done').map((x) => x.id)).toEqual([t.id]);
  });

  it('promotes dependents whose dependencies are now all done, in the same journal entry', () => {
    const a = b.add('a');
    const c = b.add('c');
    const after = b.add('after a and c', '--depends-on', a.id, '--depends-on', c.id);
    claim('agent-2', '--task', a.id);
    claim('agent-3', '--task', c.id);
    b.json('task', 'complete', a.id);
    expect(b.get(after.id).status).toBe('backlog'); // c is not done yet
    b.json('task', 'complete', c.id);
    expect(b.get(after.id).status).toBe('ready');
    const log = b.json<JournalEntry[]>('log');
    const last = log.at(-1)!;
    expect(last.op).toBe('complete');
    expect(last.tasks?.map((p) => `${p.task.id}:${p.task.status}`).sort()).toEqual(
      [`${c.id}:done`, `${after.id}:ready`].sort(),
    );
  });

  it('refuses to complete a task that is not working, or that another agent holds (exit 4)', () => {
    const t = b.add('t');
    expectRefused(b, ['task', 'complete', t.id], 4, /only a working task can be completed/);
    claim('agent-2');
    expectRefused(b, ['task', 'complete', t.id, '--agent', 'agent-3'], 4, /held by agent-2/);
    expectRefused(b, ['task', 'complete', t.id, '--agent', 'ghost'], 3, /no agent "ghost"/);
    expectRefused(b, ['task', 'complete', 'T-00ZZZ'], 3, /no task T-00ZZZ/);
    b.json('task', 'complete', t.id, '--agent', 'agent-2');
    expectRefused(b, ['task', 'complete', t.id], 4, /is done/);
  });
});

describe('task fail and retry', () => {
  it('retries a failed attempt after an exponential backoff, then dead-letters it after maxAttempts', () => {
    // A long backoff, so that no part of this test depends on how fast the machine is.
    setPolicies(b, { retry: { baseSeconds: 1000, maxSeconds: 100_000 } });
    const t = b.add('flaky', '--max-attempts', '3');
    const failOnce = (attempt: number) => {
      expect(claim('agent-2')).toMatchObject({ id: t.id, attempts: attempt });
      const f = b.json<Task>('task', 'fail', t.id, '--agent', 'agent-2', '--reason', `boom ${attempt}`);
      expect(f).toMatchObject({ lease: null, attempts: attempt });
      expect(f.result).toMatchObject({ ok: false, error: `boom ${attempt}` });
      return f;
    };
    for (const attempt of [1, 2]) {
      const f = failOnce(attempt);
      expect(f).toMatchObject({ status: 'ready', agent: null });
      // base·2^(attempt-1), scaled by a random factor in [0.5, 1)
      const delay = (Date.parse(f.notBefore!) - Date.parse(f.history.at(-1)!.at)) / 1000;
      const full = 1000 * 2 ** (attempt - 1);
      expect(delay).toBeGreaterThanOrEqual(full * 0.5);
      expect(delay).toBeLessThan(full);
      // Still backing off: nothing to claim, and the task cannot be claimed by name either.
      expectRefused(b, ['task', 'claim', '--agent', 'agent-2'], 3);
      expectRefused(b, ['task', 'claim', '--agent', 'agent-2', '--task', t.id], 4, /waits to retry/);
      const now = b.json<Task>('task', 'retry', t.id); // the operator: retry now
      expect(now).toMatchObject({ status: 'ready', notBefore: null, attempts: attempt });
    }
    const last = failOnce(3);
    expect(last).toMatchObject({ status: 'failed', agent: 'agent-2' }); // who tried last stays on record
    expect(last.history.at(-1)?.why).toMatch(/attempt 3 of 3 failed: boom 3/);
    expectRefused(b, ['task', 'claim', '--agent', 'agent-2'], 3);
    const ops = b.json<JournalEntry[]>('log', '--task', t.id).map((e) => e.op);
    expect(ops).toEqual(['add', 'claim', 'fail', 'retry', 'claim', 'fail', 'retry', 'claim', 'fail']);
  });

  it('fails for good at once with --final', () => {
    const t = b.add('broken', '--max-attempts', '5');
    claim('agent-2');
    const f = b.json<Task>('task', 'fail', t.id, '--reason', 'cannot work', '--final', '--exit-code', '2');
    expect(f).toMatchObject({ status: 'failed', attempts: 1, result: { ok: false, exitCode: 2 } });
  });

  it('needs a reason, a working task and the lease holder', () => {
    const t = b.add('t');
    expectRefused(b, ['task', 'fail', t.id, '--reason', 'x'], 4, /only a working task can be failed/);
    claim('agent-2');
    expectRefused(b, ['task', 'fail', t.id], 2, /--reason/);
    expectRefused(b, ['task', 'fail', t.id, '--reason', '   '], 2, /needs a reason/);
    expectRefused(b, ['task', 'fail', t.id, '--reason', 'x', '--agent', 'agent-7'], 4, /held by agent-2/);
  });

  it('sends a failed or cancelled task back to ready with its attempts reset', () => {
    const t = b.add('t', '--max-attempts', '1');
    claim('agent-2');
    expect(b.json<Task>('task', 'fail', t.id, '--reason', 'no').status).toBe('failed');
    const r = b.json<Task>('task', 'retry', t.id, '--why', 'fixed the env');
    expect(r).toMatchObject({ status: 'ready', attempts: 0, stalls: 0, notBefore: null, agent: null });
    expect(r.history.at(-1)).toMatchObject({ from: 'failed', to: 'ready', why: 'fixed the env' });
    b.json('task', 'cancel', t.id);
    expect(b.json<Task>('task', 'retry', t.id).status).toBe('ready');
  });

  it('retries a task into the backlog when its dependencies are not done', () => {
    const dep = b.add('dep');
    const t = b.add('t', '--depends-on', dep.id);
    b.json('task', 'cancel', t.id);
    expect(b.json<Task>('task', 'retry', t.id).status).toBe('backlog');
  });

  it('refuses to retry a task that is ready, working or done (exit 4)', () => {
    const t = b.add('t');
    expectRefused(b, ['task', 'retry', t.id], 4, /only a failed or cancelled task/);
    claim('agent-2');
    expectRefused(b, ['task', 'retry', t.id], 4, /is working/);
    b.json('task', 'complete', t.id);
    expectRefused(b, ['task', 'retry', t.id], 4, /is done/);
  });
});

describe('task cancel', () => {
  it('cancels a backlog, ready or working task; a working one loses its lease', () => {
    const a = b.add('a', '--hold');
    const c = b.add('c');
    const w = b.add('w');
    claim('agent-2', '--task', w.id);
    for (const t of [a, c, w]) {
      const x = b.json<Task>('task', 'cancel', t.id, '--why', 'not needed');
      expect(x).toMatchObject({ status: 'cancelled', lease: null });
      expect(x.history.at(-1)).toMatchObject({ to: 'cancelled', why: 'not needed' });
    }
    expect(b.list('--status', 'cancelled')).toHaveLength(3);
    expect(b.json<{ counts: Record<string, number> }>('status').counts.working).toBe(0);
  });

  it('leaves the dependents of a cancelled task waiting in the backlog', () => {
    const dep = b.add('dep');
    const t = b.add('t', '--depends-on', dep.id);
    b.json('task', 'cancel', dep.id);
    expect(b.get(t.id).status).toBe('backlog');
  });

  it('refuses to cancel a finished task (exit 4)', () => {
    const t = b.add('t');
    b.json('task', 'cancel', t.id);
    expectRefused(b, ['task', 'cancel', t.id], 4, /already cancelled/);
    expectJsonError(b.run('task', 'cancel', t.id, '--json'), 4, 'E_INVALID_TRANSITION');
  });
});

describe('task edit', () => {
  it('changes the fields it is given and nothing else', () => {
    const t = b.add('old title', '--tag', 'a', '--tag', 'b', '--priority', 'low', '--run', 'true');
    const e = b.json<Task>(
      'task',
      'edit',
      t.id,
      ...['--title', 'new title', '--priority', 'critical', '--tag', 'c', '--max-attempts', '7'],
      ...['--timeout', '2m', '--prompt', 'now with a prompt', '--resource', 'lib/**'],
    );
    expect(e).toMatchObject({
      id: t.id,
      title: 'new title',
      priority: 'critical',
      tags: ['c'],
      maxAttempts: 7,
      timeout: 120,
      prompt: 'now with a prompt',
      resources: ['lib/**'],
      run: 'true',
      status: 'ready',
    });
    expect(e.history).toEqual(t.history);
    expect(b.get(t.id)).toEqual(e);
  });

  it('sends a ready task back to the backlog when it gains an unfinished dependency', () => {
    const dep = b.add('dep');
    const t = b.add('t');
    const e = b.json<Task>('task', 'edit', t.id, '--depends-on', dep.id);
    expect(e).toMatchObject({ status: 'backlog', dependsOn: [dep.id] });
  });

  it('refuses an empty edit (exit 2), a finished task (exit 4) and new dependencies of a working task (exit 4)', () => {
    const t = b.add('t');
    const other = b.add('other');
    expectRefused(b, ['task', 'edit', t.id], 2, /nothing to change/);
    claim('agent-2', '--task', t.id);
    expectRefused(b, ['task', 'edit', t.id, '--depends-on', other.id], 4, /dependencies cannot change now/);
    expect(b.json<Task>('task', 'edit', t.id, '--title', 'renamed while working').title).toBe(
      'renamed while working',
    );
    b.json('task', 'complete', t.id);
    expectRefused(b, ['task', 'edit', t.id, '--title', 'too late'], 4, /finished task cannot be edited/);
  });
});

describe('task import', () => {
  it('adds every task of a JSON array in one journal entry, in order', () => {
    const file = writeJson(b, 'tasks.json', [
      { title: 'one', run: 'true' },
      { title: 'two', priority: 'high', tags: ['x'] },
      { title: 'three', hold: true, maxAttempts: 1, timeout: '5m' },
    ]);
    const before = b.json<{ seq: number }>('status').seq;
    const tasks = b.json<Task[]>('task', 'import', file);
    expect(tasks.map((t) => t.title)).toEqual(['one', 'two', 'three']);
    expect(tasks.map((t) => t.status)).toEqual(['ready', 'ready', 'backlog']);
    expect(tasks.every((t) => t.source === 'import')).toBe(true);
    expect(tasks[2]).toMatchObject({ maxAttempts: 1, timeout: 300 });
    expect(b.list()).toEqual(tasks);
    const log = b.json<JournalEntry[]>('log');
    expect(log.at(-1)).toMatchObject({ seq: before + 1, op: 'import' });
    expect(log.at(-1)?.tasks).toHaveLength(3);
  });

  it('lets tasks of one import depend on each other through ref names, and on existing tasks', () => {
    const existing = b.add('existing');
    const file = writeJson(b, 'graph.json', [
      { title: 'test', ref: 'test', dependsOn: ['build'] }, // a forward reference
      { title: 'build', ref: 'build', dependsOn: [existing.id] },
      { title: 'ship', dependsOn: ['build', 'test'] },
    ]);
    const [test, build, ship] = b.json<Task[]>('task', 'import', file);
    expect(build!.dependsOn).toEqual([existing.id]);
    expect(test!.dependsOn).toEqual([build!.id]);
    expect(ship!.dependsOn).toEqual([build!.id, test!.id]);
    expect([test, build, ship].map((t) => t!.status)).toEqual(['backlog', 'backlog', 'backlog']);
    expect(b.list().every((t) => !('ref' in t))).toBe(true);
  });

  it('reads the array from stdin with -', () => {
    const r = dreamos(['task', 'import', '-', '--json'], {
      cwd: b.dir,
      input: JSON.stringify([{ title: 'from stdin' }]),
    });
    expect(r.code, show(r)).toBe(0);
    expect(r.json<Task[]>().map((t) => t.title)).toEqual(['from stdin']);
  });

  it('prints a summary for people', () => {
    const r = b.run('task', 'import', writeJson(b, 'two.json', [{ title: 'a' }, { title: 'b' }]));
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(/^imported 2 tasks: T-\w+ … T-\w+\n$/);
  });

  it('refuses the whole import when one element is bad, adding nothing', () => {
    b.add('already here');
    const good = { title: 'fine' };
    const cases: Array<[unknown[], number, RegExp]> = [
      [[good, { title: 'x', colour: 'red' }], 2, /task #2.*Unrecognized key: "colour"/],
      [[good, { title: '' }], 2, /task #2.*title/],
      [[good, { title: 'bad priority', priority: 'urgent' }], 2, /task #2.*priority/],
      [[good, { title: 'bad deps', dependsOn: ['T-00ZZZ'] }], 3, /dependency T-00ZZZ .*does not exist/],
      [[good, { title: 'bad ref', dependsOn: ['nowhere'] }], 2, /neither a task id .* nor the ref/],
      [[good, { title: 'bad role', role: 'astronaut' }], 3, /role or id "astronaut"/],
      [[good, { title: 'a', ref: 'same' }, { title: 'b', ref: 'same' }], 2, /ref "same"/],
      [[good, 'not an object'], 2, /task #2 .*not a JSON object/],
      [
        [
          { title: 'a', ref: 'a', dependsOn: ['b'] },
          { title: 'b', ref: 'b', dependsOn: ['a'] },
        ],
        4,
        /dependency cycle/,
      ],
    ];
    for (const [data, code, message] of cases) {
      expectRefused(b, ['task', 'import', writeJson(b, 'bad.json', data)], code, message);
    }
  });

  it('refuses input that is not a non-empty JSON array (exit 2) and a missing file (exit 3)', () => {
    expectRefused(b, ['task', 'import', writeJson(b, 'obj.json', { title: 'x' })], 2, /JSON array/);
    expectRefused(b, ['task', 'import', writeJson(b, 'empty.json', [])], 2, /no tasks/);
    expectRefused(b, ['task', 'import', writeText(b, 'broken.json', '[{"title": ')], 2, /not valid JSON/);
    expectRefused(b, ['task', 'import', 'no-such-file.json'], 3, /cannot read no-such-file.json/);
    expectJsonError(b.run('task', 'import', 'no-such-file.json', '--json'), 3, 'E_NOT_FOUND');
  });
});

// ------------------------------------------------------------------ local helpers

function writeText(b: Board, name: string, text: string): string {
  const file = path.join(b.dir, name);
  fs.writeFileSync(file, text);
  return file;
}

function writeJson(b: Board, name: string, data: unknown): string {
  return writeText(b, name, JSON.stringify(data));
}
