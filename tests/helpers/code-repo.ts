/**
 * A git repository in a temporary folder with a Dream.OS workspace in it, for the tests of code
 * tasks: agents whose `command` driver runs the task's prompt as a shell script (a scripted agent),
 * a Testing agent with the shell driver, and the review policies a test asks for.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Task } from '../../state/schemas.js';
import { type CliResult, cli, tempDir } from './workspace.js';

export const GIT_ID = ['-c', 'user.name=tester', '-c', 'user.email=tester@example.com'];

/**
 * A task's command that writes B into shared.txt, and when its branch is sent back with a merge
 * conflict, rebases on main and resolves it as AB: an agent that resolves its own conflict.
 */
export const RESOLVES_CONFLICT = [
  'if [ "$DREAMOS_REVIEW_REASON" = merge-conflict ]; then',
  `  git ${GIT_ID.join(' ')} rebase main >/dev/null 2>&1;`,
  '  echo AB > shared.txt && git add shared.txt &&',
  `  GIT_EDITOR=true git ${GIT_ID.join(' ')} rebase --continue >/dev/null;`,
  'else echo B > shared.txt; fi',
].join('\n');

export interface CodeRepo {
  dir: string;
  home: string;
  /** The environment every command runs with (a test may add to it). */
  env: Record<string, string>;
  git(...args: string[]): string;
  /** Run a command; a last argument `{ input }` is its stdin. */
  run(...args: (string | { input: string })[]): CliResult;
  /** Run with --json and parse stdout, whatever the exit code. */
  json<T = unknown>(...args: string[]): T;
  add(title: string, script: string, ...flags: string[]): Task;
  task(id: string): Task;
  cleanup(): void;
}

/** An agent that runs its task's prompt with `sh -c` in the task's worktree. */
export const scripted = (id: string) => ({
  id,
  name: id,
  role: 'coder',
  driver: { kind: 'command', argv: ['sh', '-c', '{prompt}'] },
});

export function codeRepo(
  options: { agents?: string[]; review?: Record<string, unknown>; files?: Record<string, string> } = {},
): CodeRepo {
  const tmp = tempDir('dreamos-code-');
  const dir = tmp.dir;
  const git = (...args: string[]) =>
    execFileSync('git', [...GIT_ID, ...args], { cwd: dir, encoding: 'utf8' }).trim();
  git('init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(dir, '.gitignore'), '.dreamos/\n');
  fs.writeFileSync(path.join(dir, 'README'), 'hello\n');
  for (const [name, text] of Object.entries(options.files ?? {}))
    fs.writeFileSync(path.join(dir, name), text);
  git('add', '--all');
  git('commit', '-q', '-m', 'first');
  const env: Record<string, string> = { GIT_CONFIG_GLOBAL: '/dev/null' };
  const run = (...args: (string | { input: string })[]) => {
    const last = args.at(-1);
    const input = typeof last === 'object' ? last.input : undefined;
    const argv = args.filter((a): a is string => typeof a === 'string');
    return cli(argv, { cwd: dir, env, ...(input !== undefined ? { input } : {}) });
  };
  const init = run('init', '--driver', 'shell');
  if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`);
  const home = path.join(dir, '.dreamos');
  const file = path.join(home, 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8'));
  config.agents = [
    ...(options.agents ?? ['coder']).map(scripted),
    { id: 'tester', name: 'Tester', role: 'testing', driver: { kind: 'shell', shell: '/bin/sh' } },
  ];
  config.policies = {
    ...config.policies,
    retry: { baseSeconds: 0.1, maxSeconds: 0.2 },
    review: options.review ?? {},
  };
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  const json = <T>(...args: string[]): T => {
    const r = run(...args, '--json');
    try {
      return JSON.parse(r.stdout) as T;
    } catch {
      throw new Error(`dreamos ${args.join(' ')}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    }
  };
  return {
    dir,
    home,
    env,
    git,
    run,
    json,
    add: (title, script, ...flags) =>
      json<Task>('task', 'add', title, '--prompt', script, '--role', 'coder', ...flags),
    task: (id) => json<Task>('task', 'show', id),
    cleanup: tmp.cleanup,
  };
}
