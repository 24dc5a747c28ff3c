/**
 * The shell driver and the process supervisor, with real child processes: outcomes, output
 * streaming and the log cap, `::dreamos` lines, and the invariant that matters most: when a run
 * is done, nothing it started is still running.
 */
import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDriver } from '../../../agents/drivers/index.js';
import type { DriverRun } from '../../../agents/drivers/types.js';
import { groupAlive } from '../../../agents/platform/process.js';
import { makeContext, makeTask, waitFor, waitGone } from '../../helpers/agents.js';
import { tempDir } from '../../helpers/workspace.js';

let dir: string;
let cleanup: () => void;
const runs: DriverRun[] = [];

beforeEach(() => {
  ({ dir, cleanup } = tempDir('dreamos-shell-'));
});
afterEach(async () => {
  // Never leave a process behind, even when a test fails half-way.
  await Promise.all(runs.splice(0).map((run) => run.stop('shutdown')));
  cleanup();
});

const shell = createDriver({ kind: 'shell', shell: '/bin/sh' });

function start(run: string, extra: Parameters<typeof makeContext>[1] = {}, driver = shell) {
  const { ctx, rec } = makeContext(dir, { task: makeTask({ run }), ...extra });
  const handle = driver.start(ctx);
  runs.push(handle);
  return { ctx, rec, run: handle };
}

const pidsIn = (lines: { line: string }[]) =>
  lines.flatMap(({ line }) => {
    const match = /^pid (\d+)$/.exec(line);
    return match ? [Number(match[1])] : [];
  });

describe('shell driver', () => {
  it('accepts only tasks with a run command', () => {
    expect(shell.accepts(makeTask({ run: 'true' }))).toBe(true);
    expect(shell.accepts(makeTask())).toBe(false);
    expect(shell.accepts(makeTask({ run: '  ' }))).toBe(false);
  });

  it('runs the command in the working folder and succeeds on exit 0', async () => {
    fs.writeFileSync(`${dir}/marker.txt`, 'here\n');
    const { rec, run, ctx } = start('echo hello; cat marker.txt; echo oops >&2');
    const outcome = await run.done;
    expect(outcome).toMatchObject({ ok: true, exitCode: 0, summary: 'here' });
    expect(rec.lines).toEqual([
      { line: 'hello', stream: 'stdout' },
      { line: 'here', stream: 'stdout' },
      { line: 'oops', stream: 'stderr' },
    ]);
    expect(rec.spawns).toHaveLength(1);
    expect(rec.spawns[0]!.pgid).toBe(rec.spawns[0]!.pid);
    expect(fs.readFileSync(ctx.logPath, 'utf8')).toBe('hello\nhere\noops\n');
  });

  it('resolves a relative cwd of the driver against the workspace folder', async () => {
    fs.mkdirSync(`${dir}/sub`);
    const driver = createDriver({ kind: 'shell', shell: '/bin/sh', cwd: 'sub' });
    const { run } = start('pwd', {}, driver);
    const outcome = await run.done;
    expect(outcome.summary).toBe(fs.realpathSync(`${dir}/sub`));
  });

  it('reports a non-zero exit as E_EXIT with the exit code and the last error line', async () => {
    const { run } = start('echo "cannot find config" >&2; exit 3');
    expect(await run.done).toMatchObject({
      ok: false,
      errorCode: 'E_EXIT',
      exitCode: 3,
      error: 'exited with code 3: cannot find config',
    });
  });

  it('reports a process killed by a signal as E_CRASH', async () => {
    const { run } = start('echo going; kill -9 $$');
    expect(await run.done).toMatchObject({ ok: false, errorCode: 'E_CRASH', error: 'killed by SIGKILL' });
  });

  it('fails with E_SPAWN when the shell or the working folder does not exist', async () => {
    const missingShell = createDriver({ kind: 'shell', shell: '/nonexistent/sh' });
    const a = await start('true', {}, missingShell).run.done;
    expect(a).toMatchObject({ ok: false, errorCode: 'E_SPAWN' });
    expect(a.error).toContain('/nonexistent/sh');
    expect(a.error).toContain('ENOENT');
    const b = await start('true', { cwd: `${dir}/nope` }).run.done;
    expect(b).toMatchObject({ ok: false, errorCode: 'E_SPAWN' });
    expect(b.error).toContain('does not exist');
  });

  it('kills the whole group on timeout, SIGKILL when SIGTERM is ignored', async () => {
    // The shell and its child both ignore SIGTERM: only the SIGKILL after the grace period ends them.
    const { rec, run, ctx } = start(`trap '' TERM; echo "pid $$"; sleep 300 & echo "pid $!"; wait; wait`, {
      timeoutSeconds: 1,
    });
    const outcome = await run.done;
    expect(outcome).toMatchObject({ ok: false, errorCode: 'E_TIMEOUT' });
    const pids = pidsIn(rec.lines);
    expect(pids).toHaveLength(2);
    expect(await waitGone(pids)).toEqual([]);
    expect(groupAlive(rec.spawns[0]!.pgid)).toBe(false);
    expect(fs.readFileSync(ctx.logPath, 'utf8')).toContain('stopping (timeout)');
  });

  it('stop() ends the child and every grandchild, and settles only when they are gone', async () => {
    const script = [
      'echo "pid $$"',
      `sh -c 'echo "pid $$"; sleep 300 & echo "pid $!"; wait' &`,
      'sleep 300 & echo "pid $!"',
      'wait',
    ].join('\n');
    const { rec, run } = start(script);
    await waitFor(() => pidsIn(rec.lines).length === 4);
    await run.stop('cancel');
    const outcome = await run.done;
    expect(outcome).toMatchObject({ ok: false, errorCode: 'E_CANCELLED' });
    expect(await waitGone(pidsIn(rec.lines))).toEqual([]);
    expect(groupAlive(rec.spawns[0]!.pgid)).toBe(false);
  });

  it('stops processes a task leaves running after it exits', async () => {
    const { rec, run, ctx } = start('sleep 300 & echo "pid $!"; echo finished');
    const outcome = await run.done;
    expect(outcome).toMatchObject({ ok: true, summary: 'finished' });
    expect(await waitGone(pidsIn(rec.lines))).toEqual([]);
    expect(fs.readFileSync(ctx.logPath, 'utf8')).toContain('left running');
  });

  it('settles even when a process outside the group holds the output pipe', async () => {
    // setsid takes the sleep out of the group (it cannot be stopped through it) with the pipe still open.
    const { rec, run, ctx } = start('setsid sleep 30 & echo "pid $!"; sleep 0.5; echo started');
    const outcome = await run.done;
    expect(outcome.ok).toBe(true);
    expect(fs.readFileSync(ctx.logPath, 'utf8')).toContain('output pipes still held open');
    for (const pid of pidsIn(rec.lines)) process.kill(pid, 'SIGKILL');
  });

  it('splits lines across chunks, strips CRLF, keeps a last line without newline, cuts huge lines', async () => {
    const script = [
      `printf 'par'; sleep 0.2; printf 'tial\\r\\nnext\\n'`,
      `head -c 300000 /dev/zero | tr '\\0' a; echo`,
      'echo after',
      `printf 'no newline'`,
    ].join('; ');
    const { rec, run } = start(script);
    expect((await run.done).ok).toBe(true);
    const lines = rec.lines.map((l) => l.line);
    expect(lines[0]).toBe('partial');
    expect(lines[1]).toBe('next');
    expect(lines[2]).toMatch(/^a{65536} …\[line cut at 65536 bytes\]$/);
    expect(lines.slice(3)).toEqual(['after', 'no newline']);
  });

  it('parses ::dreamos progress and checkpoint lines', async () => {
    const script = [
      `echo '::dreamos {"progress":0.4}'`,
      `echo '::dreamos {"checkpoint":{"step":"parsed","summary":"half","sessionId":"s-1","data":{"k":1}}}'`,
      `echo '::dreamos {"progress":7}'`,
      `echo '::dreamos not json'`,
      'echo done',
    ].join('; ');
    const { rec, run, ctx } = start(script);
    expect((await run.done).ok).toBe(true);
    expect(rec.progress).toEqual([0.4, 1]);
    expect(rec.checkpoints).toEqual([{ step: 'parsed', summary: 'half', sessionId: 's-1', data: { k: 1 } }]);
    expect(fs.readFileSync(ctx.logPath, 'utf8')).toContain('ignored a ::dreamos line: not valid JSON');
  });

  it('notes in the log a ::dreamos line cut at the line limit, and checkpoint data it left out', async () => {
    const script = [
      `echo '::dreamos {"checkpoint":{"step":"s","data":[1,2]}}'`,
      `printf '::dreamos {"progress":0.5,"x":"%s"}\\n' "$(head -c 70000 /dev/zero | tr '\\0' a)"`,
      'echo done',
    ].join('; ');
    const { rec, run, ctx } = start(script);
    expect((await run.done).ok).toBe(true);
    expect(rec.checkpoints).toEqual([{ step: 's' }]);
    expect(rec.progress).toEqual([]);
    const notes = fs
      .readFileSync(ctx.logPath, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('[dreamos]'));
    expect(notes).toEqual([
      '[dreamos] a ::dreamos checkpoint was saved without its "data": it is not a JSON object',
      '[dreamos] ignored a ::dreamos line: longer than 65536 bytes',
    ]);
  });

  it('caps the log under a 100 MB flood, keeps memory bounded and still parses ::dreamos lines', async () => {
    const cap = 1024 * 1024;
    const flood = createDriver({ kind: 'shell', shell: '/bin/sh' }, { supervisor: { maxLogBytes: cap } });
    const line = '0123456789'.repeat(10);
    let count = 0;
    const { ctx, rec } = makeContext(dir, {
      task: makeTask({
        run: `yes ${line} | head -c 100000000; echo; echo '::dreamos {"progress":0.9}'; echo end`,
      }),
    });
    ctx.onLine = () => {
      count++;
    };
    const base = process.memoryUsage();
    let peak = 0;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      peak = Math.max(peak, m.heapUsed + m.arrayBuffers - (base.heapUsed + base.arrayBuffers));
    }, 10);
    const run = flood.start(ctx);
    runs.push(run);
    const outcome = await run.done;
    clearInterval(sampler);
    expect(outcome.ok).toBe(true);
    // The summary is the program's last line, written past the cap.
    expect(outcome.summary).toBe('end');
    expect(rec.progress).toEqual([0.9]);
    const log = fs.readFileSync(ctx.logPath, 'utf8');
    expect(log.length).toBeLessThanOrEqual(cap + 200);
    expect(log).toContain('dropped (log size cap)');
    expect(count).toBeLessThan(cap / line.length + 10);
    expect(peak).toBeLessThan(64 * 1024 * 1024);
  });

  it('gives the program the DREAMOS_* variables and the extra environment', async () => {
    const { run } = start('echo "$DREAMOS_TASK_ID $DREAMOS_AGENT_ID $EXTRA [$DREAMOS_CHECKPOINT]"', {
      env: { EXTRA: 'extra-value' },
    });
    expect((await run.done).summary).toBe('T-0000A agent-5 extra-value []');
  });

  it("gives the program its claim's lease token, for its reports on the task", async () => {
    const lease = { owner: 'agent-5', expiresAt: '2026-12-07T00:00:00.000Z', token: 41 };
    const { ctx } = makeContext(dir, { task: makeTask({ run: 'echo "[$DREAMOS_LEASE_TOKEN]"', lease }) });
    const run = shell.start(ctx);
    runs.push(run);
    expect((await run.done).summary).toBe('[41]');
  });
});

describe('secrets in the environment of driven programs', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const name of [
      'OPENAI_API_KEY',
      'MY_LLM_KEY',
      'ANTHROPIC_API_KEY',
      'CLAUDE_CODE_OAUTH_TOKEN',
      'PGPASSWORD',
      'DREAMOS_STORE',
    ]) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });

  it("keeps every agent's apiKeyEnv and the well-known key variables from the program", async () => {
    process.env.OPENAI_API_KEY = 'sk-well-known-secret';
    process.env.MY_LLM_KEY = 'sk-configured-secret';
    process.env.CLAUDE_CODE_OAUTH_TOKEN = 'sk-ant-oauth-secret';
    const { run, ctx } = start('env', { secretEnv: ['MY_LLM_KEY'] });
    expect((await run.done).ok).toBe(true);
    const log = fs.readFileSync(ctx.logPath, 'utf8');
    expect(log).toContain('DREAMOS_TASK_ID=T-0000A');
    expect(log).not.toContain('sk-well-known-secret');
    expect(log).not.toContain('sk-configured-secret');
    expect(log).not.toContain('sk-ant-oauth-secret');
  });

  it("keeps the PostgreSQL store's password from the program, and hands on its address", async () => {
    process.env.PGPASSWORD = 'pg-secret-one';
    process.env.DREAMOS_STORE = 'postgres://fleet:pg-secret-two@db.example:5432/board?sslmode=require';
    const { run } = start('echo "[$PGPASSWORD][$DREAMOS_STORE]"');
    expect((await run.done).summary).toBe('[][postgres://fleet@db.example:5432/board?sslmode=require]');
    process.env.DREAMOS_STORE = 'postgres://fleet@db.example/board?password=pg-secret-three';
    const again = start('echo "[$DREAMOS_STORE]"');
    expect((await again.run.done).summary).toBe('[postgres://fleet@db.example/board]');
  });

  it('passes a secret on when the driver names it in passEnv, or sets it in env', async () => {
    process.env.ANTHROPIC_API_KEY = 'sk-passed-on';
    process.env.MY_LLM_KEY = 'sk-configured-secret';
    const driver = createDriver({ kind: 'shell', shell: '/bin/sh', passEnv: ['ANTHROPIC_API_KEY'] });
    const { run } = start('echo "[$ANTHROPIC_API_KEY][$MY_LLM_KEY]"', { secretEnv: ['MY_LLM_KEY'] }, driver);
    expect((await run.done).summary).toBe('[sk-passed-on][]');
    const command = createDriver({
      kind: 'command',
      argv: ['/bin/sh', '-c', 'echo "[$MY_LLM_KEY]"'],
      env: { MY_LLM_KEY: 'set-by-config' },
      worktree: false,
    });
    const again = start('unused', { secretEnv: ['MY_LLM_KEY'] }, command);
    expect((await again.run.done).summary).toBe('[set-by-config]');
  });
});
