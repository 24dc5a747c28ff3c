/**
 * The OpenAPI document is generated from the routes' declarations: every route the app has
 * registered is in it with its method, parameters and scope, and it names no route the app lacks.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApp } from '../../../../src/api/app.js';
import { initWorkspace, type Workspace } from '../../../../src/index.js';
import { tempDir } from '../../../helpers/workspace.js';
import { MemoryTokens } from './memory-tokens.js';

let tmp: ReturnType<typeof tempDir>;
let ws: Workspace;
const tokens = new MemoryTokens();
const READ = tokens.add('read-secret', ['read']);

beforeAll(async () => {
  tmp = tempDir('dreamos-openapi-');
  ws = await initWorkspace({ dir: tmp.dir });
});
afterAll(async () => {
  await ws.close();
  tmp.cleanup();
});

interface Operation {
  parameters?: Array<{ name: string; in: string; required: boolean }>;
  security: Array<{ bearer: string[] }>;
  responses: Record<string, unknown>;
  requestBody?: unknown;
}
type Doc = { openapi: string; paths: Record<string, Record<string, Operation>> };

async function documentOf(app: ReturnType<typeof createApp>): Promise<Doc> {
  const res = await app.fetch(
    new Request('http://localhost/api/v1/openapi.json', { headers: { Authorization: `Bearer ${READ}` } }),
  );
  expect(res.status).toBe(200);
  return (await res.json()) as Doc;
}

/** The routes the app registered (middleware is registered for every method, as ALL). */
const registered = (app: ReturnType<typeof createApp>) =>
  [
    ...new Set(
      app.routes
        .filter((r) => r.method !== 'ALL')
        .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`),
    ),
  ].sort();

const documented = (doc: Doc) =>
  Object.entries(doc.paths)
    .flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method} ${path}`))
    .sort();

it('holds every registered route and no other, with the event stream and metrics when mounted', async () => {
  for (const extras of [{}, { events: () => new Response(''), metrics: () => new Response('') }]) {
    const app = createApp({ workspace: ws, tokens, ...extras });
    const doc = await documentOf(app);
    expect(doc.openapi).toBe('3.1.0');
    expect(documented(doc)).toEqual(registered(app));
    expect(registered(app).length).toBeGreaterThan(20);
    expect(documented(doc).includes('get /api/v1/events')).toBe('events' in extras);
    expect(documented(doc).includes('get /metrics')).toBe('metrics' in extras);
  }
});

it('describes each path parameter, the scope each route needs, and its refusals', async () => {
  const doc = await documentOf(createApp({ workspace: ws, tokens }));
  for (const [path, ops] of Object.entries(doc.paths)) {
    const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
    for (const [method, op] of Object.entries(ops)) {
      const inPath = (op.parameters ?? []).filter((p) => p.in === 'path');
      expect(inPath.map((p) => p.name).sort(), `${method} ${path}`).toEqual(names);
      expect(inPath.every((p) => p.required)).toBe(true);
      expect(op.security[0]!.bearer).toHaveLength(1);
      expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['401', '403']));
      if (method !== 'get') expect(op.requestBody, `${method} ${path}`).toBeDefined();
    }
  }
  const required = (path: string, method: string) =>
    (doc.paths[path]![method]!.requestBody as { required: boolean }).required;
  expect(required('/api/v1/tasks/{id}/move', 'post')).toBe(true);
  expect(required('/api/v1/tasks/import', 'post')).toBe(true);
  expect(required('/api/v1/tasks/{id}/promote', 'post')).toBe(false);
  expect(doc.paths['/api/v1/tasks']!.get!.security).toEqual([{ bearer: ['read'] }]);
  expect(doc.paths['/api/v1/tasks']!.post!.security).toEqual([{ bearer: ['tasks:write'] }]);
  expect(doc.paths['/api/v1/agents/{id}/pause']!.post!.security).toEqual([{ bearer: ['agents:control'] }]);
  const events = (await documentOf(createApp({ workspace: ws, tokens, events: () => new Response('') })))
    .paths['/api/v1/events']!.get!;
  expect(events.parameters!.map((p) => p.name)).toEqual(['since', 'types', 'task']);
  const query = doc.paths['/api/v1/tasks']!.get!.parameters!.map((p) => p.name);
  expect(query).toEqual(
    expect.arrayContaining(['status', 'agent', 'role', 'tag', 'limit', 'offset', 'cursor']),
  );
});

it('needs a token with the read scope', async () => {
  const app = createApp({ workspace: ws, tokens });
  const res = await app.fetch(new Request('http://localhost/api/v1/openapi.json'));
  expect(res.status).toBe(401);
});
