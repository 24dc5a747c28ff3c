/**
 * API tokens (docs/api.md): who may call the HTTP API, and for what. A token is shown once, when it
 * is made; the workspace keeps only its SHA-256, in `tokens.json` (mode 600), read and written
 * under the lock `locks/tokens`. A server reads the file again whenever it changes, so a token
 * made, revoked or expired works or stops working at once, without a restart.
 *
 * A secret is `dos_` followed by 32 random bytes in base64url: the prefix lets secret scanners and
 * people recognise one. A request's secret is hashed and compared with every stored hash in
 * constant time, so how long a refusal takes says nothing about how close a guess was.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import type { WorkspacePaths } from '../state/paths.js';
import { CorruptFileError } from '../state/store.js';
import { type Caller, SCOPES, type Scope, type TokenVerifier } from './api/context.js';
import { conflict, invalidInput, notFound } from './errors.js';
import { LockedJsonFile } from './locked-file.js';
import { oneLine } from './sanitize.js';

export const TOKEN_PREFIX = 'dos_';
const SECRET_RE = /^dos_[A-Za-z0-9_-]{43}$/;
/** What a listing shows of a secret: the prefix and four characters, too few to guess the rest from. */
const HINT_LENGTH = TOKEN_PREFIX.length + 4;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const TokenRecord = z.strictObject({
  id: z.string().regex(/^tok-[0-9a-f]{8}$/),
  name: z.string().regex(NAME_RE),
  /** SHA-256 of the whole secret, hex. */
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  hint: z.string().max(HINT_LENGTH),
  scopes: z.array(z.enum(SCOPES)).min(1),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime().nullable(),
  revokedAt: z.iso.datetime().nullable(),
});
export type TokenRecord = z.infer<typeof TokenRecord>;

const TokensFile = z.strictObject({ schemaVersion: z.literal(1), tokens: z.array(TokenRecord) });
type TokensFile = z.infer<typeof TokensFile>;

/** A token as `token list` shows it: everything but its hash. */
export type TokenInfo = Omit<TokenRecord, 'hash'> & { state: 'active' | 'expired' | 'revoked' };

export interface CreateTokenInput {
  scopes: readonly string[];
  name?: string;
  /** Seconds from now; null: never. */
  expiresIn: number | null;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest();

/** `read,tasks:write` as scopes, each checked. */
export function parseScopes(words: readonly string[]): Scope[] {
  const scopes = [...new Set(words.flatMap((w) => w.split(',')).map((w) => w.trim()))].filter(Boolean);
  if (scopes.length === 0) throw invalidInput(`a token needs at least one scope (${SCOPES.join(', ')})`);
  for (const scope of scopes)
    if (!(SCOPES as readonly string[]).includes(scope))
      throw invalidInput(`unknown scope ${JSON.stringify(oneLine(scope, 40))} (one of ${SCOPES.join(', ')})`);
  return scopes as Scope[];
}

function stateOf(record: TokenRecord, now: number): TokenInfo['state'] {
  if (record.revokedAt) return 'revoked';
  if (record.expiresAt && Date.parse(record.expiresAt) <= now) return 'expired';
  return 'active';
}

export class TokenStore implements TokenVerifier {
  private readonly file: LockedJsonFile<typeof TokensFile>;
  /** The file as last read, and what identified it then (a write replaces the file: a new inode). */
  private cached: { key: string; tokens: TokenRecord[] } | null = null;
  /** Why the file could not be read, when it could not: every token is refused until it is mended. */
  problem: string | null = null;
  /** What was found damaged and moved aside by this store's changes, for the command to tell. */
  readonly quarantined: string[] = [];

  constructor(paths: WorkspacePaths) {
    this.file = new LockedJsonFile(paths, {
      path: join(paths.home, 'tokens.json'),
      lock: 'tokens',
      schema: TokensFile,
      empty: () => ({ schemaVersion: 1, tokens: [] }),
      // Nothing can rebuild the hashes, so the tokens are gone, which refuses their holders rather
      // than letting anyone in.
      loss: 'the tokens it held no longer work: make new ones',
      onQuarantine: (message) => this.quarantined.push(message),
    });
  }

  get path(): string {
    return this.file.path;
  }

  /** The tokens as the file holds them now; a damaged file holds none (see `problem`). */
  private current(): TokenRecord[] {
    let key: string;
    try {
      const st = fs.statSync(this.file.path);
      key = `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    } catch {
      key = 'absent';
    }
    if (this.cached?.key === key) return this.cached.tokens;
    let tokens: TokenRecord[] = [];
    try {
      tokens = this.file.readSync()?.tokens ?? [];
      this.problem = null;
    } catch (error) {
      if (!(error instanceof CorruptFileError)) throw error;
      this.problem = error.message;
    }
    this.cached = { key, tokens };
    return tokens;
  }

  verify(secret: string): Caller | null {
    const tokens = this.current();
    if (!SECRET_RE.test(secret)) return null;
    const hash = sha256(secret);
    let found: TokenRecord | null = null;
    // Every stored hash is compared, found or not: the time taken does not depend on which matched.
    for (const record of tokens) if (timingSafeEqual(Buffer.from(record.hash, 'hex'), hash)) found = record;
    if (!found || stateOf(found, Date.now()) !== 'active') return null;
    return { tokenId: found.id, name: found.name, scopes: found.scopes };
  }

  usable(): number {
    const now = Date.now();
    return this.current().filter((t) => stateOf(t, now) === 'active').length;
  }

  list(): TokenInfo[] {
    const now = Date.now();
    return this.current().map(({ hash: _hash, ...info }) => ({
      ...info,
      state: stateOf(info as TokenRecord, now),
    }));
  }

  /** Make a token; the secret is returned this once and kept nowhere. */
  async create(input: CreateTokenInput): Promise<{ secret: string; token: TokenInfo }> {
    const scopes = parseScopes(input.scopes);
    if (input.name !== undefined && !NAME_RE.test(input.name))
      throw invalidInput(
        `a token name is letters, digits, dots, dashes and underscores, at most 64: ${JSON.stringify(oneLine(input.name, 40))}`,
      );
    return this.change((file) => {
      const name = input.name ?? nextName(file.tokens);
      if (file.tokens.some((t) => t.name === name)) throw conflict(`a token named ${name} exists already`);
      const secret = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
      const now = new Date();
      const record: TokenRecord = {
        id: `tok-${randomBytes(4).toString('hex')}`,
        name,
        hash: sha256(secret).toString('hex'),
        hint: secret.slice(0, HINT_LENGTH),
        scopes,
        createdAt: now.toISOString(),
        expiresAt:
          input.expiresIn === null ? null : new Date(now.getTime() + input.expiresIn * 1000).toISOString(),
        revokedAt: null,
      };
      file.tokens.push(record);
      const { hash: _hash, ...info } = record;
      return { secret, token: { ...info, state: 'active' as const } };
    });
  }

  /** Revoke a token by its id or name; it is refused from now on and stays listed as revoked. */
  async revoke(which: string): Promise<TokenInfo> {
    return this.change((file) => {
      const record = file.tokens.find((t) => t.id === which || t.name === which);
      if (!record) throw notFound(`no token ${JSON.stringify(oneLine(which, 70))}`);
      if (!record.revokedAt) record.revokedAt = new Date().toISOString();
      const { hash: _hash, ...info } = record;
      return { ...info, state: 'revoked' as const };
    });
  }

  private async change<T>(fn: (file: TokensFile) => T): Promise<T> {
    const result = await this.file.change(fn);
    this.cached = null;
    return result;
  }
}

function nextName(tokens: readonly TokenRecord[]): string {
  for (let n = tokens.length + 1; ; n++)
    if (!tokens.some((t) => t.name === `token-${n}`)) return `token-${n}`;
}

export const openTokenStore = (paths: WorkspacePaths): TokenStore => new TokenStore(paths);
