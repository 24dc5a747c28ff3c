/**
 * The secret GitHub signs its deliveries with: DREAMOS_GITHUB_WEBHOOK_SECRET, else the file
 * `github.secretFile` names (yours, readable by nobody else). Never in config.json, never logged.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { GITHUB_SECRET_ENV, type GithubConfig } from './config.js';

/** The secret, or why there is none (a message that never holds it). */
export type SecretLookup = { secret: string } | { problem: string };

export function githubSecret(
  home: string,
  config: Pick<GithubConfig, 'secretFile'> | undefined,
  env: NodeJS.ProcessEnv = process.env,
): SecretLookup {
  const fromEnv = env[GITHUB_SECRET_ENV]?.trim();
  if (fromEnv) return { secret: fromEnv };
  if (!config?.secretFile)
    return { problem: `no GitHub webhook secret: set ${GITHUB_SECRET_ENV}, or github.secretFile` };
  const path = isAbsolute(config.secretFile) ? config.secretFile : resolve(home, config.secretFile);
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch {
    return { problem: `github.secretFile: cannot read ${path}` };
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : null;
  if (uid !== null && st.uid !== uid) return { problem: `github.secretFile: ${path} is not yours` };
  if ((st.mode & 0o077) !== 0)
    return {
      problem: `github.secretFile: others may read or change ${path} (mode ${(st.mode & 0o777).toString(8)}); run \`chmod 600 ${path}\``,
    };
  const secret = fs.readFileSync(path, 'utf8').trim();
  return secret ? { secret } : { problem: `github.secretFile: ${path} is empty` };
}

const SIGNATURE_RE = /^sha256=([0-9a-f]{64})$/i;

/**
 * Whether `header` (X-Hub-Signature-256) is `sha256=` and the hex HMAC-SHA256 of the raw body keyed
 * with the secret, compared in constant time.
 */
export function signatureValid(secret: string, body: Uint8Array, header: string | undefined): boolean {
  const match = SIGNATURE_RE.exec(header?.trim() ?? '');
  if (!match) return false;
  const given = Buffer.from(match[1]!, 'hex');
  const expected = createHmac('sha256', secret).update(body).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The header GitHub would send with `body` (for tests and the bench). */
export const signatureOf = (secret: string, body: string | Uint8Array) =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
