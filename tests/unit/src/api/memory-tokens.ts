/** A token verifier held in memory, for tests of the API without the token store. */
import type { Caller, Scope, TokenVerifier } from '../../../../src/api/context.js';

interface Held {
  caller: Caller;
  revoked: boolean;
  expiresAt: number | null;
}

export class MemoryTokens implements TokenVerifier {
  private readonly held = new Map<string, Held>();

  /** Hold a token; returns its secret. */
  add(secret: string, scopes: Scope[], options: { revoked?: boolean; expiresAt?: number } = {}): string {
    const tokenId = `tok-${this.held.size + 1}`;
    this.held.set(secret, {
      caller: { tokenId, name: secret, scopes },
      revoked: options.revoked ?? false,
      expiresAt: options.expiresAt ?? null,
    });
    return secret;
  }

  revoke(secret: string): void {
    const token = this.held.get(secret);
    if (token) token.revoked = true;
  }

  private live(token: Held): boolean {
    return !token.revoked && (token.expiresAt === null || token.expiresAt > Date.now());
  }

  verify(secret: string): Caller | null {
    const token = this.held.get(secret);
    return token && this.live(token) ? token.caller : null;
  }

  usable(): number {
    return [...this.held.values()].filter((t) => this.live(t)).length;
  }
}
