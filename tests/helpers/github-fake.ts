/**
 * A fake of the parts of GitHub's API that Dream.OS calls, on 127.0.0.1 port 0: the issues of a
 * repository (`GET /repos/OWNER/NAME/issues`, with an ETag honoured by If-None-Match), and the
 * comments posted to an issue (`POST /repos/OWNER/NAME/issues/N/comments`), which it records. Also
 * what GitHub sends: a signed delivery.
 */
import { createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeIssue {
  number: number;
  title: string;
  body?: string;
  labels?: string[];
}

export interface PostedComment {
  path: string;
  authorization: string | null;
  body: string;
}

export interface FakeGithub {
  url: string;
  /** Issues by `owner/name`, as the issues endpoint lists them. */
  issues: Map<string, FakeIssue[]>;
  comments: PostedComment[];
  close(): Promise<void>;
}

export async function startFakeGithub(): Promise<FakeGithub> {
  const state: FakeGithub = { url: '', issues: new Map(), comments: [], close: async () => undefined };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const comment = /^\/repos\/([^/]+\/[^/]+)\/issues\/(\d+)\/comments$/.exec(url.pathname);
      if (req.method === 'POST' && comment) {
        state.comments.push({
          path: url.pathname,
          authorization: req.headers.authorization ?? null,
          body: (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { body: string }).body,
        });
        res.writeHead(201, { 'content-type': 'application/json' }).end('{"id":1}');
        return;
      }
      const list = /^\/repos\/([^/]+\/[^/]+)\/issues$/.exec(url.pathname);
      if (req.method === 'GET' && list) {
        const repo = list[1]!;
        const body = JSON.stringify(
          (state.issues.get(repo) ?? []).map((i) => ({
            number: i.number,
            title: i.title,
            body: i.body ?? '',
            html_url: `https://github.com/${repo}/issues/${i.number}`,
            labels: (i.labels ?? []).map((name) => ({ name })),
          })),
        );
        const etag = `"${createHmac('sha256', 'etag').update(body).digest('hex').slice(0, 16)}"`;
        if (req.headers['if-none-match'] === etag) {
          res.writeHead(304, { etag }).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json', etag }).end(body);
        return;
      }
      res.writeHead(404).end('{"message":"Not Found"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

/** The payload of an `issues` event, as GitHub sends it (the fields Dream.OS reads, and a few more). */
export function issuesPayload(
  repo: string,
  action: string,
  issue: FakeIssue,
  label?: string,
): Record<string, unknown> {
  return {
    action,
    issue: {
      number: issue.number,
      title: issue.title,
      body: issue.body ?? '',
      html_url: `https://github.com/${repo}/issues/${issue.number}`,
      labels: (issue.labels ?? []).map((name) => ({ name })),
      state: 'open',
    },
    ...(label ? { label: { name: label } } : {}),
    repository: { full_name: repo, private: false },
    sender: { login: 'someone' },
  };
}

/** A delivery as GitHub makes it: the JSON body, its event, a fresh delivery id, signed with `secret`. */
export function delivery(
  secret: string,
  event: string,
  payload: unknown,
  id: string = randomUUID(),
): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify(payload);
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-github-event': event,
      'x-github-delivery': id,
      'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
    },
  };
}
