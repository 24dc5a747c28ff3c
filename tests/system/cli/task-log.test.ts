/**
 * `dreamos task log ID [--follow]`: the captured output of the real shell driver, cleaned of terminal
 * control sequences; --follow streams it until the task ends; clear errors without a task or a log.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Board, board, expectError, show } from '../../helpers/cli.js';
import { BIN, cliAsync, collectOutput } from '../../helpers/workspace.js';

let b: Board;
beforeEach(() => {
  b = board();
});
afterEach(() => b.cleanup());

const waitFor = async (what: string, probe: () => boolean, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('task log', () => {
  it('refuses an unknown task, a bad id and a task with no log yet, in one line each', () => {
    expectError(b.run('task', 'log', 'T-99999'), 3, /no task T-99999/);
    expectError(b.run('task', 'log', 'nope'), 2, /not a task id/);
    const t = b.add('not run yet', '--run', 'true');
    expectError(b.run('task', 'log', t.id), 3, new RegExp(`${t.id} has no log yet: it is ready`));
    const json = b.run('task', 'log', t.id, '--json');
    expect(json.code).toBe(3);
    expect(json.json<{ error: { code: string } }>().error.code).toBe('E_NOT_FOUND');
  });

  it("prints a run's output, stdout and stderr, without terminal control sequences", () => {
    const t = b.add(
      'noisy',
      '--run',
      String.raw`printf 'plain\n\033[31mred\033[0m \033]0;title\007done\n::dreamos {"progress":0.5}\n'; echo oops >&2`,
    );
    const run = b.run('run', '--until-idle');
    expect(run.code, show(run)).toBe(0);
    const r = b.run('task', 'log', t.id);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toBe('plain\nred done\noops\n');
    const json = b.json<{ status: string; logs: Array<{ agent: string; path: string; lines: string[] }> }>(
      'task',
      'log',
      t.id,
    );
    expect(json.status).toBe('done');
    expect(json.logs).toHaveLength(1);
    expect(json.logs[0]!.path).toMatch(new RegExp(`^logs/agent-\\d/${t.id}\\.log$`));
    expect(json.logs[0]!.lines).toEqual(['plain', 'red done', 'oops']);
  });

  it('never prints the target of a log replaced by a symbolic link, and says so', () => {
    const secret = path.join(b.dir, 'secret.txt');
    fs.writeFileSync(secret, 'TOP-SECRET-VALUE\n');
    const t = b.add('linked', '--run', 'echo hello');
    const run = b.run('run', '--until-idle');
    expect(run.code, show(run)).toBe(0);
    const [agent] = fs.readdirSync(path.join(b.dir, '.dreamos', 'logs'));
    const log = path.join(b.dir, '.dreamos', 'logs', agent!, `${t.id}.log`);
    fs.rmSync(log);
    fs.symlinkSync(secret, log);
    const r = b.run('task', 'log', t.id);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).not.toContain('TOP-SECRET');
    expect(r.stdout).toMatch(/this log is a symbolic link, which is never followed/);

    // A link in place of another agent's folder: not entered at all.
    const elsewhere = path.join(b.dir, 'elsewhere');
    fs.mkdirSync(elsewhere);
    fs.writeFileSync(path.join(elsewhere, `${t.id}.log`), 'TOP-SECRET-TOO\n');
    fs.symlinkSync(elsewhere, path.join(b.dir, '.dreamos', 'logs', 'agent-zz'));
    const again = b.run('task', 'log', t.id);
    expect(again.code, show(again)).toBe(0);
    expect(again.stdout).not.toContain('TOP-SECRET');
  });

  it('the attention hint of a failed task points to its log, and that command prints it', () => {
    const t = b.add('broken', '--run', 'echo it broke; exit 3', '--max-attempts', '1');
    b.run('run', '--until-idle');
    const items = b.json<Array<{ task?: string; action: string }>>('attention');
    const item = items.find((i) => i.task === t.id);
    expect(item?.action).toContain(`\`dreamos task log ${t.id}\``);
    const r = b.run('task', 'log', t.id);
    expect(r.stdout, show(r)).toBe('it broke\n');
  });

  it('--follow waits for the task, streams its output as it is written and ends with it', async () => {
    // The task writes `one`, then waits for a file that the test creates once the follower printed it.
    const t = b.add('slow', '--run', 'echo one; while [ ! -f go ]; do sleep 0.05; done; echo two');
    const follower = spawn(process.execPath, [BIN, 'task', 'log', t.id, '--follow'], { cwd: b.dir });
    const out = collectOutput(follower);
    const followed = new Promise<number | null>((resolve) => follower.on('close', resolve));
    const runner = cliAsync(['run', '--until-idle'], { cwd: b.dir });
    await waitFor('the first line, followed', () => out.stdout().includes('one\n'));
    expect(out.stdout()).toBe('one\n');
    fs.writeFileSync(path.join(b.dir, 'go'), '');
    const ran = await runner;
    expect(ran.code, show(ran)).toBe(0);
    expect(await followed).toBe(0);
    expect(out.stdout()).toBe('one\ntwo\n');
    expect(out.stderr()).toMatch(new RegExp(`${t.id} ended done\n`));
  }, 60_000);

  it('--follow stops on ctrl-c, and refuses a finished task that left no log', async () => {
    const held = b.add('held', '--run', 'true', '--hold');
    const child = spawn(process.execPath, [BIN, 'task', 'log', held.id, '--follow'], { cwd: b.dir });
    const out = collectOutput(child);
    await waitFor('the follower to wait', () => out.stderr().includes(`waiting for ${held.id} to start`));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out.stdout()).toBe('');

    b.run('task', 'cancel', held.id);
    expectError(b.run('task', 'log', held.id, '--follow'), 3, /is cancelled and no agent wrote output/);
  }, 60_000);

  it('--follow refuses a task nobody can take instead of waiting for ever', () => {
    // A fresh workspace has shell agents only: nobody takes a prompt task.
    const p = b.add('p', '--prompt', 'hi');
    const r = b.run('task', 'log', p.id, '--follow');
    expectError(
      r,
      3,
      new RegExp(
        `^dreamos: ${p.id} will not start: it is ready and nobody can take it: no agent takes prompt tasks`,
      ),
    );
    expect(r.stderr).toContain(`--run CMD`);
    // Only a paused agent may take it: the same, naming it and how to resume it.
    const t = b.add('tests', '--run', 'true', '--role', 'testing');
    expect(b.run('agent', 'pause', 'agent-8').code).toBe(0);
    expectError(
      b.run('task', 'log', t.id, '--follow'),
      3,
      /will not start: .*only agent-8 may take it, and it is paused; `dreamos agent resume agent-8`/,
    );
  });

  it('--follow says how a followed task ended', async () => {
    const t = b.add('broken', '--run', 'echo it broke; exit 3', '--max-attempts', '1');
    const follower = spawn(process.execPath, [BIN, 'task', 'log', t.id, '--follow'], { cwd: b.dir });
    const out = collectOutput(follower);
    const followed = new Promise<number | null>((resolve) => follower.on('close', resolve));
    await waitFor('the follower to wait', () => out.stderr().includes(`waiting for ${t.id} to start`));
    const ran = await cliAsync(['run', '--until-idle'], { cwd: b.dir });
    expect(ran.code, show(ran)).toBe(7);
    expect(await followed).toBe(0);
    expect(out.stdout()).toBe('it broke\n');
    expect(out.stderr()).toMatch(new RegExp(`${t.id} ended failed\n`));
  }, 60_000);
});
