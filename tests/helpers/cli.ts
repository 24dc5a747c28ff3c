/**
 * Small helpers for driving the real `dreamos` binary in a throw-away workspace, and for asserting the
 * CLI's contract: exit codes, one-line errors on stderr, JSON on stdout with --json, nothing changed
 * by a refused command.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import type { Task } from '../../state/schemas.js';
import { type CliResult, cli, tempDir, writePolicies } from './workspace.js';

export type { CliResult };

export interface RunOptions {
  cwd: string;
  env?: Record<string, string>;
  input?: string;
}

/** Run `dreamos ARGS` as a child process, the way a script would. */
export const dreamos: (args: string[], options: RunOptions) => CliResult = cli;

/** Describe a result for assertion messages, so a failing test says what the CLI printed. */
export const show = (r: CliResult) =>
  `exit ${r.code}\n--- stdout\n${r.stdout.slice(0, 2000)}\n--- stderr\n${r.stderr.slice(0, 2000)}`;

/** A temporary folder with a fresh workspace in it, and shorthands that run commands there. */
export interface Board {
  dir: string;
  run(...args: string[]): CliResult;
  /** Run with --json, expect exit 0, and parse stdout. */
  json<T = unknown>(...args: string[]): T;
  /** `task add TITLE FLAGS… --json`, expecting success. */
  add(title: string, ...flags: string[]): Task;
  list(...flags: string[]): Task[];
  get(id: string): Task;
  /** Everything a refused command must leave untouched: every task, and the journal's files and sizes. */
  state(): BoardState;
  cleanup(): void;
}

export interface BoardState {
  /** Size of each journal segment: a state change appends a line, so this is the journal position. */
  journal: Record<string, number>;
  tasks: Task[];
}

function journalSizes(dir: string): Record<string, number> {
  const journal = path.join(dir, '.dreamos', 'journal');
  return Object.fromEntries(fs.readdirSync(journal).map((f) => [f, fs.statSync(path.join(journal, f)).size]));
}

/** The state after the last refusal, reused as the next one's "before" while nothing else ran. */
const lastKnown = new WeakMap<Board, BoardState>();

export function board(options: { init?: boolean } = {}): Board {
  const tmp = tempDir('dreamos-cli-');
  const exec = (args: string[]) => dreamos(args, { cwd: tmp.dir });
  const json = <T>(...args: string[]): T => {
    const r = b.run(...args, '--json');
    expect(r.code, show(r)).toBe(0);
    return r.json<T>();
  };
  const parsed = <T>(args: string[]): T => {
    const r = exec([...args, '--json']);
    expect(r.code, show(r)).toBe(0);
    return r.json<T>();
  };
  const b: Board = {
    dir: tmp.dir,
    run: (...args) => {
      lastKnown.delete(b);
      return exec(args);
    },
    json,
    add: (title, ...flags) => json<Task>('task', 'add', title, ...flags),
    list: (...flags) => json<Task[]>('task', 'list', ...flags),
    get: (id) => json<Task>('task', 'show', id),
    state: () => {
      const tasks = parsed<Task[]>(['task', 'list']);
      return { journal: journalSizes(tmp.dir), tasks };
    },
    cleanup: tmp.cleanup,
  };
  if (options.init !== false) {
    const r = exec(['init']);
    expect(r.code, show(r)).toBe(0);
  }
  return b;
}

const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/** A refusal: the exit code, ONE clean line on stderr that says what is wrong, nothing on stdout. */
export function expectError(r: CliResult, exitCode: number, message?: RegExp): void {
  expect(r.code, show(r)).toBe(exitCode);
  expect(r.stdout, show(r)).toBe('');
  expectOneLine(r.stderr, message);
}

/** With --json: the error as JSON on stdout (code, message, exit code) and still one line on stderr. */
export function expectJsonError(r: CliResult, exitCode: number, code: string, message?: RegExp): void {
  expect(r.code, show(r)).toBe(exitCode);
  const body = r.json<{ error: { code: string; message: string; exitCode: number } }>();
  expect(body.error.code, show(r)).toBe(code);
  expect(body.error.exitCode).toBe(exitCode);
  if (message) expect(body.error.message).toMatch(message);
  expectOneLine(r.stderr, message);
}

function expectOneLine(stderr: string, message?: RegExp): void {
  const lines = stderr.split('\n').filter(Boolean);
  expect(lines, stderr).toHaveLength(1);
  const line = lines[0]!;
  expect(line.startsWith('dreamos: '), line).toBe(true);
  expect(CONTROL.test(line), `control characters in ${JSON.stringify(line)}`).toBe(false);
  expect(line.length).toBeLessThan(1100);
  if (message) expect(line).toMatch(message);
}

/** Run a command that must be refused, and check that the board and the journal did not change. */
export function expectRefused(
  b: Board,
  args: string[],
  exitCode: number,
  message?: RegExp,
  options: { input?: string; env?: Record<string, string> } = {},
): CliResult {
  const before = lastKnown.get(b) ?? b.state();
  const r = dreamos(args, {
    cwd: b.dir,
    ...(options.input === undefined ? {} : { input: options.input }),
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  expectError(r, exitCode, message);
  const after = b.state();
  expect(after).toEqual(before);
  lastKnown.set(b, after);
  return r;
}

/** Change the workspace policies the way an operator would: by editing config.json. */
export function setPolicies(b: Board, policies: Record<string, unknown>): void {
  writePolicies(path.join(b.dir, '.dreamos'), policies);
}

export const statuses = (tasks: Task[]) => Object.fromEntries(tasks.map((t) => [t.id, t.status]));
export const transitions = (t: Task) => t.history.map((h) => `${h.from ?? '∅'}>${h.to}`);
