/**
 * The HTTP API of one workspace (docs/api.md): hono routes under `/api/v1` over the typed
 * `Workspace`, every request authenticated by a bearer token and every route held to a scope.
 * Handlers are plain `fetch` functions, so the tests drive them with `app.fetch(new Request(…))`
 * and `dreamos serve` puts them on a socket (src/api/server.ts).
 */
import { zValidator } from '@hono/zod-validator';
import { type Context, type Handler, Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { methodNotAllowed } from 'hono/method-not-allowed';
import * as z from 'zod';
import type { Workspace } from '../workspace.js';
import { authenticate, requireScope } from './auth.js';
import { boardRoutes } from './board-routes.js';
import type { ApiEnv, TokenVerifier } from './context.js';
import { openApiDocument } from './openapi.js';
import { logInternal, problemOf, problemResponse, refusal, validationProblem } from './problem.js';
import { type JsonRoute, type Route, route } from './routes.js';
import { swarmRoutes } from './swarm-routes.js';
import { taskRoutes } from './task-routes.js';

/** The cap on a request body: far above any task a person writes, far below what would hurt. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** The cap on a task import's body: thousands of tasks in one transaction. */
export const DEFAULT_MAX_IMPORT_BYTES = 16 * 1024 * 1024;

export interface AppDeps {
  workspace: Workspace;
  tokens: TokenVerifier;
  /** The cap on a request body (default 1 MiB); a bigger one is refused with 413. */
  maxBodyBytes?: number;
  /** The cap on the body of `POST /api/v1/tasks/import` (default 16 MiB). */
  maxImportBytes?: number;
  /** The event stream, mounted at `GET /api/v1/events` (scope `events`). */
  events?: Handler<ApiEnv>;
  /** Prometheus metrics, mounted at `GET /metrics` (scope `read`). */
  metrics?: Handler<ApiEnv>;
  /** Receivers of other services' webhooks, mounted at `/hooks`: each checks its own signature, no token. */
  hooks?: Hono;
}

/** A body must say it is JSON: any other media type would otherwise be read as an empty object. */
const jsonOnly: MiddlewareHandler<ApiEnv> = async (c, next) => {
  const hasBody = c.req.raw.body !== null && c.req.header('Content-Length') !== '0';
  const type = (c.req.header('Content-Type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (hasBody && !/^application\/([\w.-]+\+)?json$/.test(type))
    return problemResponse(
      c,
      refusal(415, 'E_MEDIA_TYPE', 'the request body must be JSON: send Content-Type: application/json'),
    );
  await next();
};

/**
 * Every request's input, checked by its route's schema. The schemas hold no asynchronous check, so
 * they are run synchronously: zod compiles an object schema's synchronous check, not its
 * asynchronous one, and the check runs on every request.
 */
const validate = (target: 'param' | 'query' | 'json', schema: z.ZodType) =>
  zValidator(
    target,
    schema,
    (result, c) => {
      if (!result.success)
        return problemResponse(
          c,
          validationProblem(target === 'json' ? 'body' : target === 'param' ? 'path' : 'query', result.error),
        );
    },
    { validationFunction: (s, value) => s.safeParse(value) },
  ) as unknown as MiddlewareHandler<ApiEnv>;

/** Read what the validators checked (hono types it per route; the route's schemas type it here). */
const valid = (c: Context<ApiEnv>, target: 'param' | 'query' | 'json') =>
  (c.req.valid as (t: string) => unknown)(target);

function handlerOf(r: JsonRoute): Handler<ApiEnv> {
  return async (c) => {
    const out = await r.handle(
      {
        params: r.params ? valid(c, 'param') : undefined,
        query: r.query ? valid(c, 'query') : undefined,
        body: r.body ? valid(c, 'json') : undefined,
      },
      c,
    );
    if (out instanceof Response) return out;
    return c.json(out as object, r.status ?? 200);
  };
}

function mount(app: Hono<ApiEnv>, r: Route, maxBodyBytes: number): void {
  const chain: MiddlewareHandler<ApiEnv>[] = [requireScope(r.scope)];
  if (r.kind === 'json') {
    if (r.body) {
      const cap = r.maxBodyBytes ?? maxBodyBytes;
      chain.push(
        bodyLimit({
          maxSize: cap,
          onError: (c) =>
            problemResponse(c, {
              ...refusal(413, 'E_INVALID_INPUT', `the request body is larger than ${cap} bytes`),
              exitCode: 2,
            }),
        }),
        jsonOnly,
      );
    }
    if (r.params) chain.push(validate('param', r.params));
    if (r.query) chain.push(validate('query', r.query));
    if (r.body) chain.push(validate('json', r.body));
  }
  // hono types a route's handlers from a literal list; this one is assembled from the declaration.
  const on = app.on.bind(app) as (method: string, path: string, ...handlers: Handler<ApiEnv>[]) => void;
  on(r.method.toUpperCase(), r.path, ...chain, r.kind === 'json' ? handlerOf(r) : r.handler);
}

/** Every route of the API, in the order the OpenAPI document lists them. */
export function apiRoutes(deps: AppDeps): Route[] {
  const ws = deps.workspace;
  const routes: Route[] = [
    ...boardRoutes(ws),
    ...taskRoutes(ws, deps.maxImportBytes ?? DEFAULT_MAX_IMPORT_BYTES),
    ...swarmRoutes(ws),
  ];
  if (deps.events)
    routes.push({
      kind: 'raw',
      method: 'get',
      path: '/api/v1/events',
      scope: 'events',
      tag: 'events',
      summary: 'Live events, one per journal entry (Server-Sent Events)',
      description:
        'Each event has the journal sequence number as its id; Last-Event-ID replays what was missed.',
      produces: 'text/event-stream',
      query: z.strictObject({
        since: z
          .string()
          .optional()
          .describe('the id of the last event received (Last-Event-ID comes first)'),
        types: z
          .string()
          .optional()
          .describe('event types or kinds, comma separated (task.created, task, …)'),
        task: z.string().optional().describe('only events about these tasks, comma separated'),
      }),
      handler: deps.events,
    });
  if (deps.metrics)
    routes.push({
      kind: 'raw',
      method: 'get',
      path: '/metrics',
      scope: 'read',
      tag: 'metrics',
      summary: 'Metrics in the Prometheus text format',
      description: 'Tasks by stage, transitions, attempt durations, agents, alerts, the journal sequence.',
      produces: 'text/plain; version=0.0.4',
      handler: deps.metrics,
    });
  let document: unknown;
  routes.push(
    route({
      method: 'get',
      path: '/api/v1/openapi.json',
      scope: 'read',
      tag: 'meta',
      summary: 'This API as an OpenAPI 3.1 document',
      answer: z.object({ openapi: z.string() }).loose(),
      handle: () => {
        document ??= openApiDocument(routes);
        return document;
      },
    }),
  );
  return routes;
}

/** The API as a hono app. */
export function createApp(deps: AppDeps): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  const maxBodyBytes = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  app.onError((error, c) => {
    const parts = problemOf(error);
    if (parts.internal !== undefined) logInternal(c, parts.internal);
    return problemResponse(c, parts);
  });
  app.notFound((c) =>
    problemResponse(c, {
      ...refusal(404, 'E_NOT_FOUND', `no route ${c.req.method} ${c.req.path} (see /api/v1/openapi.json)`),
      exitCode: 3,
    }),
  );
  app.use(
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, methods) =>
        problemResponse(
          c,
          refusal(405, 'E_METHOD', `${c.req.method} is not allowed here (allowed: ${methods.join(', ')})`, {
            Allow: methods.join(', '),
          }),
        ),
    }),
  );
  // Answers are about one workspace, for one token: no cache along the way may keep them.
  app.use(async (c, next) => {
    await next();
    if (!c.res.headers.has('Cache-Control')) c.res.headers.set('Cache-Control', 'no-store');
  });
  // Before the bearer check: a hook's signature is its authentication.
  if (deps.hooks) app.route('/hooks', deps.hooks);
  app.use(authenticate(deps.tokens));
  for (const r of apiRoutes(deps)) mount(app, r, maxBodyBytes);
  return app;
}
