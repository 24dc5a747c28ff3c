/**
 * Discord's request signatures: every interaction carries `X-Signature-Ed25519` (hex) over
 * `X-Signature-Timestamp` followed by the raw body, made with the application's private key. See
 * https://discord.com/developers/docs/interactions/overview#setting-up-an-endpoint-validating-security-request-headers
 *
 * A valid signature proves the request came from Discord, not who clicked: the caller is checked
 * separately, against the allow-list.
 */
import crypto, { type KeyObject } from 'node:crypto';

/** The DER header of an Ed25519 public key in SubjectPublicKeyInfo form; the raw 32 bytes follow it. */
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** A signed request older than this is refused: a captured one cannot be played again later. */
export const MAX_AGE_SECONDS = 300;
/** A little clock difference is allowed the other way; beyond it the timestamp is not believed. */
export const MAX_SKEW_SECONDS = 60;

/** The application's public key (64 hex digits) as a key node:crypto verifies with. */
export function discordPublicKey(hex: string): KeyObject {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error("the application's public key is not 64 hex digits");
  return crypto.createPublicKey({
    key: Buffer.concat([SPKI_ED25519_PREFIX, Buffer.from(hex, 'hex')]),
    format: 'der',
    type: 'spki',
  });
}

/** Why a request is refused, or null when it is signed by Discord and fresh. */
export function signatureProblem(
  key: KeyObject,
  signature: string | undefined,
  timestamp: string | undefined,
  body: Buffer,
  now = Date.now(),
): string | null {
  if (!signature || !/^[0-9a-fA-F]{128}$/.test(signature)) return 'no valid X-Signature-Ed25519 header';
  if (!timestamp || !/^\d{1,12}$/.test(timestamp)) return 'no valid X-Signature-Timestamp header';
  const age = now / 1000 - Number(timestamp);
  if (age > MAX_AGE_SECONDS) return 'the signed timestamp is too old';
  if (age < -MAX_SKEW_SECONDS) return 'the signed timestamp is in the future';
  const message = Buffer.concat([Buffer.from(timestamp, 'utf8'), body]);
  return crypto.verify(null, message, key, Buffer.from(signature, 'hex'))
    ? null
    : 'the signature does not match';
}
