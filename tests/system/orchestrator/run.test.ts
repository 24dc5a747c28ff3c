import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, cli, cliAsync, tempDir } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
const run = (args: string[], env?: Record<string, string>) =>
  cli(args, { cwd: tmp.dir, ...(env ? { env } : {}) });

function editConfig(
  edit: (config: { agents: Array<Record<string, unknown>>; policies: Record<string, unknown> }) => void,
) {
  const file = path.join(tmp.dir, '.dreamos', 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(config);
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
}

interface TaskJson {
  id: string;
  status: string;
  attempts: number;
  agent: string | null;
  result: {
    ok: boolean;
    exitCode?: number | null;
    summary?: string;
    log?: string;
    errorCode?: string;
  } | null;
  history: Array<{ from: string | null; to: string; by: string }>;
}
const tasks = () => run(['task', 'list', '--json']).json<TaskJson[]>();

beforeEach(() => {
  tmp = tempDir();
  expect(run(['init']).code).toBe(0);
});
afterEach(() => tmp.cleanup());

describe('dreamos run', () => {
  it('runs shell tasks to completion with --until-idle, dependencies in order, output in the logs', async () => {
    const a = run([
      'task',
      'add',
      'write',
      '--run',
      'echo hello > out.txt && echo wrote',
      '--json',
    ]).json<TaskJson>();
    run(['task', 'add', 'read', '--run', 'cat out.txt', '--depends-on', a.id]);
    run(['task', 'add', 'broken', '--run', 'echo oops >&2; exit 7', '--max-attempts', '1']);
    const result = run(['run', '--until-idle']);
    expect(result.code).toBe(7); // a task of the run failed
    const all = tasks();
    expect(all.map((t) => t.status).sort()).toEqual(['done', 'done', 'failed']);
    const read = all.find((t) => t.history.some((h) => h.to === 'done') && t.id !== a.id)!;
    const log = fs.readFileSync(path.join(tmp.dir, '.dreamos', read.result!.log!), 'utf8');
    expect(log).toContain('hello');
    const broken = all.find((t) => t.status === 'failed')!;
    expect(broken.result).toMatchObject({ ok: false, exitCode: 7, errorCode: 'E_EXIT' });
    // every task ends in exactly one final store
    const completed = JSON.parse(
      fs.readFileSync(path.join(tmp.dir, '.dreamos/boards/completed_tasks.json'), 'utf8'),
    );
    expect(completed.tasks).toHaveLength(3);
  });

  it('passes the task to command drivers in argv and environment, never through a shell', () => {
    const script = path.join(tmp.dir, 'agent.mjs');
    fs.writeFileSync(
      script,
      `import fs from 'node:fs';
       fs.writeFileSync(process.env.DREAMOS_TASK_ID + '.json', JSON.stringify({ argv: process.argv.slice(2), env: {
         id: process.env.DREAMOS_TASK_ID, agent: process.env.DREAMOS_AGENT_ID, home: process.env.DREAMOS_HOME,
         task: JSON.parse(process.env.DREAMOS_TASK_JSON).title } }));
       console.log('::dreamos {"progress":0.5}');`,
    );
    editConfig((c) => {
      for (const agent of c.agents)
        agent.driver = { kind: 'command', argv: [process.execPath, script, '{prompt}'] };
    });
    const evil = '$(touch pwned); `touch pwned2`; rm -rf ~ && echo "x"';
    const t = run(['task', 'add', 'evil prompt', '--prompt', evil, '--json']).json<TaskJson>();
    expect(run(['run', '--until-idle']).code).toBe(0);
    const seen = JSON.parse(fs.readFileSync(path.join(tmp.dir, `${t.id}.json`), 'utf8'));
    expect(seen.argv).toEqual([evil]);
    expect(seen.env).toMatchObject({ id: t.id, task: 'evil prompt' });
    expect(seen.env.home).toBe(path.join(tmp.dir, '.dreamos'));
    expect(fs.existsSync(path.join(tmp.dir, 'pwned'))).toBe(false);
    expect(fs.existsSync(path.join(tmp.dir, 'pwned2'))).toBe(false);
    expect(tasks()[0]!.status).toBe('done');
  });

  it('two run processes on one workspace finish every task exactly once', async () => {
    const many = Array.from({ length: 40 }, (_, i) => ({ title: `t${i}`, run: `echo ${i}` }));
    fs.writeFileSync(path.join(tmp.dir, 'many.json'), JSON.stringify(many));
    expect(run(['task', 'import', 'many.json']).code).toBe(0);
    const [one, two] = await Promise.all([
      cliAsync(['run', '--until-idle', '--agents', 'agent-1,agent-2,agent-3,agent-4'], { cwd: tmp.dir }),
      cliAsync(['run', '--until-idle', '--agents', 'agent-5,agent-6,agent-7,agent-8'], { cwd: tmp.dir }),
    ]);
    expect(one.code).toBe(0);
    expect(two.code).toBe(0);
    const all = tasks();
    expect(all).toHaveLength(40);
    for (const t of all) {
      expect(t.status).toBe('done');
      expect(t.history.filter((h) => h.to === 'done')).toHaveLength(1);
      expect(t.history.filter((h) => h.to === 'working')).toHaveLength(1);
    }
    const agents = new Set(all.map((t) => t.agent));
    expect(agents.size).toBeGreaterThan(1);
  });

  it('an agent runs in one place at a time: a second run process leaves taken agents alone', async () => {
    run(['task', 'add', 'slow', '--run', 'sleep 2']);
    const first = spawn(process.execPath, [BIN, 'run', '--agents', 'agent-2'], {
      cwd: tmp.dir,
      stdio: 'ignore',
    });
    try {
      await waitFor(
        () =>
          run(['agent', 'show', 'agent-2', '--json']).json<{ state: { status: string } }>().state.status ===
          'working',
      );
      const second = run(['run', '--agents', 'agent-2', '--until-idle', '--json']);
      const started = second.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
        .find((e) => e.type === 'started');
      expect(started).toMatchObject({ agents: [], elsewhere: ['agent-2'] });
    } finally {
      first.kill('SIGTERM');
      await new Promise((r) => first.once('exit', r));
    }
  });

  it('SIGTERM stops cleanly: the running task returns to ready and no child process survives', async () => {
    const t = run([
      'task',
      'add',
      'hang',
      '--run',
      'echo $$ > child.pid; sleep 60',
      '--json',
    ]).json<TaskJson>();
    const orchestrator = spawn(process.execPath, [BIN, 'run', '--agents', 'agent-2'], {
      cwd: tmp.dir,
      stdio: 'ignore',
    });
    const pidFile = path.join(tmp.dir, 'child.pid');
    await waitFor(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim() !== '');
    const child = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(alive(child)).toBe(true);
    orchestrator.kill('SIGTERM');
    const code = await new Promise((r) => orchestrator.once('exit', r));
    expect(code).toBe(0);
    expect(alive(child)).toBe(false);
    const task = run(['task', 'show', t.id, '--json']).json<TaskJson>();
    expect(task.status).toBe('ready');
    expect(
      run(['agent', 'show', 'agent-2', '--json']).json<{ state: { runner: unknown } }>().state.runner,
    ).toBeNull();
  });

  it('a run process that exits without stopping its agents takes their programs with it', async () => {
    // The last resort for an exit that skips the clean stop (an EPIPE handler, an uncaught error):
    // here a module preloaded into `dreamos run` calls process.exit(0) once the task's program runs.
    const pidFile = path.join(tmp.dir, 'child.pid');
    run(['task', 'add', 'hang', '--run', 'echo $$ > child.pid; sleep 60']);
    const exiter = path.join(tmp.dir, 'exit-early.cjs');
    fs.writeFileSync(
      exiter,
      `const fs = require('node:fs');
setInterval(() => { if (fs.existsSync(${JSON.stringify(pidFile)})) process.exit(0); }, 20);\n`,
    );
    const orchestrator = spawn(process.execPath, [BIN, 'run', '--agents', 'agent-2'], {
      cwd: tmp.dir,
      stdio: 'ignore',
      env: { ...process.env, NODE_OPTIONS: `--require ${exiter}` },
    });
    const code = await new Promise((r) => orchestrator.once('exit', r));
    expect(code).toBe(0);
    await waitFor(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim() !== '');
    const child = Number(fs.readFileSync(pidFile, 'utf8'));
    // SIGKILLed at the exit; gone once reaped (its parent has exited: init reaps it).
    await waitFor(() => !alive(child), 5000).catch(() => undefined);
    expect(alive(child)).toBe(false);
  });

  it('after the orchestrator is killed, a restart stops the leftover process and resumes the task', async () => {
    const t = run([
      'task',
      'add',
      'resumable',
      '--run',
      'echo $$ >> pids; sleep 2; echo finished',
      '--json',
    ]).json<TaskJson>();
    const first = spawn(process.execPath, [BIN, 'run', '--agents', 'agent-2'], {
      cwd: tmp.dir,
      stdio: 'ignore',
    });
    const pids = path.join(tmp.dir, 'pids');
    await waitFor(() => fs.existsSync(pids) && fs.readFileSync(pids, 'utf8').trim() !== '');
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const leftover = Number(fs.readFileSync(pids, 'utf8').trim().split('\n')[0]);
    expect(alive(leftover)).toBe(true); // the orchestrator died without stopping it
    const second = run(['run', '--agents', 'agent-2', '--until-idle', '--json']);
    expect(second.code).toBe(0);
    const events = second.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(events.some((e) => e.type === 'leftover' && e.pid === leftover)).toBe(true);
    expect(alive(leftover)).toBe(false);
    const task = run(['task', 'show', t.id, '--json']).json<TaskJson>();
    expect(task.status).toBe('done');
    expect(task.history.some((h) => h.to === 'working' && h.from === 'working')).toBe(true); // resumed
  });

  it('a paused agent claims nothing until resumed', () => {
    editConfig((c) => {
      c.agents = c.agents.filter((a) => a.id === 'agent-2');
    });
    run(['task', 'add', 'waits', '--run', 'true']);
    expect(run(['agent', 'pause', 'agent-2']).code).toBe(0);
    expect(run(['run', '--until-idle']).code).toBe(8); // work is left that nobody can take
    expect(tasks()[0]!.status).toBe('ready');
    expect(run(['agent', 'resume', 'agent-2']).code).toBe(0);
    expect(run(['run', '--until-idle']).code).toBe(0);
    expect(tasks()[0]!.status).toBe('done');
  });
});

describe('dreamos mail', () => {
  it('refuses mail to an unknown agent, delivers to known ones, de-duplicates and acknowledges', () => {
    const refused = run(['mail', 'send', '--to', 'yall', 'hello']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/no agent "yall"/);
    expect(fs.existsSync(path.join(tmp.dir, '.dreamos', 'mailboxes', 'yall.json'))).toBe(false);
    const sent = run(['mail', 'send', '--to', 'agent-3', 'please look', '--dedupe-key', 'k1', '--json']).json<
      Array<{ id: string }>
    >();
    run(['mail', 'send', '--to', 'agent-3', 'please look', '--dedupe-key', 'k1']);
    const box = run(['mail', 'list', '--agent', 'agent-3', '--json']).json<
      Array<{ id: string; from: string }>
    >();
    expect(box).toHaveLength(1);
    expect(box[0]!.from).toBe('operator');
    // a driven program knows its agent from the environment
    const reply = run(['mail', 'send', '--to', 'operator', 'done looking', '--json'], {
      DREAMOS_AGENT_ID: 'agent-3',
    });
    expect(reply.json<Array<{ from: string }>>()[0]!.from).toBe('agent-3');
    expect(run(['mail', 'ack', sent[0]!.id], { DREAMOS_AGENT_ID: 'agent-3' }).code).toBe(0);
    expect(run(['mail', 'list', '--agent', 'agent-3', '--json']).json<unknown[]>()).toHaveLength(0);
    expect(run(['mail', 'list', '--json']).json<unknown[]>()).toHaveLength(1); // the operator's inbox
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}
