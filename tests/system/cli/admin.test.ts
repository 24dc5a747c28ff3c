/**
 * `dreamos status | log | doctor`, and the contract every command shares: exit codes, one-line errors
 * on stderr, JSON on stdout with --json, usage errors.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BoardSummary } from '../../../src/workspace.js';
import type { JournalEntry, Task } from '../../../state/schemas.js';
import { type Board, board, expectError, expectJsonError, setPolicies, show } from '../../helpers/cli.js';
import { BIN, collectOutput } from '../../helpers/workspace.js';

// Each test starts dozens of real processes: a loaded machine is slow, not wrong.
vi.setConfig({ testTimeout: 180_000 });

interface DoctorReport {
  ok: boolean;
  problems: Array<{ code: string; message: string; task?: string; path?: string; repaired?: boolean }>;
  repaired: string[];
}

let b: Board;
beforeEach(() => {
  b = board();
});
afterEach(() => b.cleanup());

/** A small board with a task in every stage: backlog, ready, working, done, failed, cancelled. */
function everyStage(): Record<string, Task> {
  const done = b.add('done');
  b.json('task', 'claim', '--agent', 'agent-2', '--task', done.id);
  b.json('task', 'complete', done.id, '--summary', 'ok');
  const failed = b.add('failed', '--max-attempts', '1');
  b.json('task', 'claim', '--agent', 'agent-2', '--task', failed.id);
  b.json('task', 'fail', failed.id, '--reason', 'broke');
  const cancelled = b.add('cancelled');
  b.json('task', 'cancel', cancelled.id);
  const working = b.add('working');
  b.json('task', 'claim', '--agent', 'agent-3', '--task', working.id);
  const ready = b.add('ready');
  const backlog = b.add('backlog', '--hold');
  return { done, failed, cancelled, working, ready, backlog };
}

describe('status', () => {
  it('counts every stage, lists the working tasks and the journal position', () => {
    const fresh = b.json<BoardSummary>('status');
    expect(fresh.counts).toEqual({
      backlog: 0,
      ready: 0,
      working: 0,
      review: 0,
      done: 0,
      failed: 0,
      cancelled: 0,
    });
    expect(fresh.agents).toBe(8);
    const t = everyStage();
    const s = b.json<BoardSummary>('status');
    expect(s.counts).toEqual({
      backlog: 1,
      ready: 1,
      working: 1,
      review: 0,
      done: 1,
      failed: 1,
      cancelled: 1,
    });
    expect(s.stores).toEqual({ backlog: 1, ready: 1, working: 1, completed: 3 });
    expect(s.working.map((w) => [w.id, w.agent])).toEqual([[t.working!.id, 'agent-3']]);
    expect(s.seq).toBeGreaterThan(fresh.seq);
    expect(s.openAlerts).toBe(0);
  });

  it('prints the same figures for people', () => {
    const t = everyStage();
    const r = b.run('status');
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toContain('backlog 1  ready 1  working 1  done 1  failed 1  cancelled 1');
    expect(r.stdout).toMatch(new RegExp(`${t.working!.id}\\s+agent-3\\s+working`));
    expect(r.stdout).toContain('open alerts: 0');
    expect(r.stderr).toBe('');
  });
});

describe('log', () => {
  it('shows every state change once, in order, with consecutive sequence numbers', () => {
    const t = b.add('logged');
    b.json('task', 'claim', '--agent', 'agent-2');
    b.json('task', 'complete', t.id);
    const log = b.json<JournalEntry[]>('log');
    expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => log[0]!.seq + i));
    expect(log.at(-1)!.seq).toBe(b.json<BoardSummary>('status').seq);
    expect(log.map((e) => e.op).slice(-3)).toEqual(['add', 'claim', 'complete']);
    expect(log[0]!.op).toBe('init');
    const last = log.at(-1)!;
    expect(last.by).toBe('operator');
    expect(last.tasks?.map((p) => [p.task.id, p.task.status])).toEqual([[t.id, 'done']]);
  });

  it('filters by task and keeps only the last --limit entries', () => {
    const a = b.add('a');
    const other = b.add('other');
    b.json('task', 'claim', '--agent', 'agent-2', '--task', a.id);
    b.json('task', 'cancel', other.id);
    b.json('task', 'complete', a.id);
    const mine = b.json<JournalEntry[]>('log', '--task', a.id);
    expect(mine.map((e) => e.op)).toEqual(['add', 'claim', 'complete']);
    expect(mine.every((e) => e.tasks?.some((p) => p.task.id === a.id))).toBe(true);
    const all = b.json<JournalEntry[]>('log');
    expect(b.json<JournalEntry[]>('log', '--limit', '2')).toEqual(all.slice(-2));
    expect(b.json<JournalEntry[]>('log', '--task', a.id, '--limit', '1').map((e) => e.op)).toEqual([
      'complete',
    ]);
    expect(b.json<JournalEntry[]>('log', '--task', 'T-00ZZZ')).toEqual([]);
  });

  it('--follow prints each new entry once, in order, until ctrl-c', async () => {
    const before = b.json<JournalEntry[]>('log').at(-1)!.seq;
    const child = spawn(process.execPath, [BIN, 'log', '--follow', '--json'], { cwd: b.dir });
    const out = collectOutput(child);
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const lines = () =>
      out
        .stdout()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as JournalEntry);
    const deadline = Date.now() + 60_000;
    const waitFor = async (what: string, probe: () => boolean) => {
      while (!probe()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${out.stderr()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await waitFor('the follower', () => out.stderr().includes('following the journal'));
    const t = b.add('followed');
    b.json('task', 'claim', '--agent', 'agent-2', '--task', t.id);
    b.json('task', 'complete', t.id);
    await waitFor('three entries', () => lines().some((e) => e.op === 'complete'));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const followed = lines();
    expect(followed.slice(0, before).map((e) => e.seq)).toEqual([...Array(before).keys()].map((i) => i + 1));
    expect(followed.slice(before).map((e) => [e.seq, e.op])).toEqual([
      [before + 1, 'add'],
      [before + 2, 'claim'],
      [before + 3, 'complete'],
    ]);
  });

  it('prints one line per entry for people', () => {
    const t = b.add('one line each');
    const r = b.run('log', '--limit', '1');
    expect(r.code, show(r)).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^\\s*\\d+  \\S+  add\\s+by operator\\s+${t.id}:ready$`));
  });

  it('--limit reads from the end: an early segment it does not need is never read', () => {
    const a = b.add('first');
    const c = b.add('second');
    const all = b.json<JournalEntry[]>('log');
    // The journal moves to segment 2, and segment 1 becomes something no reader can read (a
    // folder): a reader that starts from the beginning fails, one that reads from the end does not.
    const journal = path.join(b.dir, '.dreamos', 'journal');
    fs.renameSync(path.join(journal, '000001.jsonl'), path.join(journal, '000002.jsonl'));
    fs.mkdirSync(path.join(journal, '000001.jsonl'));
    expect(b.json<JournalEntry[]>('log', '--limit', '2')).toEqual(all.slice(-2));
    expect(b.json<JournalEntry[]>('log', '--limit', '1', '--task', a.id).map((e) => e.op)).toEqual(['add']);
    expect(b.run('log', '--limit', '1').stdout).toContain(`${c.id}:ready`);
  });

  it('refuses a bad --limit (exit 2)', () => {
    for (const limit of ['0', '-1', 'ten', '1.5']) expectError(b.run('log', '--limit', limit), 2, /--limit/);
  });
});

describe('doctor', () => {
  it('counts in words that agree with the numbers: one task, one agent', () => {
    b.add('only', '--run', 'true');
    expect(b.run('doctor').stdout).toMatch(/^ok: 1 task, journal seq \d+\n$/);
    // One agent whose driver's program is missing.
    const file = path.join(b.dir, '.dreamos', 'config.json');
    const config = JSON.parse(fs.readFileSync(file, 'utf8'));
    config.agents[0].driver = { kind: 'command', argv: ['dreamos-no-such-program', '{prompt}'] };
    fs.writeFileSync(file, JSON.stringify(config, null, 2));
    const r = b.run('doctor');
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toContain('drivers: 1 of 8 agents cannot run its tasks here:');
    expect(r.stdout).not.toContain('(s)');
  });

  it('reports a healthy workspace as { ok: true, problems: [] } with exit 0', () => {
    const empty = b.json<DoctorReport>('doctor');
    expect(empty).toMatchObject({ ok: true, problems: [] });
    everyStage();
    const busy = b.json<DoctorReport>('doctor');
    expect(busy).toMatchObject({ ok: true, problems: [], repaired: [] });
    const r = b.run('doctor');
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(/^ok: 6 tasks, journal seq \d+\n$/);
  });

  it('finds an expired lease (exit 6), and --repair returns the task to ready as a stall', async () => {
    setPolicies(b, { leaseSeconds: 0.001 });
    const t = b.add('abandoned');
    b.json('task', 'claim', '--agent', 'agent-2');
    await new Promise((r) => setTimeout(r, 20));
    const r = b.run('doctor', '--json');
    expect(r.code, show(r)).toBe(6);
    const report = r.json<DoctorReport>();
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([expect.objectContaining({ code: 'expired-lease', task: t.id })]);
    expect(b.get(t.id).status).toBe('working'); // doctor without --repair changes nothing
    const human = b.run('doctor');
    expect(human.code).toBe(6);
    expect(human.stdout).toContain('PROBLEM  expired-lease');
    expect(human.stdout).toContain('dreamos doctor --repair');

    const fixed = b.run('doctor', '--repair', '--json');
    expect(fixed.code, show(fixed)).toBe(0);
    expect(fixed.json<DoctorReport>()).toMatchObject({
      ok: true,
      repaired: [expect.stringMatching(/1 task/)],
    });
    expect(b.get(t.id)).toMatchObject({ status: 'ready', stalls: 1, lease: null, agent: null });
    expect(b.json<DoctorReport>('doctor')).toMatchObject({ ok: true, problems: [] });
  });

  it('reports a board file that was damaged and rebuilt, and loses no task', () => {
    const t = everyStage();
    const before = b.list();
    fs.writeFileSync(path.join(b.dir, '.dreamos', 'boards', 'task_ready_queue.json'), 'garbage');
    const r = b.run('doctor', '--json');
    const report = r.json<DoctorReport>();
    expect(report.problems.length, show(r)).toBeGreaterThan(0);
    expect(report.problems.every((p) => p.repaired === true)).toBe(true);
    expect(b.list()).toEqual(before);
    expect(b.get(t.ready!.id).status).toBe('ready');
    expect(fs.readdirSync(path.join(b.dir, '.dreamos', 'quarantine')).length).toBeGreaterThan(0);
    expect(b.json<DoctorReport>('doctor')).toMatchObject({ ok: true });
  });
});

describe('a stray file name in mailboxes/ or checkpoints/', () => {
  it('is skipped by every command, reported by doctor and moved to quarantine by --repair', () => {
    b.run('mail', 'send', '--to', 'agent-3', 'hello');
    const home = path.join(b.dir, '.dreamos');
    const copy = path.join(home, 'mailboxes', 'agent-3 (1).json');
    fs.copyFileSync(path.join(home, 'mailboxes', 'agent-3.json'), copy);
    fs.writeFileSync(path.join(home, 'checkpoints', 'x\u001b[2J.json'), '{}');
    for (const args of [
      ['status'],
      ['task', 'add', 'after', '--run', 'true'],
      ['mail', 'list', '--agent', 'agent-3'],
    ]) {
      const r = b.run(...args);
      expect(r.code, show(r)).toBe(0);
      expect(r.stderr).toBe('');
    }
    const doctor = b.run('doctor', '--json');
    expect(doctor.code, show(doctor)).toBe(6);
    const problems = doctor.json<DoctorReport>().problems;
    expect(problems.map((p) => [p.code, path.basename(p.path ?? '')]).sort()).toEqual([
      ['stray-file', 'agent-3 (1).json'],
      ['stray-file', 'x\u001b[2J.json'],
    ]);
    expect(b.run('doctor').stdout).not.toContain('\u001b');
    const repair = b.run('doctor', '--repair', '--json');
    expect(repair.code, show(repair)).toBe(0);
    expect(fs.existsSync(copy)).toBe(false);
    const kept = fs.readdirSync(path.join(home, 'quarantine'));
    expect(kept.filter((n) => n.endsWith('-agent-3 (1).json'))).toHaveLength(1);
    expect(b.json<DoctorReport>('doctor')).toMatchObject({ ok: true, problems: [] });
  });
});

describe('a folder with the name of a state file', () => {
  it('is skipped or rebuilt by every command, reported by doctor and moved aside by --repair', () => {
    const backlog = b.add('held', '--hold');
    b.run('mail', 'send', '--to', 'agent-2', 'hello');
    const home = path.join(b.dir, '.dreamos');
    const mailbox = path.join(home, 'mailboxes', 'agent-9.json');
    const checkpoint = path.join(home, 'checkpoints', 'agent-2.json');
    const board = path.join(home, 'boards', 'task_backlog.json');
    fs.mkdirSync(mailbox);
    fs.mkdirSync(checkpoint);
    fs.rmSync(board);
    fs.mkdirSync(board);
    const status = b.run('status');
    expect(status.code, show(status)).toBe(0);
    expect(status.stderr).toMatch(
      /task_backlog\.json is corrupt: it is a folder, not a file; shown as rebuilt/,
    );
    expect(b.list().map((t) => t.id)).toEqual([backlog.id]);
    const mail = b.run('mail', 'list', '--agent', 'agent-2');
    expect(mail.code, show(mail)).toBe(0);
    expect(mail.stdout).toContain('hello');
    const doctor = b.run('doctor', '--json');
    expect(doctor.code, show(doctor)).toBe(6);
    const strays = doctor.json<DoctorReport>().problems.filter((p) => p.code === 'stray-file');
    expect(strays.map((p) => p.path).sort()).toEqual([checkpoint, mailbox]);
    expect(strays[0]!.message).toContain('is a folder');
    const repair = b.run('doctor', '--repair', '--json');
    expect(repair.code, show(repair)).toBe(0);
    expect([mailbox, checkpoint].filter((p) => fs.existsSync(p))).toEqual([]);
    expect(fs.statSync(board).isFile()).toBe(true);
    expect(b.json<DoctorReport>('doctor')).toMatchObject({ ok: true, problems: [] });
    expect(b.list().map((t) => t.id)).toEqual([backlog.id]);
  });
});

describe('the command-line contract', () => {
  it('exits 2 on usage errors, with one line on stderr, and JSON on stdout with --json', () => {
    expectError(b.run('task', 'add'), 2, /missing required argument 'title'/);
    expectError(b.run('task', 'claim'), 2, /required option '--agent <id>' not specified/);
    expectError(b.run('task', 'list', '--colour'), 2, /unknown option '--colour'/);
    expectError(b.run('frobnicate'), 2, /unknown command 'frobnicate'/);
    expectError(b.run('task', 'frobnicate'), 2, /unknown command 'frobnicate'/);
    expectJsonError(b.run('task', 'claim', '--json'), 2, 'E_USAGE', /--agent/);
    expectJsonError(
      b.run('--json', 'task', 'add', 'x', '--priority', 'soon'),
      2,
      'E_USAGE',
      /critical, high/,
    );
  });

  it('prints help and the version with exit 0', () => {
    for (const args of [['--help'], ['task', '--help'], ['task', 'add', '--help']]) {
      const r = b.run(...args);
      expect(r.code, show(r)).toBe(0);
      expect(r.stdout).toMatch(/^Usage: dreamos/);
    }
    const v = b.run('--version');
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('treats a command group without a subcommand as a usage error', () => {
    const r = b.run('task');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Usage: dreamos task');
  });

  it('keeps stderr empty and stdout pure JSON when a command succeeds with --json', () => {
    const t = b.add('quiet');
    for (const args of [
      ['task', 'show', t.id],
      ['task', 'list'],
      ['status'],
      ['log'],
      ['doctor'],
      ['task', 'claim', '--agent', 'agent-2'],
      ['task', 'complete', t.id],
    ]) {
      const r = b.run(...args, '--json');
      expect(r.code, show(r)).toBe(0);
      expect(r.stderr, args.join(' ')).toBe('');
      expect(() => JSON.parse(r.stdout), args.join(' ')).not.toThrow();
    }
  });

  it('uses the documented exit code for each kind of failure', () => {
    const t = b.add('t');
    const cases: Array<[string[], number, string]> = [
      [['task', 'show', 'nonsense'], 2, 'E_INVALID_INPUT'],
      [['task', 'show', 'T-00ZZZ'], 3, 'E_NOT_FOUND'],
      [['task', 'claim', '--agent', 'agent-42'], 3, 'E_NOT_FOUND'],
      [['task', 'complete', t.id], 4, 'E_INVALID_TRANSITION'],
      [['task', 'edit', t.id, '--depends-on', t.id], 4, 'E_CYCLE'],
    ];
    for (const [args, code, error] of cases) {
      expectError(b.run(...args), code);
      expectJsonError(b.run(...args, '--json'), code, error);
    }
    b.json('task', 'claim', '--agent', 'agent-2');
    expectJsonError(b.run('task', 'claim', '--agent', 'agent-2', '--json'), 3, 'E_NOTHING_TO_CLAIM');
    expectJsonError(b.run('task', 'complete', t.id, '--agent', 'agent-3', '--json'), 4, 'E_CONFLICT');
  });

  it('stops with exit 6 when config.json is broken, and doctor --repair restores it', () => {
    const config = path.join(b.dir, '.dreamos', 'config.json');
    fs.writeFileSync(config, '{ "schemaVersion": 1, "agents": "none" }');
    expectError(b.run('task', 'list'), 6, /config\.json.*doctor --repair/);
    expectJsonError(b.run('status', '--json'), 6, 'E_CORRUPT');
    const repaired = b.run('doctor', '--repair', '--json');
    expect(repaired.code, show(repaired)).toBe(0);
    expect(repaired.json<DoctorReport>().problems).toEqual([
      expect.objectContaining({ code: 'config', repaired: true }),
    ]);
    expect(b.json<BoardSummary>('status').agents).toBe(8);
  });
});
