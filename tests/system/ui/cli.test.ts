/** What `dreamos` and `dreamos console` do without a terminal (scripts, CI): never hang, never draw. */
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, test } from 'vitest';
import { BIN, tempDir } from '../../helpers/workspace.js';

const bin = process.env.DREAMOS_TEST_BIN ?? BIN;
const tmp = tempDir('dreamos-ui-cli-');
afterAll(() => tmp.cleanup());
const run = (...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], { cwd: tmp.dir, encoding: 'utf8', timeout: 30_000, input: '' });

describe('without a terminal', () => {
  test('`dreamos` prints the status and a hint', () => {
    expect(run('init').status).toBe(0);
    const r = run();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^workspace .*\.dreamos/);
    expect(r.stdout).toContain('backlog 0  ready 0');
    expect(r.stderr).toContain('not a terminal');
    expect(r.stderr).toContain('`dreamos` opens the console');
  });

  test('`dreamos console` refuses with a usage error and a way out', () => {
    const r = run('console', '--attach');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('the console needs a terminal');
    expect(r.stdout).toBe('');
  });

  test('`dreamos console --help` lists its options', () => {
    const r = run('console', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('--attach');
    expect(r.stdout).toContain('--read-only');
  });
});
