/**
 * A webhook receiver on 127.0.0.1 for the webhook tests: every request is checked with the
 * Standard Webhooks reference verifier (the `standardwebhooks` package) and kept; what it answers is
 * up to the test (`respond`), which may also hold a request unanswered.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface Received {
  id: string;
  timestamp: string;
  /** Whether the reference verifier accepted the signature (with the secret set at the time). */
  verified: boolean;
  body: string;
  type: string;
  /** The path and query it was sent to. */
  path: string;
  /** The order it arrived in, from 1. */
  n: number;
}

/** What to answer: a status and headers, or 'hold' to keep the request open until the receiver closes. */
export type Answer = { status: number; headers?: Record<string, string> } | 'hold';

export interface Receiver {
  url: string;
  received: Received[];
  /** Set once the secret is known (from `webhook add`). */
  secret: string;
  respond: (request: Received) => Answer;
  close(): Promise<void>;
}

export async function startReceiver(
  respond: (request: Received) => Answer = () => ({ status: 200 }),
): Promise<Receiver> {
  const held = new Set<http.ServerResponse>();
  const receiver: Receiver = {
    url: '',
    received: [],
    secret: '',
    respond,
    close: async () => {
      for (const res of held) res.socket?.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = {
        'webhook-id': String(req.headers['webhook-id'] ?? ''),
        'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
      };
      let verified = false;
      try {
        new Webhook(receiver.secret).verify(body, headers);
        verified = true;
      } catch {
        verified = false;
      }
      let type = '';
      try {
        type = String((JSON.parse(body) as { type?: unknown }).type);
      } catch {
        type = '';
      }
      const request: Received = {
        id: headers['webhook-id'],
        timestamp: headers['webhook-timestamp'],
        verified,
        body,
        type,
        path: req.url ?? '',
        n: receiver.received.length + 1,
      };
      receiver.received.push(request);
      const answer = receiver.respond(request);
      if (answer === 'hold') {
        held.add(res);
        return;
      }
      res.writeHead(answer.status, answer.headers ?? {});
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return receiver;
}
