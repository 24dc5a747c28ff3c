/**
 * The API on a real socket (127.0.0.1, port 0): answers with a token and refuses without one,
 * refuses to listen beyond loopback while no token is usable, says when the address is taken,
 * counts its connections and event streams, and closes with a keep-alive and a stream still open.
 */
import { Agent, request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../../../src/api/app.js';
import { isLoopback, parseListen, startServer } from '../../../../src/api/server.js';
import { initWorkspace, type Workspace } from '../../../../src/index.js';
import { tempDir } from '../../../helpers/workspace.js';
import { MemoryTokens } from './memory-tokens.js';

let tmp: ReturnType<typeof tempDir>;
let ws: Workspace;

beforeAll(async () => {
  tmp = tempDir('dreamos-server-');
  ws = await initWorkspace({ dir: tmp.dir });
});
afterAll(async () => {
  await ws.close();
  tmp.cleanup();
});

/** Wait for a condition the server reaches on its own (a connection counted), up to a deadline. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('listen addresses', () => {
  it('reads HOST:PORT, [IPV6]:PORT and a bare port, and refuses anything else', () => {
    expect(parseListen('127.0.0.1:7420')).toEqual({ host: '127.0.0.1', port: 7420 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListen('localhost:80')).toEqual({ host: 'localhost', port: 80 });
    expect(parseListen('7420')).toEqual({ host: '127.0.0.1', port: 7420 });
    for (const bad of ['127.0.0.1', '127.0.0.1:70000', '[nope]:1', '::1:80', 'a b:1', ''])
      expect(() => parseListen(bad), bad).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
  });

  it('knows loopback from the rest', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1'])
      expect(isLoopback(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'example.com', '127.example.com'])
      expect(isLoopback(host), host).toBe(false);
  });
});

describe('a real server', () => {
  it('answers a request with a token and refuses one without, over the socket', async () => {
    const tokens = new MemoryTokens();
    const secret = tokens.add('a-read-token', ['read']);
    const server = await startServer({
      app: createApp({ workspace: ws, tokens }),
      listen: '127.0.0.1:0',
      tokens,
    });
    try {
      expect(server.url).toBe(`http://127.0.0.1:${server.port}/api/v1`);
      expect(server.port).toBeGreaterThan(0);
      const ok = await fetch(`${server.origin}/api/v1/status`, {
        headers: { Authorization: `Bearer ${secret}` },
      });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ agents: 8 });
      const refused = await fetch(`${server.origin}/api/v1/status`);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('content-type')).toBe('application/problem+json');
      expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer/);
    } finally {
      await server.close();
    }
  });

  it('refuses to listen beyond loopback until a token is usable', async () => {
    const tokens = new MemoryTokens();
    tokens.add('revoked', ['admin'], { revoked: true });
    const app = createApp({ workspace: ws, tokens });
    await expect(startServer({ app, listen: '0.0.0.0:0', tokens })).rejects.toMatchObject({
      code: 'E_USAGE',
      message: expect.stringContaining('no usable token'),
    });
    tokens.add('usable', ['read']);
    const server = await startServer({ app, listen: '0.0.0.0:0', tokens });
    expect(server.host).toBe('0.0.0.0');
    await server.close();
  });

  it('says when the address is already in use', async () => {
    const tokens = new MemoryTokens();
    const app = createApp({ workspace: ws, tokens });
    const first = await startServer({ app, listen: '127.0.0.1:0', tokens });
    try {
      await expect(startServer({ app, listen: `127.0.0.1:${first.port}`, tokens })).rejects.toMatchObject({
        code: 'E_CONFLICT',
        message: expect.stringContaining('already in use'),
      });
    } finally {
      await first.close();
    }
  });

  it('counts connections and streams, and closes with a keep-alive and a stream open', async () => {
    const tokens = new MemoryTokens();
    const secret = tokens.add('events', ['events', 'read']);
    // An event stream that never ends by itself.
    const events = () =>
      new Response(new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode(': hello\n\n')) }), {
        headers: { 'Content-Type': 'text/event-stream' },
      });
    const server = await startServer({
      app: createApp({ workspace: ws, tokens, events }),
      listen: '127.0.0.1:0',
      tokens,
    });
    const agent = new Agent({ keepAlive: true });
    const get = (path: string) =>
      new Promise<{ status: number; ended: Promise<void>; first: Promise<string> }>((resolve, reject) => {
        const req = httpRequest(`${server.origin}${path}`, {
          agent,
          headers: { Authorization: `Bearer ${secret}` },
        });
        req.on('error', reject);
        req.on('response', (res) => {
          const first = new Promise<string>((r) => res.once('data', (d) => r(String(d))));
          const ended = new Promise<void>((r) => {
            res.on('close', () => r());
            res.on('error', () => r());
          });
          res.resume();
          resolve({ status: res.statusCode ?? 0, ended, first });
        });
        req.end();
      });
    const stream = await get('/api/v1/events');
    expect(stream.status).toBe(200);
    expect(await stream.first).toBe(': hello\n\n');
    // The stream holds its connection: this request opens another, kept alive once it is answered.
    const status = await get('/api/v1/status');
    expect(status.status).toBe(200);
    await status.ended;
    await until(() => server.streams() === 1 && server.connections() === 2, 'a stream and a keep-alive');
    expect(server.clients()).toBe(1);
    await server.close();
    await stream.ended;
    expect(server.connections()).toBe(0);
    expect(server.streams()).toBe(0);
    await expect(fetch(`${server.origin}/api/v1/status`)).rejects.toThrow();
    agent.destroy();
  });
});
