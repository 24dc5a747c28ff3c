/**
 * Typed errors with the exit codes of the CLI (docs/cli.md). Every failure the CLI reports is one of these;
 * anything else is a bug and exits 1 with its stack in DREAMOS_DEBUG mode.
 */
export const ExitCode = {
  ok: 0,
  error: 1,
  usage: 2,
  notFound: 3,
  conflict: 4,
  lockTimeout: 5,
  corrupt: 6,
  /** `run --until-idle`: a task this run worked on ended failed. */
  tasksFailed: 7,
  /** Something needs the operator: `attention --exit-code`, or work left that nobody can take. */
  needsOperator: 8,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Every code a DreamError may carry; peers (the shared writer) are checked against this list. */
export const ERROR_CODES = [
  'E_USAGE',
  'E_INVALID_INPUT',
  'E_NOT_FOUND',
  'E_NO_WORKSPACE',
  'E_NOTHING_TO_CLAIM',
  'E_CONFLICT',
  'E_INVALID_TRANSITION',
  'E_CYCLE',
  'E_LIMIT',
  'E_LOCK_TIMEOUT',
  'E_LOCK_COMPROMISED',
  'E_CORRUPT',
  'E_UNTRUSTED',
  'E_IO',
  /** Not a DreamError at all, which is a bug: reportError prints it with this code. */
  'E_INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

const exitFor: Record<ErrorCode, ExitCode> = {
  E_USAGE: ExitCode.usage,
  E_INVALID_INPUT: ExitCode.usage,
  E_NOT_FOUND: ExitCode.notFound,
  E_NO_WORKSPACE: ExitCode.notFound,
  E_NOTHING_TO_CLAIM: ExitCode.notFound,
  E_CONFLICT: ExitCode.conflict,
  E_INVALID_TRANSITION: ExitCode.conflict,
  E_CYCLE: ExitCode.conflict,
  E_LIMIT: ExitCode.conflict,
  E_LOCK_TIMEOUT: ExitCode.lockTimeout,
  E_LOCK_COMPROMISED: ExitCode.lockTimeout,
  E_CORRUPT: ExitCode.corrupt,
  E_UNTRUSTED: ExitCode.error,
  E_IO: ExitCode.error,
  E_INTERNAL: ExitCode.error,
};

export class DreamError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'DreamError';
    this.code = code;
    this.details = details;
  }

  get exitCode(): ExitCode {
    return exitFor[this.code];
  }

  toJSON() {
    return {
      error: { code: this.code, message: this.message, exitCode: this.exitCode, details: this.details },
    };
  }
}

export const invalidInput = (message: string, details?: unknown) =>
  new DreamError('E_INVALID_INPUT', message, details);
export const notFound = (message: string) => new DreamError('E_NOT_FOUND', message);
export const conflict = (message: string) => new DreamError('E_CONFLICT', message);
export const invalidTransition = (message: string) => new DreamError('E_INVALID_TRANSITION', message);

/** Node's errno-style errors, narrowed without `any`. */
export function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error
    ? String((error as { code: unknown }).code)
    : undefined;
}

/** A write that did not go through (a full disk, a lock not had in time): worth trying again later. */
const RETRYABLE_CODES: ReadonlySet<ErrorCode> = new Set(['E_IO', 'E_LOCK_TIMEOUT', 'E_LOCK_COMPROMISED']);

/** Is this error worth trying again later? A raw fs error (ENOSPC, EIO…) is; a refusal is not. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof DreamError) return RETRYABLE_CODES.has(error.code);
  return typeof (error as { code?: unknown } | null)?.code === 'string';
}
