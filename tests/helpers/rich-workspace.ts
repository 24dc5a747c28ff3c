/**
 * A JSON workspace that holds some of everything, made through the CLI the way an operator would: tasks
 * in every stage, dependencies, a retried task, archived tasks, mail (read and acknowledged), alerts
 * (one acknowledged), agent states and checkpoints. For tests that copy a workspace whole.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import type { Task } from '../../state/schemas.js';
import { type CliResult, cli, writePolicies } from './workspace.js';

const show = (r: CliResult) => `exit ${r.code}\n${r.stdout.slice(0, 1000)}\n${r.stderr.slice(0, 1000)}`;

/** `dreamos ARGS` in `dir`, expected to succeed; its JSON output with --json. */
export function runIn(dir: string, env: Record<string, string> = {}) {
  return <T = unknown>(...args: (string | { input: string })[]): T => {
    const input = args.find((a): a is { input: string } => typeof a !== 'string')?.input;
    const words = args.filter((a): a is string => typeof a === 'string');
    const r = cli([...words, '--json'], {
      cwd: dir,
      env: { DREAMOS_INIT_DRIVER: 'shell', ...env },
      ...(input !== undefined ? { input } : {}),
    });
    expect(r.code, `dreamos ${words.join(' ')}\n${show(r)}`).toBe(0);
    return (r.stdout.trim() ? r.json<T>() : undefined) as T;
  };
}

/** Make the workspace in `dir` (which must exist). */
export function makeRichWorkspace(dir: string): void {
  const run = runIn(dir);
  run('init');
  writePolicies(path.join(dir, '.dreamos'), { keepCompleted: 1 });
  const add = (title: string, ...flags: string[]) =>
    run<Task>('task', 'add', title, '--run', 'true', ...flags);
  const claim = (agent: string, id: string) => run<Task>('task', 'claim', '--agent', agent, '--task', id);

  // Finished tasks past keepCompleted (and its margin of ten) roll into the archive.
  for (const n of [1, 2]) {
    // One from outside would carry a dedupe key, which outlives its task's archiving.
    const t = add(`done ${n}`, '--tag', 'finished', ...(n === 1 ? ['--dedupe-key', 'rich:done-1'] : []));
    claim('agent-2', t.id);
    run('task', 'complete', t.id, '--agent', 'agent-2', '--summary', `did ${n}`);
  }
  const many = Array.from({ length: 10 }, (_, n) => ({ title: `dropped ${n}`, run: 'true' }));
  const imported = run<Task[]>('task', 'import', '-', { input: JSON.stringify(many) });
  for (const t of imported) run('task', 'cancel', t.id);
  const done = add('done last');
  claim('agent-2', done.id);
  run('task', 'complete', done.id, '--agent', 'agent-2', '--summary', 'kept on the board');
  const first = add('first step', '--priority', 'high');
  add('second step', '--depends-on', first.id, '--capability', 'code');
  const retried = add('flaky', '--max-attempts', '3');
  claim('agent-3', retried.id);
  run('task', 'fail', retried.id, '--agent', 'agent-3', '--reason', 'flaked once', '--exit-code', '1');
  const failed = add('broken');
  claim('agent-4', failed.id);
  run(
    'task',
    'fail',
    failed.id,
    '--agent',
    'agent-4',
    '--final',
    '--reason',
    'no way',
    '--error-code',
    'E_TESTS',
  );
  run('task', 'cancel', add('unwanted').id);
  const working = add('in progress', '--resource', 'src/**');
  claim('agent-5', working.id);
  run(
    'checkpoint',
    'save',
    '--agent',
    'agent-5',
    '--task',
    working.id,
    '--step',
    'half',
    '--progress',
    '0.5',
  );
  run(
    'checkpoint',
    'save',
    '--agent',
    'agent-5',
    '--task',
    working.id,
    '--step',
    'more',
    '--data',
    '{"k":1}',
  );

  run('agent', 'pause', 'agent-6');
  const [mail] = run<{ id: string }[]>('mail', 'send', 'look at this', '--to', 'agent-1', '--task', first.id);
  run('mail', 'send', 'status report', '--to', 'operator', '--type', 'status');
  run('mail', 'ack', mail!.id, '--agent', 'agent-1');

  // Recovery alerts: a snapshot file removed behind Dream.OS's back is rebuilt, and alerted.
  fs.rmSync(path.join(dir, '.dreamos', 'agents.json'));
  add('after the repair');
  const alerts = run<{ id: string }[]>('alert', 'list');
  expect(alerts.length).toBeGreaterThan(0);
  run('alert', 'ack', alerts[0]!.id);
}

/** Every line of a JSON workspace's journal, segment after segment. */
export function journalLines(home: string): string[] {
  const dir = path.join(home, 'journal');
  return fs
    .readdirSync(dir)
    .sort()
    .flatMap((f) => fs.readFileSync(path.join(dir, f), 'utf8').split('\n'))
    .filter((line) => line !== '');
}

/** The archived tasks of a JSON workspace, by id. */
export function archivedTasks(home: string): Record<string, unknown> {
  const dir = path.join(home, 'archive');
  const tasks: Record<string, unknown> = {};
  for (const f of fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.jsonl'))
    .sort())
    for (const line of fs.readFileSync(path.join(dir, f), 'utf8').split('\n'))
      if (line) {
        const task = JSON.parse(line) as { id: string };
        tasks[task.id] = task;
      }
  return tasks;
}

/** The dedupe keys kept beside a JSON workspace's archive files: file name → its keys. */
export function archiveKeys(home: string): Record<string, unknown> {
  const dir = path.join(home, 'archive');
  return Object.fromEntries(
    fs
      .readdirSync(dir)
      .filter((name) => name.endsWith('.keys.json'))
      .sort()
      .map((name) => [name, JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8'))]),
  );
}
