/**
 * The scout's one way to the network: a GET with global fetch, bounded in every direction a hostile
 * or broken server could push it. Only http and https, each redirect followed by hand (so that each
 * hop is checked, and their number bounded), one deadline for the whole exchange, the body streamed
 * and dropped once it passes the size cap, and conditional requests (ETag, Last-Modified) so that an
 * unchanged source costs a 304. A redirect from a source on the network never leads inside the
 * machine or its private network (loopback, private and link-local addresses, a cloud's metadata
 * service): a feed's server does not get to point the scout at what only the machine can reach.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

export interface FetchLimits {
  timeoutMs: number;
  maxBytes: number;
  maxRedirects: number;
}

/** What the last answer said about its content, sent back on the next request. */
export interface Validators {
  etag?: string;
  lastModified?: string;
}

export type Fetched =
  | { status: 'not-modified' }
  | { status: 'ok'; body: string; url: string; validators: Validators };

/** A request that did not give a usable answer: the message is one line, fit for the source's status. */
export class FetchError extends Error {}

const allowed = (url: URL) => url.protocol === 'http:' || url.protocol === 'https:';

/** Addresses of this machine and of private networks. */
const LOCAL = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
] as const)
  LOCAL.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
] as const)
  LOCAL.addSubnet(net, bits, 'ipv6');

/** Whether a host is, or has a name for, an address of this machine or of a private network. */
export async function isLocalHost(host: string): Promise<boolean> {
  const bare = host.replace(/^\[|\]$/g, '');
  const found = isIP(bare)
    ? [{ address: bare, family: isIP(bare) }]
    : await lookup(bare, { all: true }).catch(() => []);
  return found.some(({ address, family }) => {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return LOCAL.check(mapped[1]!, 'ipv4');
    return LOCAL.check(address, family === 6 ? 'ipv6' : 'ipv4');
  });
}

export async function fetchLimited(
  address: string,
  limits: FetchLimits,
  options: { validators?: Validators; headers?: Record<string, string> } = {},
): Promise<Fetched> {
  const deadline = AbortSignal.timeout(limits.timeoutMs);
  const headers: Record<string, string> = { 'user-agent': 'dreamos-scout', ...options.headers };
  if (options.validators?.etag) headers['if-none-match'] = options.validators.etag;
  if (options.validators?.lastModified) headers['if-modified-since'] = options.validators.lastModified;
  let url = new URL(address);
  /** Whether the configured address is local itself: then its redirects may stay local. */
  let startsLocal: boolean | undefined;
  try {
    for (let hop = 0; ; hop++) {
      if (!allowed(url))
        throw new FetchError(`refused ${url.protocol} address: only http and https are fetched`);
      const response = await fetch(url, { headers, redirect: 'manual', signal: deadline });
      if (response.status >= 300 && response.status < 400 && response.status !== 304) {
        await response.body?.cancel();
        const location = response.headers.get('location');
        if (!location) throw new FetchError(`HTTP ${response.status} without a Location`);
        if (hop >= limits.maxRedirects) throw new FetchError(`more than ${limits.maxRedirects} redirects`);
        const next = new URL(location, url);
        if (next.hostname !== url.hostname) {
          startsLocal ??= await isLocalHost(new URL(address).hostname);
          if (!startsLocal && (await isLocalHost(next.hostname)))
            throw new FetchError(
              `refused a redirect to ${next.host}, an address of this machine or its private network`,
            );
        }
        // A token is for the server it was given for: another origin never sees it (as fetch itself does).
        if (next.origin !== url.origin) delete headers.authorization;
        url = next;
        continue;
      }
      if (response.status === 304) {
        await response.body?.cancel();
        return { status: 'not-modified' };
      }
      if (!response.ok) {
        await response.body?.cancel();
        throw new FetchError(`HTTP ${response.status} from ${url.host}`);
      }
      const body = await readCapped(response, limits.maxBytes);
      const etag = response.headers.get('etag');
      const lastModified = response.headers.get('last-modified');
      return {
        status: 'ok',
        body,
        url: url.href,
        validators: {
          ...(etag ? { etag: etag.slice(0, 500) } : {}),
          ...(lastModified ? { lastModified: lastModified.slice(0, 100) } : {}),
        },
      };
    }
  } catch (error) {
    if (error instanceof FetchError) throw error;
    if (deadline.aborted) throw new FetchError(`no complete answer within ${limits.timeoutMs / 1000} s`);
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new FetchError(
      `cannot fetch ${url.host}: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
    );
  }
}

/** The body as text, read until it passes `maxBytes`: then the connection is dropped and nothing kept. */
async function readCapped(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new FetchError(`the answer is ${declared} bytes, over the cap of ${maxBytes}`);
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new FetchError(`the answer passed the cap of ${maxBytes} bytes: not read further`);
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}
