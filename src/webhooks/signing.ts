/**
 * Signing as the Standard Webhooks specification has it (https://www.standardwebhooks.com): a
 * secret `whsec_` + base64 of random bytes; each message carries `webhook-id`, `webhook-timestamp`
 * (seconds) and `webhook-signature`, `v1,` + base64 of HMAC-SHA256 over `id.timestamp.body` keyed
 * with the secret's bytes. Receivers check it with any of the specification's libraries.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { invalidInput } from '../errors.js';

const PREFIX = 'whsec_';
/** The specification asks for 24 to 64 bytes of key; we make 32. */
const MIN_BYTES = 24;
const MAX_BYTES = 64;
const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;

/** A new secret: 32 random bytes. */
export function newSecret(): string {
  return `${PREFIX}${randomBytes(32).toString('base64')}`;
}

/** The key bytes of a secret, or a clear error (which never quotes the secret). */
export function secretKey(secret: string): Buffer {
  const text = secret.trim();
  if (!text.startsWith(PREFIX) || !BASE64_RE.test(text.slice(PREFIX.length)))
    throw invalidInput('a webhook secret is `whsec_` followed by base64');
  const key = Buffer.from(text.slice(PREFIX.length), 'base64');
  if (key.length < MIN_BYTES || key.length > MAX_BYTES)
    throw invalidInput(`a webhook secret holds ${MIN_BYTES} to ${MAX_BYTES} bytes, this one ${key.length}`);
  return key;
}

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** The three headers of a message `id` with `body`, signed at `at`. */
export function signedHeaders(secret: string, id: string, body: string, at: Date): SignedHeaders {
  const timestamp = String(Math.floor(at.getTime() / 1000));
  const mac = createHmac('sha256', secretKey(secret)).update(`${id}.${timestamp}.${body}`).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${mac}` };
}
