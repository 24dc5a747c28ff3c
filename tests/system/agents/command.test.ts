/**
 * The command driver: argv templates are expanded inside elements and run without a shell, the
 * task arrives in DREAMOS_* variables, and agents may get their own git worktree.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expandArgv, MAX_ARG_BYTES } from '../../../agents/drivers/command.js';
import { createDriver } from '../../../agents/drivers/index.js';
import type { DriverRun } from '../../../agents/drivers/types.js';
import type { Driver } from '../../../src/config.js';
import { makeCheckpoint, makeContext, makeTask } from '../../helpers/agents.js';
import { tempDir } from '../../helpers/workspace.js';

let dir: string;
let cleanup: () => void;
const runs: DriverRun[] = [];

beforeEach(() => {
  ({ dir, cleanup } = tempDir('dreamos-command-'));
});
afterEach(async () => {
  await Promise.all(runs.splice(0).map((run) => run.stop('shutdown')));
  cleanup();
});

const node = process.execPath;
/** A program that prints its arguments as JSON. */
const PRINT_ARGV = 'console.log(JSON.stringify(process.argv.slice(1)))';

function command(argv: string[], extra: Partial<Extract<Driver, { kind: 'command' }>> = {}) {
  return createDriver({ kind: 'command', argv, env: {}, worktree: false, ...extra });
}

async function runWith(driver: ReturnType<typeof command>, extra: Parameters<typeof makeContext>[1] = {}) {
  const { ctx, rec } = makeContext(dir, extra);
  const run = driver.start(ctx);
  runs.push(run);
  return { outcome: await run.done, rec, ctx };
}

describe('command driver', () => {
  it('replaces placeholders inside argv elements, once', () => {
    const values = {
      prompt: 'fix {title}',
      title: 'T',
      taskId: 'T-0000A',
      agentId: 'agent-5',
      home: '/h',
      checkpoint: '',
    };
    expect(
      expandArgv(['x', '--task={taskId}', '{prompt}', '{"json":1}', '{unknown}', '{home}/{agentId}'], values),
    ).toEqual(['x', '--task=T-0000A', 'fix {title}', '{"json":1}', '{unknown}', '/h/agent-5']);
  });

  it('runs a prompt full of shell syntax as plain text: nothing is executed', async () => {
    const markers = ['a', 'b', 'c', 'd'].map((m) => path.join(dir, `pwned-${m}`));
    const prompt = [
      `$(touch ${markers[0]})`,
      `; touch ${markers[1]}`,
      `\`touch ${markers[2]}\``,
      `| rm -rf ~ && echo pwned > ${markers[3]}`,
      '\' " \\ * ? ~ $HOME',
    ].join(' ');
    const driver = command([node, '-e', PRINT_ARGV, '{prompt}', '--title={title}']);
    const { outcome } = await runWith(driver, { task: makeTask({ title: 'Title; rm -rf /', prompt }) });
    expect(outcome.ok).toBe(true);
    expect(JSON.parse(outcome.summary!)).toEqual([prompt, '--title=Title; rm -rf /']);
    for (const marker of markers) expect(fs.existsSync(marker)).toBe(false);
  });

  it('uses the title as {prompt} when the task has no prompt', async () => {
    const { outcome } = await runWith(command([node, '-e', PRINT_ARGV, '{prompt}']), {
      task: makeTask({ title: 'only a title' }),
    });
    expect(JSON.parse(outcome.summary!)).toEqual(['only a title']);
  });

  it('passes the task in DREAMOS_* variables, with the driver and context environment', async () => {
    const script = `console.log(JSON.stringify(Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('DREAMOS_') || k === 'EXTRA' || k === 'FROM_CONFIG'))))`;
    const checkpoint = makeCheckpoint();
    const { outcome, ctx } = await runWith(
      command([node, '-e', script], { env: { FROM_CONFIG: 'config-value' } }),
      { env: { EXTRA: 'extra-value' }, checkpoint, task: makeTask({ prompt: 'do it', run: 'make' }) },
    );
    const env = JSON.parse(outcome.summary!);
    expect(env).toMatchObject({
      DREAMOS_TASK_ID: 'T-0000A',
      DREAMOS_AGENT_ID: 'agent-5',
      DREAMOS_HOME: ctx.home,
      EXTRA: 'extra-value',
      FROM_CONFIG: 'config-value',
    });
    expect(JSON.parse(env.DREAMOS_CHECKPOINT)).toEqual(checkpoint);
    expect(JSON.parse(env.DREAMOS_TASK_JSON)).toMatchObject({ id: 'T-0000A', prompt: 'do it', run: 'make' });
  });

  it('leaves DREAMOS_CHECKPOINT empty without a checkpoint', async () => {
    const { outcome } = await runWith(
      command([node, '-e', 'console.log("[" + process.env.DREAMOS_CHECKPOINT + "]")']),
    );
    expect(outcome.summary).toBe('[]');
  });

  it('keeps DREAMOS_TASK_JSON within the environment limit for a huge prompt', async () => {
    const prompt = 'p'.repeat(190_000);
    const script =
      'const t = JSON.parse(process.env.DREAMOS_TASK_JSON); console.log(t.id, t.prompt.length > 0, t.promptTruncated)';
    const { outcome } = await runWith(command([node, '-e', script]), { task: makeTask({ prompt }) });
    expect(outcome).toMatchObject({ ok: true, summary: 'T-0000A true true' });
  });

  it('refuses a prompt too large for one argument, saying why, and starts one that just fits', async () => {
    const printLength = command([node, '-e', 'console.log(process.argv[1].length)', '{prompt}']);
    const fits = await runWith(printLength, { task: makeTask({ prompt: 'p'.repeat(MAX_ARG_BYTES) }) });
    expect(fits.outcome).toMatchObject({ ok: true, summary: String(MAX_ARG_BYTES) });
    const { outcome, rec } = await runWith(printLength, {
      task: makeTask({ prompt: '€'.repeat(Math.ceil((MAX_ARG_BYTES + 1) / 3)) }),
    });
    expect(outcome).toMatchObject({ ok: false, errorCode: 'E_SPAWN' });
    expect(outcome.error).toMatch(/^the argv element with \{prompt\} is 131073 bytes, over the 131071 bytes/);
    expect(rec.spawns).toEqual([]);
  });

  it('never hands a prompt or title starting with "-" to the program as an option', async () => {
    const dash = '--dangerously-bypass-approvals-and-sandbox';
    const bare = await runWith(command([node, '-e', PRINT_ARGV, '{prompt}']), {
      task: makeTask({ prompt: dash }),
    });
    expect(bare.outcome).toMatchObject({ ok: false, errorCode: 'E_SPAWN' });
    expect(bare.outcome.error).toMatch(
      /^\{prompt\} starts with "-" and would reach the program as an option/,
    );
    expect(bare.rec.spawns).toEqual([]);
    const title = await runWith(command([node, '-e', PRINT_ARGV, '{title}']), {
      task: makeTask({ title: '--output=/etc/x' }),
    });
    expect(title.outcome).toMatchObject({ ok: false, errorCode: 'E_SPAWN' });
    expect(title.outcome.error).toContain('{title} starts with "-"');

    // After "--", or inside a longer element, the value is only ever an operand or an option's value.
    const ended = await runWith(command([node, '-e', PRINT_ARGV, '--', '{prompt}']), {
      task: makeTask({ prompt: dash }),
    });
    expect(ended.outcome).toMatchObject({ ok: true, summary: JSON.stringify([dash]) });
    const joined = await runWith(command(['/bin/sh', '-c', 'printf "%s\\n" "$0"', '--message={prompt}']), {
      task: makeTask({ prompt: '-x' }),
    });
    expect(joined.outcome).toMatchObject({ ok: true, summary: '--message=-x' });
  });

  it('passes a checkpoint too large for the environment through DREAMOS_CHECKPOINT_FILE', async () => {
    // Within the checkpoint's own limits, but well over what one environment string may hold.
    const checkpoint = makeCheckpoint({ summary: '€'.repeat(40_000), data: { blob: 'd'.repeat(60_000) } });
    const script = `const fs = require('node:fs');
      const short = JSON.parse(process.env.DREAMOS_CHECKPOINT);
      const full = JSON.parse(fs.readFileSync(process.env.DREAMOS_CHECKPOINT_FILE, 'utf8'));
      const mode = (fs.statSync(process.env.DREAMOS_CHECKPOINT_FILE).mode & 0o777).toString(8);
      console.log(JSON.stringify({ short: [short.id, short.truncated, short.data === undefined, short.summary.length < 40000],
        full: [full.summary.length, full.data.blob.length], mode, arg: process.argv[1].length <= 65536 }));`;
    const { outcome } = await runWith(command([node, '-e', script, '{checkpoint}']), { checkpoint });
    expect(outcome.ok, outcome.error).toBe(true);
    expect(JSON.parse(outcome.summary!)).toEqual({
      short: ['C-0000A', true, true, true],
      full: [40_000, 60_000],
      mode: '600',
      arg: true,
    });
  });

  it('never writes a large checkpoint through a planted link or into a hard-linked file', async () => {
    const checkpoint = makeCheckpoint({ summary: 's'.repeat(70_000) });
    const script = 'console.log(process.env.DREAMOS_CHECKPOINT_FILE ?? "none")';
    const outside = path.join(dir, 'outside');
    fs.mkdirSync(outside);
    const victim = path.join(outside, 'T-0000A.checkpoint.json');
    fs.writeFileSync(victim, 'keep me', { mode: 0o644 });
    const logs = path.join(dir, '.dreamos', 'logs');
    fs.mkdirSync(logs, { recursive: true });
    fs.symlinkSync(outside, path.join(logs, 'agent-5'));
    const linked = await runWith(command([node, '-e', script]), { checkpoint });
    expect(linked.outcome).toMatchObject({ ok: true, summary: 'none' });
    expect(fs.readFileSync(victim, 'utf8')).toBe('keep me');

    // A hard link in the run's own folder: replaced by a new file, mode 600; the other name keeps its text.
    fs.unlinkSync(path.join(logs, 'agent-5'));
    fs.mkdirSync(path.join(logs, 'agent-5'));
    const own = path.join(logs, 'agent-5', 'T-0000A.checkpoint.json');
    fs.linkSync(victim, own);
    const hard = await runWith(command([node, '-e', script]), { checkpoint });
    expect(hard.outcome).toMatchObject({ ok: true, summary: own });
    expect(fs.readFileSync(victim, 'utf8')).toBe('keep me');
    expect(JSON.parse(fs.readFileSync(own, 'utf8')).summary).toHaveLength(70_000);
    expect(fs.statSync(own).mode & 0o777).toBe(0o600);
  });

  it('fails with a clear E_SPAWN when the program does not exist', async () => {
    const { outcome } = await runWith(command(['dreamos-no-such-program-x', '{prompt}']));
    expect(outcome).toMatchObject({ ok: false, errorCode: 'E_SPAWN' });
    expect(outcome.error).toBe('cannot start "dreamos-no-such-program-x": not found on PATH (ENOENT)');
  });

  it('reports a non-zero exit of the program', async () => {
    const { outcome } = await runWith(
      command([node, '-e', 'console.error("model overloaded"); process.exit(2)']),
    );
    expect(outcome).toMatchObject({ ok: false, errorCode: 'E_EXIT', exitCode: 2 });
    expect(outcome.error).toContain('model overloaded');
  });

  it('streams ::dreamos progress from the program', async () => {
    const { outcome, rec } = await runWith(
      command([node, '-e', 'console.log(`::dreamos {"progress":0.5}`); console.log("ok")']),
    );
    expect(outcome.ok).toBe(true);
    expect(rec.progress).toEqual([0.5]);
  });

  describe('worktree', () => {
    const git = (cwd: string, ...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
        cwd,
        encoding: 'utf8',
      }).trim();
    const PRINT_CWD = 'console.log(process.cwd())';

    it('runs each agent in its own worktree of the repository, reused on the next run', async () => {
      git(dir, 'init', '-q', '-b', 'main');
      fs.writeFileSync(path.join(dir, 'README'), 'hello\n');
      git(dir, 'add', 'README');
      git(dir, 'commit', '-q', '-m', 'first');
      const driver = command([node, '-e', PRINT_CWD], { worktree: true });
      const first = await runWith(driver);
      const tree = fs.realpathSync(path.join(dir, '.dreamos', 'worktrees', 'agent-5'));
      expect(first.outcome).toMatchObject({ ok: true, summary: tree });
      expect(fs.readFileSync(path.join(tree, 'README'), 'utf8')).toBe('hello\n');
      expect(git(dir, 'branch', '--list', 'dreamos/agent-5')).toContain('dreamos/agent-5');
      expect(fs.readFileSync(first.ctx.logPath, 'utf8')).toContain('created worktree');
      const second = await runWith(driver);
      expect(second.outcome).toMatchObject({ ok: true, summary: tree });
      expect(fs.readFileSync(second.ctx.logPath, 'utf8')).toContain('reusing worktree');
    });

    it("creates the worktree in the workspace's repository even when GIT_DIR names another, as in a git hook", async () => {
      git(dir, 'init', '-q', '-b', 'main');
      git(dir, 'commit', '-q', '--allow-empty', '-m', 'first');
      const other = tempDir('dreamos-other-repo-');
      git(other.dir, 'init', '-q', '-b', 'main');
      git(other.dir, 'commit', '-q', '--allow-empty', '-m', 'other');
      const saved = { GIT_DIR: process.env.GIT_DIR, GIT_WORK_TREE: process.env.GIT_WORK_TREE };
      process.env.GIT_DIR = path.join(other.dir, '.git');
      process.env.GIT_WORK_TREE = other.dir;
      try {
        const { outcome } = await runWith(command([node, '-e', PRINT_CWD], { worktree: true }));
        expect(outcome).toMatchObject({ ok: true });
      } finally {
        for (const [name, value] of Object.entries(saved)) {
          if (value === undefined) delete process.env[name];
          else process.env[name] = value;
        }
      }
      try {
        expect(git(dir, 'branch', '--list', 'dreamos/agent-5')).toContain('dreamos/agent-5');
        expect(git(other.dir, 'branch', '--list', 'dreamos/agent-5')).toBe('');
      } finally {
        other.cleanup();
      }
    });

    it('runs in place when the workspace is not in a git repository', async () => {
      const { outcome, ctx } = await runWith(command([node, '-e', PRINT_CWD], { worktree: true }));
      expect(outcome).toMatchObject({ ok: true, summary: fs.realpathSync(dir) });
      expect(fs.readFileSync(ctx.logPath, 'utf8')).toContain('not in a git repository');
    });
  });
});
