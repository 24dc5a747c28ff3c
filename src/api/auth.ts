/**
 * The bearer check: every request carries `Authorization: Bearer <token>`, and every route names
 * the scope it needs (docs/api.md). Tokens are checked by the store (src/tokens.ts), which compares
 * SHA-256 hashes in constant time and reads revocations and expiries live; this file only reads the
 * header and answers 401 or 403.
 */
import type { MiddlewareHandler } from 'hono';
import { type ApiEnv, allows, type Scope, type TokenVerifier } from './context.js';
import { problemResponse, refusal, scopeProblem } from './problem.js';

/** `WWW-Authenticate` on every 401 (RFC 6750): the scheme, and why when a token was sent. */
const challenge = (error?: string) => ({
  'WWW-Authenticate': error ? `Bearer realm="dreamos", error="${error}"` : 'Bearer realm="dreamos"',
});

/** The secret of an `Authorization: Bearer …` header, or null when it is missing or of another form. */
export function bearerSecret(header: string | undefined): string | null {
  const match = /^Bearer +([\x21-\x7e]+) *$/i.exec(header ?? '');
  return match ? match[1]! : null;
}

/** Who is calling: set for every request with a usable token, refused with 401 otherwise. */
export function authenticate(tokens: TokenVerifier): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const header = c.req.header('Authorization');
    if (header === undefined)
      return problemResponse(
        c,
        refusal(401, 'E_UNAUTHORIZED', 'a token is needed: send Authorization: Bearer <token>', challenge()),
      );
    const secret = bearerSecret(header);
    if (secret === null)
      return problemResponse(
        c,
        refusal(
          401,
          'E_UNAUTHORIZED',
          'the Authorization header must read Bearer <token>',
          challenge('invalid_request'),
        ),
      );
    const caller = tokens.verify(secret);
    // Unknown, expired and revoked tokens are refused alike: the answer says nothing of which.
    if (!caller)
      return problemResponse(
        c,
        refusal(
          401,
          'E_UNAUTHORIZED',
          'the token is unknown, expired or revoked (see dreamos token list)',
          challenge('invalid_token'),
        ),
      );
    c.set('caller', caller);
    await next();
  };
}

/** Refuse (403) a caller whose token lacks `scope` (`admin` has every scope). */
export function requireScope(scope: Scope): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    if (!allows(c.get('caller'), scope))
      return problemResponse(c, scopeProblem(scope, `this needs a token with the ${scope} scope (or admin)`));
    await next();
  };
}
