/** What `dreamos` and `dreamos console` do without a terminal (scripts, CI): never hang, never draw. */
import { afterAll, describe, expect, test } from 'vitest';
import { cli, tempDir } from '../../helpers/workspace.js';

const tmp = tempDir('dreamos-ui-cli-');
afterAll(() => tmp.cleanup());
/** With stdin and stdout pipes, as in a script or CI: no terminal. */
const run = (...args: string[]) => cli(args, { cwd: tmp.dir, input: '' });

describe('without a terminal', () => {
  test('`dreamos` prints the status and a hint', () => {
    expect(run('init').code).toBe(0);
    const r = run();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^workspace .*\.dreamos/);
    expect(r.stdout).toContain('backlog 0  ready 0');
    expect(r.stderr).toContain('not a terminal');
    expect(r.stderr).toContain('`dreamos` opens the console');
  });

  test('`dreamos console` refuses with a usage error and a way out', () => {
    const r = run('console', '--attach');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('the console needs a terminal');
    expect(r.stdout).toBe('');
  });

  test('`dreamos console --help` lists its options', () => {
    const r = run('console', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--attach');
    expect(r.stdout).toContain('--read-only');
  });
});
