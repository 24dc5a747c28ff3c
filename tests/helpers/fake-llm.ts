/**
 * A fake OpenAI-compatible server for the llm driver tests: each request is answered by the next
 * scripted handler; every request (body and headers) is recorded.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  body: {
    model: string;
    stream: boolean;
    stream_options?: { include_usage: boolean };
    messages: { role: string; content: string | null; tool_calls?: unknown[]; tool_call_id?: string }[];
    tools?: { function: { name: string } }[];
    tool_choice?: string;
  };
  headers: http.IncomingHttpHeaders;
  url: string;
}

export type Handler = (res: http.ServerResponse, req: Recorded) => void;

export interface FakeServer {
  baseUrl: string;
  requests: Recorded[];
  close(): Promise<void>;
}

export async function fakeLlm(script: Handler[], fallback?: Handler): Promise<FakeServer> {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk) => {
      raw += chunk;
    });
    req.on('end', () => {
      // A GET (a probe of the endpoint) has no body.
      const recorded: Recorded = {
        body: raw ? JSON.parse(raw) : {},
        headers: req.headers,
        url: req.url ?? '',
      };
      requests.push(recorded);
      const handler = script.shift() ?? fallback;
      if (!handler) {
        res.writeHead(500).end('no more scripted replies');
        return;
      }
      handler(res, recorded);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  model: 'fake',
  choices: [{ index: 0, delta, finish_reason: finish }],
});

/** Streams the events as server-sent events, then the usage chunk and [DONE]. */
export function sse(
  events: Record<string, unknown>[],
  usage: { prompt_tokens: number; completion_tokens: number } | null = null,
): Handler {
  return (res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(': keep-alive\n\n');
    for (const event of events) res.write(`data: ${JSON.stringify(event)}\n\n`);
    if (usage) res.write(`data: ${JSON.stringify({ id: 'chatcmpl-1', choices: [], usage })}\n\n`);
    res.end('data: [DONE]\n\n');
  };
}

/** A text answer split into the given pieces. */
export function textReply(
  pieces: string[],
  usage: { prompt_tokens: number; completion_tokens: number } | null = {
    prompt_tokens: 10,
    completion_tokens: 5,
  },
): Handler {
  return sse(
    [
      chunk({ role: 'assistant', content: '' }),
      ...pieces.map((content) => chunk({ content })),
      chunk({}, 'stop'),
    ],
    usage,
  );
}

/** Tool calls, each one's arguments streamed in two pieces. */
export function toolReply(
  calls: { name: string; args: Record<string, unknown> }[],
  usage: { prompt_tokens: number; completion_tokens: number } | null = {
    prompt_tokens: 20,
    completion_tokens: 8,
  },
): Handler {
  const events: Record<string, unknown>[] = [chunk({ role: 'assistant', content: null })];
  calls.forEach((call, index) => {
    const json = JSON.stringify(call.args);
    const half = Math.floor(json.length / 2);
    events.push(
      chunk({
        tool_calls: [
          {
            index,
            id: `call_${index}`,
            type: 'function',
            function: { name: call.name, arguments: json.slice(0, half) },
          },
        ],
      }),
      chunk({ tool_calls: [{ index, function: { arguments: json.slice(half) } }] }),
    );
  });
  events.push(chunk({}, 'tool_calls'));
  return sse(events, usage);
}

export function status(
  code: number,
  headers: Record<string, string> = {},
  body = '{"error":"busy"}',
): Handler {
  return (res) => {
    res.writeHead(code, { 'content-type': 'application/json', ...headers }).end(body);
  };
}

/** Accepts the request and never answers. */
export const hang: Handler = () => {};
