/**
 * Plugin drivers as a user meets them (docs/plugins.md#drivers): an agent whose driver is a
 * plugin's kind runs its tasks through the plugin under `dreamos run --until-idle`; a driver that
 * throws or hangs fails its task and is switched off with an alert; a cancel and a timeout reach
 * the driver through its signal; an agent whose kind no loaded plugin provides does not run, and
 * a plugin may neither replace a built-in kind nor take another plugin's.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Task } from '../../../state/schemas.js';
import { type Board, board, show } from '../../helpers/cli.js';
import { BIN, ROOT } from '../../helpers/workspace.js';

interface Alert {
  id: string;
  kind: string;
  subject: string;
  message: string;
  status: string;
}

let b: Board;
beforeEach(() => {
  b = board();
  fs.mkdirSync(pluginDir(), { mode: 0o700 });
});
afterEach(() => b.cleanup());

const pluginDir = () => path.join(b.dir, '.dreamos', 'plugins');
function plugin(file: string, source: string): void {
  fs.writeFileSync(path.join(pluginDir(), file), source, { mode: 0o600 });
}
function setDrivers(drivers: Record<string, Record<string, unknown>>): void {
  const file = path.join(b.dir, '.dreamos', 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8'));
  for (const agent of config.agents) if (drivers[agent.id]) agent.driver = drivers[agent.id];
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `dreamos ARGS` as a child process, asynchronously: the fakes answer from this process meanwhile. */
function dreamos(args: string[], whileRunning?: () => Promise<void>): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: b.dir, env: process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    void whileRunning?.();
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
const output = (r: Run) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
const runAgent = (id: string, whileRunning?: () => Promise<void>) =>
  dreamos(['run', '--until-idle', '--agents', id], whileRunning);
const pluginAlerts = () => b.json<Alert[]>('alert', 'list').filter((a) => a.kind === 'plugin');

describe('an agent with a plugin driver', () => {
  it('runs its tasks through the plugin (the shipped http example), and the journal has them done', async () => {
    fs.mkdirSync(path.join(b.dir, 'node_modules'), { recursive: true });
    fs.symlinkSync(ROOT, path.join(b.dir, 'node_modules', 'dreamos'));
    plugin(
      'http-driver.mjs',
      fs.readFileSync(path.join(ROOT, 'examples', 'plugins', 'http-driver.mjs'), 'utf8'),
    );
    const received: { task: { id: string; title: string; prompt?: string }; agent: string }[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        const asked = JSON.parse(body) as (typeof received)[number];
        received.push(asked);
        const reply = asked.task.title.startsWith('refuse')
          ? { ok: false, error: 'no thanks' }
          : { ok: true, summary: `did ${asked.task.title}`, log: [`working on ${asked.task.id}`] };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/run`;
      setDrivers({ 'agent-1': { kind: 'http', url } });
      const one = b.add('write the notes', '--role', 'agent-1', '--prompt', 'in docs/notes.md');
      const two = b.add('tidy the changelog', '--role', 'agent-1');
      const refused = b.add('refuse this one', '--role', 'agent-1', '--max-attempts', '1');
      // Its `accepts` leaves a task with a shell command alone.
      const shell = b.add('a shell task', '--role', 'agent-1', '--run', 'true');

      const run = await runAgent('agent-1');
      expect(run.code, output(run)).toBe(7); // a task of the run failed
      expect(run.stderr).toMatch(/stopped \(idle\): 2 done, 1 failed attempt/);

      expect(received.map((r) => [r.task.title, r.task.prompt, r.agent]).sort()).toEqual([
        ['refuse this one', undefined, 'agent-1'],
        ['tidy the changelog', undefined, 'agent-1'],
        ['write the notes', 'in docs/notes.md', 'agent-1'],
      ]);
      for (const task of [one, two]) {
        const done = b.get(task.id);
        expect(done.status).toBe('done');
        expect(done.result?.summary).toBe(`did ${task.title}`);
        const log = fs.readFileSync(
          path.join(b.dir, '.dreamos', 'logs', 'agent-1', `${task.id}.log`),
          'utf8',
        );
        expect(log).toContain(`working on ${task.id}`);
        const journal = b.json<{ op: string; by: string; tasks?: { task: { status: string } }[] }[]>(
          'log',
          '--task',
          task.id,
        );
        expect(journal.some((e) => e.by === 'agent-1' && e.tasks?.[0]?.task.status === 'done')).toBe(true);
      }
      const failed = b.get(refused.id);
      expect(failed.status).toBe('failed');
      expect(failed.result?.error).toBe('no thanks');
      expect(b.get(shell.id).status).toBe('ready');
      // A failed attempt is the work's, not a bug of the plugin: it stays on.
      expect(pluginAlerts()).toEqual([]);
      expect(b.run('agent', 'list').stdout).toMatch(/^agent-1 .* http \(plugin\) /m);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('fails the task of a driver that throws or hangs, and switches the plugin off with an alert', async () => {
    plugin(
      'flaky.mjs',
      `export default {
        name: 'flaky', version: '1.0.0',
        drivers: [{ kind: 'flaky', async run(task) {
          if (task.title === 'throw') throw new Error('driver bug');
          await new Promise(() => {}); // hangs, deaf to its signal
        } }],
      };`,
    );
    setDrivers({ 'agent-1': { kind: 'flaky' } });
    const thrower = b.add('throw', '--role', 'agent-1', '--max-attempts', '1');
    const first = await runAgent('agent-1');
    expect(first.code, output(first)).toBe(7);
    expect(first.stderr).toContain('dreamos: plugin flaky switched off: driver flaky threw: driver bug');
    expect(b.get(thrower.id)).toMatchObject({
      status: 'failed',
      result: { error: 'plugin flaky: driver flaky threw: driver bug', errorCode: 'E_DRIVER' },
    });
    expect(pluginAlerts()).toEqual([
      expect.objectContaining({
        subject: 'flaky',
        message: 'plugin flaky switched off: driver flaky threw: driver bug',
      }),
    ]);

    // The next process loads it again; this time it hangs past the task's timeout.
    const hanger = b.add('hang', '--role', 'agent-1', '--max-attempts', '1', '--timeout', '1');
    const second = await runAgent('agent-1');
    expect(second.code, output(second)).toBe(7);
    const why = 'driver flaky did not stop within 10000 ms of being asked (timeout)';
    expect(second.stderr).toContain(`dreamos: plugin flaky switched off: ${why}`);
    expect(b.get(hanger.id)).toMatchObject({
      status: 'failed',
      result: { error: `timed out after 1 s; plugin flaky: ${why}`, errorCode: 'E_TIMEOUT' },
    });
    const alerts = pluginAlerts();
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.message).toBe(`plugin flaky switched off: ${why}`);
  });

  it('stops a run on a cancel and on its timeout through the signal, and the plugin stays on', async () => {
    const started = path.join(b.dir, 'started');
    plugin(
      'polite.mjs',
      `import fs from 'node:fs';
      export default {
        name: 'polite', version: '1.0.0',
        drivers: [{ kind: 'polite', run(task, { signal, log }) {
          fs.writeFileSync(${JSON.stringify(started)}, task.id);
          log('waiting to be stopped');
          return new Promise((_, reject) => signal.addEventListener('abort', () => {
            fs.writeFileSync(${JSON.stringify(started)} + '.stopped', String(signal.reason?.message));
            reject(signal.reason);
          }));
        } }],
      };`,
    );
    setDrivers({ 'agent-1': { kind: 'polite' } });
    const timed = b.add('time out', '--role', 'agent-1', '--max-attempts', '1', '--timeout', '1');
    const first = await runAgent('agent-1');
    expect(first.code, output(first)).toBe(7);
    expect(b.get(timed.id)).toMatchObject({
      status: 'failed',
      result: { error: 'timed out after 1 s', errorCode: 'E_TIMEOUT' },
    });
    expect(fs.readFileSync(`${started}.stopped`, 'utf8')).toBe('timed out after 1 s');

    fs.rmSync(started);
    const cancelled = b.add('cancel me', '--role', 'agent-1');
    const second = await runAgent('agent-1', async () => {
      while (!fs.existsSync(started)) await new Promise((resolve) => setTimeout(resolve, 50));
      const r = b.run('task', 'cancel', cancelled.id);
      expect(r.code, show(r)).toBe(0);
    });
    expect(second.code, output(second)).toBe(0);
    expect(b.get(cancelled.id).status).toBe('cancelled');
    expect(fs.readFileSync(`${started}.stopped`, 'utf8')).toBe('cancel');
    expect(pluginAlerts()).toEqual([]);
  });
});

describe('plugin driver kinds refused', () => {
  it('runs no agent whose kind no plugin provides, and refuses a kind built in or taken', async () => {
    plugin(
      'a-first.mjs',
      `export default {
        name: 'first', version: '1.0.0',
        drivers: [{
          kind: 'mine',
          options: (v) => { if (typeof v.level !== 'number') throw new Error('level: a number'); return v; },
          run() { return { ok: true, summary: 'mine' }; },
        }],
      };`,
    );
    plugin(
      'b-second.mjs',
      `export default { name: 'second', version: '1.0.0', drivers: [{ kind: 'mine', run() {} }] };`,
    );
    plugin(
      'c-myshell.mjs',
      `export default { name: 'myshell', version: '1.0.0', drivers: [{ kind: 'shell', run() {} }] };`,
    );
    const list = b.json<{ name: string; state: string; reason: string | null; drivers: string[] }[]>(
      'plugin',
      'list',
    );
    expect(list.map((r) => [r.name, r.state, r.reason])).toEqual([
      ['first', 'on', null],
      ['second', 'refused', 'its driver kind mine is already provided by plugin first'],
      ['myshell', 'refused', 'its driver kind shell is built in: a plugin may not replace it'],
    ]);

    setDrivers({
      'agent-1': { kind: 'nowhere', anything: [1, 2] },
      'agent-2': { kind: 'mine', level: 'high' },
      'agent-3': { kind: 'mine', level: 3 },
    });
    const lost = b.add('for nowhere', '--role', 'agent-1');
    const wrong = b.add('for wrong options', '--role', 'agent-2');
    const fine = b.add('for mine', '--role', 'agent-3');
    const shell = b.add('for the shell', '--role', 'agent-4', '--run', 'true');
    const before = b.state();
    const run = await dreamos(['run', '--until-idle', '--agents', 'agent-1,agent-2,agent-3,agent-4']);
    expect(run.code, output(run)).toBe(8);
    expect(run.stderr).toContain(
      'agent-1  error: agent-1 does not run: no loaded plugin provides the driver kind nowhere (built in: sim, shell, command, pty, llm; from plugins: mine): see `dreamos plugin list`',
    );
    expect(run.stderr).toContain(
      'agent-2  error: agent-2 does not run: its mine driver options are wrong: level: a number',
    );
    expect(run.stderr).toMatch(/^running agent-3, agent-4$/m);
    const status = (t: Task) => b.get(t.id).status;
    expect([status(lost), status(wrong), status(fine), status(shell)]).toEqual([
      'ready',
      'ready',
      'done',
      'done',
    ]);
    expect(before.tasks.map((t) => t.status)).toEqual(['ready', 'ready', 'ready', 'ready']);

    const alerts = pluginAlerts();
    expect(alerts.map((a) => a.subject).sort()).toEqual(['agent-1', 'agent-2', 'myshell', 'second']);
    const agents = b.run('agent', 'list').stdout;
    const alertOf = (agent: string) => alerts.find((a) => a.subject === agent)!.id;
    expect(agents).toMatch(
      new RegExp(`^agent-1 .* nowhere \\(plugin; not run, see alert ${alertOf('agent-1')}\\) `, 'm'),
    );
    expect(agents).toMatch(/^agent-3 .* mine \(plugin\) /m);
    expect(b.run('status').stdout).toContain(
      `agent-2 does not run: its mine driver options are wrong: level: a number (alert ${alertOf('agent-2')})`,
    );
    const attention = b.json<{ subject: string; reason: string; action: string }[]>('attention');
    expect(attention.find((i) => i.subject === 'agent-1')).toMatchObject({
      reason: 'plugin-off',
      action: expect.stringMatching(/^give it a driver kind a loaded plugin provides/),
    });
    const doctor = b.json<{ drivers: { agent: string; ok: boolean; message: string }[] }>('doctor');
    expect(doctor.drivers.filter((d) => ['agent-1', 'agent-3'].includes(d.agent))).toEqual([
      {
        agent: 'agent-1',
        kind: 'nowhere',
        ok: false,
        message:
          'agent-1 (nowhere): no loaded plugin provides the driver kind nowhere, so the agent does not run (2 plugin(s) not loaded: dreamos plugin list)',
      },
      { agent: 'agent-3', kind: 'mine', ok: true, message: 'agent-3 (mine): provided by plugin first' },
    ]);

    // A built-in kind keeps its own schema: a misspelt field is named, not taken for a plugin's.
    setDrivers({ 'agent-4': { kind: 'shell', shel: '/bin/sh' } });
    const bad = b.run('agent', 'list');
    expect(bad.code, show(bad)).not.toBe(0);
    expect(bad.stderr).toContain('agents.3.driver: Unrecognized key: "shel"');
  });
});
