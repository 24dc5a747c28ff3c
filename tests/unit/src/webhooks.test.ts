/** Webhook signing checked against the Standard Webhooks reference library, and the retry schedule. */
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { nextAttemptDelay, RETRY_SCHEDULE_MS } from '../../../src/webhooks/delivery.js';
import { newSecret, secretKey, signedHeaders } from '../../../src/webhooks/signing.js';
import { checkUrl } from '../../../src/webhooks/store.js';

describe('webhook signing', () => {
  it('signs as the reference library does, and its verifier accepts it', () => {
    const secret = newSecret();
    const body = JSON.stringify({
      type: 'task.done',
      timestamp: '2026-01-01T00:00:00.000Z',
      data: { id: '7' },
    });
    const at = new Date();
    const headers = signedHeaders(secret, 'msg_W-ABCDEFGH_7', body, at);
    const reference = new Webhook(secret);
    expect(headers['webhook-signature']).toBe(reference.sign('msg_W-ABCDEFGH_7', at, body));
    expect(reference.verify(body, { ...headers })).toMatchObject({ type: 'task.done' });
    expect(() => reference.verify(`${body} `, { ...headers })).toThrow();
  });

  it('makes secrets of 32 random bytes and refuses malformed ones without quoting them', () => {
    const a = newSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(secretKey(a)).toHaveLength(32);
    expect(newSecret()).not.toBe(a);
    for (const bad of ['sk_abc', 'whsec_', 'whsec_!!!!', `whsec_${Buffer.alloc(8).toString('base64')}`]) {
      let message = '';
      try {
        secretKey(bad);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/webhook secret/);
      if (bad.length > 8) expect(message).not.toContain(bad.slice(6));
    }
  });
});

describe('webhook retries', () => {
  it('spread over about three days, then give up', () => {
    const total = RETRY_SCHEDULE_MS.reduce((a, b) => a + b, 0);
    expect(total / 3_600_000).toBeGreaterThan(60);
    expect(total / 3_600_000).toBeLessThan(84);
    expect(nextAttemptDelay(RETRY_SCHEDULE_MS.length + 1, RETRY_SCHEDULE_MS, 1)).toBeNull();
    const first = nextAttemptDelay(1, RETRY_SCHEDULE_MS, 1)!;
    expect(first).toBeGreaterThanOrEqual(4_000);
    expect(first).toBeLessThanOrEqual(6_000);
  });

  it('never come sooner than Retry-After asks, and scale for tests', () => {
    expect(nextAttemptDelay(1, RETRY_SCHEDULE_MS, 0.001, 30_000)).toBe(30_000);
    expect(nextAttemptDelay(2, RETRY_SCHEDULE_MS, 0.001)).toBeLessThanOrEqual(360);
  });
});

describe('webhook URLs', () => {
  it('are http or https, without credentials', () => {
    expect(checkUrl('https://example.com/hook?x=1')).toBe('https://example.com/hook?x=1');
    expect(checkUrl('http://127.0.0.1:8080/')).toBe('http://127.0.0.1:8080/');
    for (const bad of [
      'file:///etc/passwd',
      'ftp://x/y',
      'javascript:alert(1)',
      'data:,x',
      '/relative',
      'http://u:p@x/',
    ])
      expect(() => checkUrl(bad)).toThrow(/URL/);
  });
});
