import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');
/** The binary under test; DREAMOS_TEST_BIN points at a private copy while others rebuild dist/. */
export const BIN = process.env.DREAMOS_TEST_BIN ?? path.join(ROOT, 'bin', 'dreamos.js');

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
    timeout: 60_000,
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
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) =>
      resolve({ code: code ?? -1, stdout, stderr, json: <T>() => JSON.parse(stdout) as T }),
    );
  });
}
