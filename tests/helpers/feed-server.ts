/**
 * A fake of the places the scout reads, on 127.0.0.1 port 0: feeds, the Hacker News search API and
 * GitHub's issues endpoint. Each path answers as its route says (a body with an ETag honoured by
 * If-None-Match, a redirect, an answer that never comes, an endless body produced only as fast as
 * the client reads it), and the server counts requests and bytes sent, for the tests to check.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Route =
  | { kind: 'body'; body: string; type?: string; etag?: string; status?: number }
  | { kind: 'redirect'; to: string; status?: number }
  | { kind: 'hang' }
  /** `bytes` of filler, sent in chunks as the client takes them, with no Content-Length. */
  | { kind: 'flood'; bytes: number };

export interface FeedServer {
  url: string;
  routes: Map<string, Route>;
  /** Requests per path, and the If-None-Match and Authorization each came with. */
  requests: { path: string; ifNoneMatch: string | null; authorization: string | null }[];
  /** Bytes written by flood routes. */
  floodSent: number;
  close(): Promise<void>;
}

export async function startFeedServer(): Promise<FeedServer> {
  const routes = new Map<string, Route>();
  const state: FeedServer = {
    url: '',
    routes,
    requests: [],
    floodSent: 0,
    close: async () => undefined,
  };
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const ifNoneMatch = req.headers['if-none-match'] ?? null;
    state.requests.push({
      path: url.pathname,
      ifNoneMatch: typeof ifNoneMatch === 'string' ? ifNoneMatch : null,
      authorization: req.headers.authorization ?? null,
    });
    const route = routes.get(url.pathname);
    if (!route) {
      res.writeHead(404).end('not here');
      return;
    }
    if (route.kind === 'body') {
      if (route.etag && ifNoneMatch === route.etag) {
        res.writeHead(304, { etag: route.etag }).end();
        return;
      }
      res.writeHead(route.status ?? 200, {
        'content-type': route.type ?? 'application/xml',
        ...(route.etag ? { etag: route.etag } : {}),
      });
      res.end(route.body);
    } else if (route.kind === 'redirect') {
      res.writeHead(route.status ?? 302, { location: route.to }).end();
    } else if (route.kind === 'hang') {
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
    } else {
      res.writeHead(200, { 'content-type': 'application/xml' });
      const chunk = Buffer.alloc(64 * 1024, 'a');
      let left = route.bytes;
      // Written only when the socket drains: a client that stops reading stops the flood.
      const pump = () => {
        while (left > 0) {
          const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
          left -= piece.length;
          state.floodSent += piece.length;
          if (!res.write(piece)) return;
        }
        res.end();
      };
      res.on('drain', pump);
      res.on('close', () => {
        left = 0;
      });
      pump();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

export const rss = (items: { guid: string; title: string; link?: string; description?: string }[]) =>
  `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Fake feed</title><link>http://127.0.0.1/</link><description>fake</description>
${items
  .map(
    (i) =>
      `<item><title><![CDATA[${i.title}]]></title><guid>${i.guid}</guid>${i.link ? `<link>${i.link}</link>` : ''}<description><![CDATA[${i.description ?? ''}]]></description></item>`,
  )
  .join('\n')}
</channel></rss>
`;

export const atom = (entries: { id: string; title: string; link?: string; summary?: string }[]) =>
  `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Fake atom</title><id>urn:fake</id><updated>2026-01-01T00:00:00Z</updated>
${entries
  .map(
    (e) =>
      `<entry><id>${e.id}</id><title>${e.title}</title>${e.link ? `<link href="${e.link}"/>` : ''}<updated>2026-01-01T00:00:00Z</updated><summary>${e.summary ?? ''}</summary></entry>`,
  )
  .join('\n')}
</feed>
`;
