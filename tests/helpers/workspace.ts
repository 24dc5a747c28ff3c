import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');
/** The binary under test; DREAMOS_TEST_BIN points at a private copy while others rebuild dist/. */
export const BIN = process.env.DREAMOS_TEST_BIN ?? path.join(ROOT, 'bin', 'dreamos.js');

/** Change a workspace's policies the way an operator would: by editing its config.json. */
export function writePolicies(dreamosDir: string, policies: Record<string, unknown>): void {
  const file = path.join(dreamosDir, 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8'));
  config.policies = { ...config.policies, ...policies };
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
}

/** A fresh temporary folder, removed by the returned cleanup. */
export function tempDir(prefix = 'dreamos-test-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  json: <T = unknown>() => T;
}

/** Run the real `dreamos` binary as a child process, as a user or a script would. */
export function cli(
  args: string[],
  options: { cwd: string; env?: Record<string, string>; input?: string },
): CliResult {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    input: options.input,
    encoding: 'utf8',
    // A command that hangs fails its test: SIGKILL, because a process stuck outside JavaScript
    // never runs the SIGTERM handlers it installed.
    timeout: 60_000,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
  });
  const stdout = result.stdout ?? '';
  return {
    code: result.status ?? -1,
    stdout,
    stderr: result.stderr ?? '',
    json: <T>() => JSON.parse(stdout) as T,
  };
}

/** What a child process has written so far, on stdout and stderr. */
export function collectOutput(child: ChildProcess): { stdout: () => string; stderr: () => string } {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  return { stdout: () => stdout, stderr: () => stderr };
}

/** Async variant for running several CLI processes at once. */
export function cliAsync(
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
    });
    const output = collectOutput(child);
    child.on('close', (code) => {
      const stdout = output.stdout();
      resolve({ code: code ?? -1, stdout, stderr: output.stderr(), json: <T>() => JSON.parse(stdout) as T });
    });
  });
}

/** The display names of the eight default agents, as the console shows them. */
export const ROLE_NAMES = [
  'Captain',
  'Infrastructure',
  'Loop Engineer',
  'Integration',
  'Task Engineer',
  'Feedback',
  'UX',
  'Testing',
];

/** Make `dir` a git repository with one (empty) commit. */
export function gitInitWithCommit(dir: string): void {
  execFileSync('git', ['init', '-q'], { cwd: dir });
  gitEmptyCommit(dir);
}

/** Add an empty commit to the repository at `dir`. */
export function gitEmptyCommit(dir: string): void {
  execFileSync(
    'git',
    ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--allow-empty', '-m', 'x'],
    { cwd: dir },
  );
}
