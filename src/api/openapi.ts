/**
 * `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of the API, generated from the routes'
 * declarations and their zod schemas (`z.toJSONSchema`), never written by hand.
 */
import * as z from 'zod';
import pkg from '../../package.json' with { type: 'json' };
import { AgentState, Alert, Checkpoint, Mail, Task } from '../../state/schemas.js';
import { AgentConfig } from '../config.js';
import { Problem } from './problem.js';
import { type Answer, type Component, openApiPath, type Route } from './routes.js';

type Json = Record<string, unknown>;

/** A zod schema as JSON Schema, without its `$schema` line (the document says which dialect). */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Json;
  return rest;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

function components(): Record<Component | 'Problem', Json> {
  return {
    Task: jsonSchema(Task, 'output'),
    TaskPage: {
      type: 'object',
      description:
        'One page of tasks, by id. `nextCursor` is the `cursor` of the next page (null on the last one).',
      properties: {
        items: { type: 'array', items: ref('Task') },
        total: { type: 'integer', description: 'how many tasks pass the filters, on every page' },
        limit: { type: 'integer' },
        offset: { type: 'integer', description: 'the position of the first item among all that pass' },
        nextCursor: { type: ['string', 'null'] },
      },
      required: ['items', 'total', 'limit', 'offset', 'nextCursor'],
    },
    Alert: jsonSchema(Alert, 'output'),
    Mail: jsonSchema(Mail, 'output'),
    Checkpoint: jsonSchema(Checkpoint, 'output'),
    Agent: {
      allOf: [
        jsonSchema(AgentConfig, 'output'),
        { type: 'object', properties: { state: jsonSchema(AgentState, 'output') }, required: ['state'] },
      ],
    },
    AgentDetail: {
      allOf: [
        ref('Agent'),
        {
          type: 'object',
          properties: {
            mailbox: { type: 'array', items: ref('Mail') },
            checkpoint: { anyOf: [ref('Checkpoint'), { type: 'null' }] },
          },
          required: ['mailbox', 'checkpoint'],
        },
      ],
    },
    Problem: jsonSchema(Problem, 'output'),
  };
}

function answerSchema(answer: Answer): Json {
  if (typeof answer !== 'string') return jsonSchema(answer, 'output');
  return answer.endsWith('[]') ? { type: 'array', items: ref(answer.slice(0, -2)) } : ref(answer);
}

/** Path or query parameters from an object schema: one parameter per property. */
function parameters(schema: z.ZodType | undefined, where: 'path' | 'query'): Json[] {
  if (!schema) return [];
  const json = jsonSchema(schema, 'input') as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || (json.required ?? []).includes(name),
    schema: s,
  }));
}

/** `get /api/v1/tasks/:id/checkpoints` → `getTasksIdCheckpoints`. */
function operationId(route: Route): string {
  const words = route.path
    .split('/')
    .filter((s) => s && s !== 'api' && s !== 'v1' && !s.endsWith('.json'))
    .map((s) => s.replace(/^:/, '').replace(/[^A-Za-z0-9]+(.)?/g, (_, ch: string = '') => ch.toUpperCase()));
  const tail = route.path.endsWith('.json') ? ['openapi'] : [];
  return [route.method, ...words, ...tail]
    .map((w, i) => (i === 0 ? w : w[0]!.toUpperCase() + w.slice(1)))
    .join('');
}

const problem = { $ref: '#/components/responses/Problem' };

/** A body may be left out only when every field of it is optional. */
function requestBody(body: z.ZodType): Json {
  const schema = jsonSchema(body, 'input') as { type?: string; required?: string[] };
  const required = schema.type !== 'object' || (schema.required ?? []).length > 0;
  return { required, content: { 'application/json': { schema } } };
}

function operation(route: Route): Json {
  const refusals: Record<string, Json> = { '401': problem, '403': problem, '500': problem };
  const base: Json = {
    operationId: operationId(route),
    summary: route.summary,
    tags: [route.tag],
    security: [{ bearer: [route.scope] }],
    'x-dreamos-scope': route.scope,
  };
  if (route.kind === 'raw') {
    const query = parameters(route.query, 'query');
    return {
      ...base,
      description: route.description,
      ...(query.length ? { parameters: query } : {}),
      responses: {
        '200': { description: route.summary, content: { [route.produces]: { schema: { type: 'string' } } } },
        ...refusals,
      },
    };
  }
  const params = [...parameters(route.params, 'path'), ...parameters(route.query, 'query')];
  const responses: Record<string, Json> = {
    [String(route.status ?? 200)]: {
      description: route.summary,
      content: { 'application/json': { schema: answerSchema(route.answer) } },
    },
    ...refusals,
  };
  if (params.length || route.body) responses['400'] = problem;
  if (route.params) responses['404'] = problem;
  if (route.body)
    Object.assign(responses, { '409': problem, '413': problem, '415': problem, '503': problem });
  return {
    ...base,
    ...(params.length ? { parameters: params } : {}),
    ...(route.body ? { requestBody: requestBody(route.body) } : {}),
    responses,
  };
}

/** The OpenAPI document of these routes. */
export function openApiDocument(routes: readonly Route[]): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of routes) {
    const path = openApiPath(route.path);
    paths[path] = { ...paths[path], [route.method]: operation(route) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Dream.OS API',
      version: pkg.version,
      description:
        'The task board, the agents, mail, alerts and telemetry of one Dream.OS workspace. Every request needs a bearer token (`dreamos token create`); errors are application/problem+json (RFC 9457).',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description:
            'A token made by `dreamos token create --scope …`. Scopes: read, events, tasks:write, agents:control, admin.',
        },
      },
      schemas: components(),
      responses: {
        Problem: {
          description: 'A refusal or an error (RFC 9457)',
          content: { 'application/problem+json': { schema: ref('Problem') } },
        },
      },
    },
  };
}
