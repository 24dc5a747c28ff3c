import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli, tempDir } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
const run = (args: string[]) => cli(args, { cwd: tmp.dir });
interface TaskJson {
  id: string;
  status: string;
  result: { errorCode?: string } | null;
}

beforeEach(() => {
  tmp = tempDir();
  expect(run(['init']).code).toBe(0);
});
afterEach(() => tmp.cleanup());

describe('every failure carries a typed error code', () => {
  it('records the code given, E_REPORTED when none is, and refuses a malformed one', () => {
    const a = run(['task', 'add', 'a', '--json']).json<TaskJson>();
    const b = run(['task', 'add', 'b', '--json']).json<TaskJson>();
    run(['task', 'claim', '--agent', 'agent-2', '--task', a.id]);
    run(['task', 'claim', '--agent', 'agent-2', '--task', b.id]);
    const typed = run(['task', 'fail', a.id, '--reason', 'tests red', '--error-code', 'E_TESTS', '--json']);
    expect(typed.json<TaskJson>().result?.errorCode).toBe('E_TESTS');
    const bad = run(['task', 'fail', b.id, '--reason', 'x', '--error-code', 'oops\u001b[31m']);
    expect(bad.code).toBe(2);
    expect(run(['task', 'show', b.id, '--json']).json<TaskJson>().status).toBe('working');
    const untyped = run(['task', 'fail', b.id, '--reason', 'no code given', '--json']);
    expect(untyped.json<TaskJson>().result?.errorCode).toBe('E_REPORTED');
  });
});
