/**
 * Errors as `application/problem+json` (RFC 9457): the same error codes as the CLI, each mapped to
 * an HTTP status. A refusal says what was refused; anything that is not a refusal (a bug, a failed
 * disk) answers 500 with no message of its own, and is logged on the server's stderr instead.
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import * as z from 'zod';
import { DreamError, type ErrorCode, ExitCode } from '../errors.js';
import { oneLine } from '../sanitize.js';
import type { Scope } from './context.js';

/**
 * A request its token's scopes do not allow, found by the handler rather than the route (an import
 * needs `tasks:approve` as well as `tasks:write`): answered 403 like a route's own scope.
 */
export class ScopeRefusal extends Error {
  constructor(
    readonly scope: Scope,
    message: string,
  ) {
    super(message);
    this.name = 'ScopeRefusal';
  }
}

/** The 403 of a missing scope, with the challenge RFC 6750 gives it. */
export const scopeProblem = (scope: Scope, detail: string): ProblemParts =>
  refusal(403, 'E_FORBIDDEN', detail, {
    'WWW-Authenticate': `Bearer realm="dreamos", error="insufficient_scope", scope="${scope}"`,
  });

/** The codes of refusals the API makes before any workspace operation runs (auth, routing). */
export type ProblemCode = ErrorCode | 'E_UNAUTHORIZED' | 'E_FORBIDDEN' | 'E_METHOD' | 'E_MEDIA_TYPE';

export const PROBLEM_TYPE = 'application/problem+json';

/** A problem document, as the OpenAPI document describes it too. */
export const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  instance: z.string(),
  code: z.string(),
  exitCode: z.number().int(),
  /** For a body, query or path parameter that failed validation: each field and what is wrong. */
  errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});
export type Problem = z.infer<typeof Problem>;

/** Seconds a client should wait before trying again a change refused for a busy lock. */
export const RETRY_AFTER_SECONDS = 2;

const STATUS_OF: Record<ErrorCode, ContentfulStatusCode> = {
  E_USAGE: 400,
  E_INVALID_INPUT: 400,
  E_NOT_FOUND: 404,
  E_NO_WORKSPACE: 404,
  // Nothing to claim is a fact about the board now, not a missing resource (docs/decisions/http-api.md).
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

/** Codes whose message is meant for the caller; the others are internal and never sent. */
const TOLD: ReadonlySet<ErrorCode> = new Set([
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
]);

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export const statusOfCode = (code: ErrorCode): ContentfulStatusCode => STATUS_OF[code];

/** What the problem document and its response are made of, before the request's path is known. */
export interface ProblemParts {
  status: ContentfulStatusCode;
  code: ProblemCode;
  detail: string;
  exitCode: number;
  errors?: Array<{ field: string; message: string }>;
  headers?: Record<string, string>;
}

/** A refusal made by the API itself (authentication, routing, media type). */
export function refusal(
  status: ContentfulStatusCode,
  code: ProblemCode,
  detail: string,
  headers?: Record<string, string>,
): ProblemParts {
  return { status, code, detail, exitCode: ExitCode.error, ...(headers ? { headers } : {}) };
}

/** Where a zod issue is, as a caller names it: `title`, `tasks[2].title`, `(body)` for the whole. */
export function fieldOf(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out ? `.${String(key)}` : String(key);
  return out || '(root)';
}

/** A zod failure of the body, the query or the path parameters: a 400 naming every field. */
export function validationProblem(
  where: 'body' | 'query' | 'path',
  error: { issues: readonly z.core.$ZodIssue[] },
): ProblemParts {
  const seen = new Set<string>();
  const errors = error.issues
    .map((issue) => ({ field: fieldOf(issue.path), message: oneLine(issue.message, 300) }))
    .filter((e) => !seen.has(e.field) && seen.add(e.field));
  const named = errors
    .slice(0, 3)
    .map((e) => `${e.field}: ${e.message}`)
    .join('; ');
  return {
    status: 400,
    code: 'E_INVALID_INPUT',
    detail: `invalid ${where === 'body' ? 'request body' : where === 'query' ? 'query' : 'path'}: ${named}`,
    exitCode: ExitCode.usage,
    errors: errors.slice(0, 50),
  };
}

/** Any thrown value as a problem; `internal` is set when it must be logged rather than told. */
export function problemOf(error: unknown): ProblemParts & { internal?: unknown } {
  if (error instanceof DreamError) {
    const status = STATUS_OF[error.code];
    if (!TOLD.has(error.code)) return { ...internalProblem(), internal: error };
    // What is damaged, and where on the serving machine, is for its operator (doctor), not the caller.
    if (error.code === 'E_CORRUPT')
      return {
        status,
        code: error.code,
        detail: 'the workspace state is damaged: its operator can see what with `dreamos doctor`',
        exitCode: error.exitCode,
        internal: error,
      };
    return {
      status,
      code: error.code,
      detail: oneLine(error.message, 2000),
      exitCode: error.exitCode,
      ...(status === 503 ? { headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) } } : {}),
    };
  }
  if (error instanceof ScopeRefusal) return scopeProblem(error.scope, error.message);
  if (error instanceof HTTPException) {
    // hono's own refusals: a body past the cap, malformed JSON.
    if (error.status === 413)
      return {
        status: 413,
        code: 'E_INVALID_INPUT',
        detail: 'the request body is too large',
        exitCode: ExitCode.usage,
      };
    if (error.status === 400)
      return {
        status: 400,
        code: 'E_INVALID_INPUT',
        detail: 'the request body is not valid JSON',
        exitCode: ExitCode.usage,
      };
  }
  return { ...internalProblem(), internal: error };
}

const internalProblem = (): ProblemParts => ({
  status: 500,
  code: 'E_INTERNAL',
  detail: 'the server could not do this; its log says why',
  exitCode: ExitCode.error,
});

/** The response for a problem at this request. */
export function problemResponse(c: Context, parts: ProblemParts): Response {
  const body: Problem = {
    type: `urn:dreamos:problem:${parts.code}`,
    title: TITLES[parts.status] ?? 'Error',
    status: parts.status,
    detail: parts.detail,
    instance: c.req.path,
    code: parts.code,
    exitCode: parts.exitCode,
    ...(parts.errors ? { errors: parts.errors } : {}),
  };
  return new Response(JSON.stringify(body), {
    status: parts.status,
    headers: { 'Content-Type': PROBLEM_TYPE, ...parts.headers },
  });
}

/**
 * Long runs of token-like characters (a bearer secret, a key) are cut out of what is logged: a
 * message may quote what a request carried.
 */
export const redact = (text: string): string => text.replace(/[A-Za-z0-9_+/=-]{32,}/g, '[redacted]');

/** One line on stderr for an error the caller was not told about. */
export function logInternal(c: Context, error: unknown): void {
  const what =
    error instanceof DreamError
      ? `${error.code}: ${error.message}`
      : error instanceof Error
        ? `${error.name}: ${error.message}`
        : String(error);
  process.stderr.write(
    `dreamos: ${c.req.method} ${oneLine(c.req.path, 200)} failed: ${redact(oneLine(what, 500))}\n`,
  );
}
