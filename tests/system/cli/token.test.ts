/**
 * `dreamos token create|list|revoke` as a user runs them: the secret is printed once and kept
 * nowhere, only its hash is stored (mode 600), and a revoked token stops working at once.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openTokenStore } from '../../../src/tokens.js';
import { workspacePaths } from '../../../state/paths.js';
import { type Board, board, show } from '../../helpers/cli.js';

let b: Board;
beforeEach(() => {
  b = board();
});
afterEach(() => b.cleanup());

const home = () => path.join(b.dir, '.dreamos');
const tokensFile = () => path.join(home(), 'tokens.json');

describe('dreamos token', () => {
  it('prints the secret once and stores only its hash', () => {
    const r = b.run('token', 'create', '--scope', 'read,tasks:write', '--name', 'ci');
    expect(r.code, show(r)).toBe(0);
    const secret = r.stdout.trim();
    expect(secret).toMatch(/^dos_[A-Za-z0-9_-]{43}$/);
    expect(r.stderr).toMatch(/token ci \(tok-[0-9a-f]{8}, read,tasks:write, expires /);
    const stored = fs.readFileSync(tokensFile(), 'utf8');
    expect(stored).not.toContain(secret);
    expect(stored).not.toContain(secret.slice(8));
    expect(fs.statSync(tokensFile()).mode & 0o777).toBe(0o600);

    const listed = b.json<Array<Record<string, unknown>>>('token', 'list');
    expect(listed).toEqual([
      expect.objectContaining({ name: 'ci', state: 'active', scopes: ['read', 'tasks:write'] }),
    ]);
    expect(JSON.stringify(listed)).not.toContain(secret.slice(8));
    expect(listed[0]).not.toHaveProperty('hash');

    const store = openTokenStore(workspacePaths(home()));
    expect(store.verify(secret)).toEqual(
      expect.objectContaining({ name: 'ci', scopes: ['read', 'tasks:write'] }),
    );
    expect(store.verify(`${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`)).toBeNull();
    expect(store.usable()).toBe(1);

    const revoked = b.run('token', 'revoke', 'ci');
    expect(revoked.code, show(revoked)).toBe(0);
    // The same store object, as a running server holds it: the revocation is seen at the next request.
    expect(store.verify(secret)).toBeNull();
    expect(store.usable()).toBe(0);
    expect(b.json<Array<{ state: string }>>('token', 'list')[0]!.state).toBe('revoked');
  });

  it('gives the token in JSON with --json, and refuses bad scopes, names and durations', () => {
    const made = b.json<{ token: string; id: string; expiresAt: string | null }>(
      'token',
      'create',
      '--scope',
      'admin',
      '--expires',
      'never',
    );
    expect(made.token).toMatch(/^dos_/);
    expect(made.expiresAt).toBeNull();
    for (const args of [
      ['--scope', 'root'],
      ['--scope', 'read', '--name', 'two words'],
      ['--scope', 'read', '--expires', 'soon'],
    ]) {
      const r = b.run('token', 'create', ...args);
      expect(r.code, show(r)).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    const dup = b.run('token', 'create', '--scope', 'read', '--name', 'token-1');
    expect(dup.code, show(dup)).toBe(4);
    expect(b.run('token', 'revoke', 'tok-00000000').code).toBe(3);
    expect(b.json<unknown[]>('token', 'list')).toHaveLength(1);
  });

  it('refuses an expired token', () => {
    const secret = b.run('token', 'create', '--scope', 'read').stdout.trim();
    const store = openTokenStore(workspacePaths(home()));
    expect(store.verify(secret)).not.toBeNull();
    // The expiry as the file records it, moved into the past.
    const file = JSON.parse(fs.readFileSync(tokensFile(), 'utf8'));
    file.tokens[0].expiresAt = new Date(Date.now() - 1000).toISOString();
    fs.writeFileSync(tokensFile(), JSON.stringify(file));
    expect(store.verify(secret)).toBeNull();
    expect(b.json<Array<{ state: string }>>('token', 'list')[0]!.state).toBe('expired');
  });

  it('refuses every token while tokens.json is damaged, and quarantines it on the next change', () => {
    const secret = b.run('token', 'create', '--scope', 'read').stdout.trim();
    fs.writeFileSync(tokensFile(), '{"schemaVersion":1,"tokens":[');
    const store = openTokenStore(workspacePaths(home()));
    expect(store.verify(secret)).toBeNull();
    expect(store.problem).toMatch(/not valid JSON/);
    const list = b.run('token', 'list');
    expect(list.stderr).toMatch(/no token works until it is mended/);

    const r = b.run('token', 'create', '--scope', 'read', '--name', 'fresh');
    expect(r.code, show(r)).toBe(0);
    expect(r.stderr).toMatch(/moved to .*quarantine.*tokens\.json.*no longer work/);
    expect(fs.readdirSync(path.join(home(), 'quarantine')).some((f) => f.endsWith('tokens.json'))).toBe(true);
    expect(store.verify(secret)).toBeNull();
    expect(store.verify(r.stdout.trim())).not.toBeNull();
  });
});
