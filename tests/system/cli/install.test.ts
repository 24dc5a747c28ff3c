/**
 * Installing the command from a clone, as the README says: `npm install -g .` of the folder (here into
 * a temporary prefix, offline), then `dreamos` from any other folder. The version it prints is the
 * one in package.json.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { ROOT, tempDir } from '../../helpers/workspace.js';

vi.setConfig({ testTimeout: 300_000 });

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir('dreamos-install-');
});
afterEach(() => tmp.cleanup());

const run = (command: string, args: string[], cwd: string) =>
  spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 240_000, killSignal: 'SIGKILL' });

it('installs from the clone into a prefix, and runs from another folder', () => {
  const prefix = path.join(tmp.dir, 'prefix');
  const elsewhere = path.join(tmp.dir, 'elsewhere');
  fs.mkdirSync(elsewhere);
  // The clone is built already (`npm install` ran its prepare); nothing is downloaded.
  const install = run(
    'npm',
    ['install', '-g', '--prefix', prefix, ROOT, '--offline', '--no-audit', '--no-fund', '--ignore-scripts'],
    elsewhere,
  );
  expect(install.status, `${install.stdout}\n${install.stderr}`).toBe(0);
  const bin = path.join(prefix, 'bin', 'dreamos');
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const version = run(bin, ['--version'], elsewhere);
  expect(version.status, version.stderr).toBe(0);
  expect(version.stdout.trim()).toBe(pkg.version);
  const init = run(bin, ['init'], elsewhere);
  expect(init.status, init.stderr).toBe(0);
  expect(fs.existsSync(path.join(elsewhere, '.dreamos', 'config.json'))).toBe(true);
});

it('packs the files the installed command needs', () => {
  const packed = run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], ROOT);
  expect(packed.status, packed.stderr).toBe(0);
  const files = (JSON.parse(packed.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  for (const needed of [
    'bin/dreamos.js',
    'bin/package.json',
    'dist/cli.cjs',
    'dist/launcher.cjs',
    'dist/console.js',
    'dist/index.js',
  ])
    expect(files).toContain(needed);
  expect(files.filter((f) => f.startsWith('src/') || f.startsWith('tests/'))).toEqual([]);
  // npm skips an entry of `files` that matches nothing: each must name something in the build.
  const listed = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { files: string[] })
    .files;
  expect(listed.filter((entry) => !fs.existsSync(path.join(ROOT, entry)))).toEqual([]);
});
