/**
 * What a suite that needs PostgreSQL does when the server does or does not answer, and the line
 * that says so. Pure, so that both the test files (tests/helpers/pg.ts) and the run's global setup
 * (tests/helpers/pg-run.ts) can use it without loading vitest's test API or probing the server.
 */

/** `run` when the server answers; otherwise `fail` on CI, `skip` elsewhere. */
export type PgSuiteMode = 'run' | 'skip' | 'fail';

/** CI counts when it is set to anything but '', '0' or 'false'. */
export function pgSuiteMode(available: boolean, env: { CI?: string | undefined }): PgSuiteMode {
  if (available) return 'run';
  const ci = (env.CI ?? '').trim().toLowerCase();
  return ci !== '' && ci !== '0' && ci !== 'false' ? 'fail' : 'skip';
}

/** The URL without its password, to print. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(an unparsable URL)';
  }
}

/** The line a run prints (or a CI failure carries) when the server does not answer. */
export function notAnsweringLine(url: string, mode: Exclude<PgSuiteMode, 'run'>): string {
  const what = mode === 'skip' ? 'PostgreSQL suites skipped' : 'PostgreSQL suites cannot run on CI';
  return `PostgreSQL at ${redactUrl(url)} did not answer: ${what} (DREAMOS_TEST_PG names another server)`;
}
