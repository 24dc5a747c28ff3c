/** Every error code of the CLI has its HTTP status; a refusal is told, an internal error is not. */
import { HTTPException } from 'hono/http-exception';
import { expect, it } from 'vitest';
import { fieldOf, problemOf, redact } from '../../../../src/api/problem.js';
import { DreamError, ERROR_CODES, type ErrorCode } from '../../../../src/errors.js';

const EXPECTED: Record<ErrorCode, number> = {
  E_USAGE: 400,
  E_INVALID_INPUT: 400,
  E_NOT_FOUND: 404,
  E_NO_WORKSPACE: 404,
  E_NOTHING_TO_CLAIM: 409,
  E_CONFLICT: 409,
  E_INVALID_TRANSITION: 409,
  E_CYCLE: 409,
  E_LIMIT: 409,
  E_LOCK_TIMEOUT: 503,
  E_LOCK_COMPROMISED: 503,
  E_CORRUPT: 500,
  E_UNTRUSTED: 500,
  E_IO: 500,
  E_INTERNAL: 500,
};

it('maps every error code to its status, with the exit code the CLI would give', () => {
  for (const code of ERROR_CODES) {
    const error = new DreamError(code, `the ${code} message`);
    const problem = problemOf(error);
    expect(problem.status, code).toBe(EXPECTED[code]);
    const told = !['E_UNTRUSTED', 'E_IO', 'E_INTERNAL'].includes(code);
    // A damaged state keeps its code, but what is damaged, and where, goes to the server's log.
    const logged = !told || code === 'E_CORRUPT';
    expect(problem.detail.includes(code), code).toBe(told && !logged);
    expect(problem.code).toBe(told ? code : 'E_INTERNAL');
    if (told) expect(problem.exitCode).toBe(error.exitCode);
    expect(problem.internal !== undefined).toBe(logged);
  }
});

it('asks a client refused for a busy lock to retry later', () => {
  for (const code of ['E_LOCK_TIMEOUT', 'E_LOCK_COMPROMISED'] as const)
    expect(problemOf(new DreamError(code, 'busy')).headers).toEqual({ 'Retry-After': '2' });
  expect(problemOf(new DreamError('E_CONFLICT', 'no')).headers).toBeUndefined();
});

it("tells hono's own refusals plainly and keeps anything else to the log", () => {
  expect(problemOf(new HTTPException(400, { message: 'Malformed JSON in request body' }))).toMatchObject({
    status: 400,
    detail: 'the request body is not valid JSON',
  });
  expect(problemOf(new HTTPException(413))).toMatchObject({ status: 413, code: 'E_INVALID_INPUT' });
  const bug = problemOf(new RangeError('/home/me/.dreamos/boards is gone'));
  expect(bug).toMatchObject({ status: 500, code: 'E_INTERNAL' });
  expect(bug.detail).not.toContain('/home');
});

it('names fields as a caller writes them, and redacts secrets from what is logged', () => {
  expect(fieldOf(['title'])).toBe('title');
  expect(fieldOf([2, 'budget', 'usd'])).toBe('[2].budget.usd');
  expect(fieldOf([])).toBe('(root)');
  expect(redact(`token dos_${'a'.repeat(43)} refused`)).toBe('token [redacted] refused');
});
