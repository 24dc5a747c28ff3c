/**
 * How a route of the API is declared: its method and path, the scope it needs, the zod schemas of
 * its path parameters, query and body, and what it answers. One declaration serves twice: the app
 * mounts it (src/api/app.ts) and the OpenAPI document describes it (src/api/openapi.ts), so the two
 * cannot drift apart.
 */
import type { Context, Handler } from 'hono';
import * as z from 'zod';
import { STATUSES, TaskId } from '../../state/schemas.js';
import type { ApiEnv, Scope } from './context.js';

export type Method = 'get' | 'post' | 'patch';

/** Named response schemas, described once in the OpenAPI document's components. */
export type Component = 'Task' | 'TaskPage' | 'Alert' | 'Mail' | 'Checkpoint' | 'Agent' | 'AgentDetail';

/** What a route answers with: a component, a list of one, or a schema of its own. */
export type Answer = Component | `${Component}[]` | z.ZodType;

interface Common {
  method: Method;
  /** The path in hono's form: `/api/v1/tasks/:id`. */
  path: string;
  scope: Scope;
  /** The group it is listed under in the OpenAPI document. */
  tag: string;
  summary: string;
}

type Out<S> = S extends z.ZodType ? z.output<S> : never;

interface JsonSpec<P, Q, B> extends Common {
  params?: P;
  query?: Q;
  body?: B;
  /** The body may be larger than the default cap (an import). */
  maxBodyBytes?: number;
  /** 201 for what the call creates. */
  status?: 200 | 201;
  answer: Answer;
  /** What to answer with `status`; a Response of its own when the status depends on the outcome. */
  handle(
    input: { params: Out<P>; query: Out<Q>; body: Out<B> },
    c: Context<ApiEnv>,
  ): unknown | Promise<unknown>;
}

/** A JSON route: validated input in, JSON out. */
export interface JsonRoute extends Common {
  kind: 'json';
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  maxBodyBytes?: number;
  status?: 200 | 201;
  answer: Answer;
  handle(input: { params: unknown; query: unknown; body: unknown }, c: Context<ApiEnv>): unknown;
}

/** A route whose handler another part provides (the event stream, metrics), with its own media type. */
export interface RawRoute extends Common {
  kind: 'raw';
  handler: Handler<ApiEnv>;
  /** The media type it answers with, for the OpenAPI document. */
  produces: string;
  description: string;
  /** The query it reads, for the OpenAPI document only: the handler checks it itself. */
  query?: z.ZodType;
}

export type Route = JsonRoute | RawRoute;

/** Declare a JSON route; the handler's input is typed from the schemas. */
export function route<
  P extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(spec: JsonSpec<P, Q, B>): JsonRoute {
  return { kind: 'json', ...spec } as JsonRoute;
}

/** The OpenAPI form of a hono path: `/tasks/:id` → `/tasks/{id}`. */
export const openApiPath = (path: string): string => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

// ------------------------------------------------------------ schemas shared by the routes

/** A whole number in a query string, within bounds. */
export const intParam = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,16}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().min(min, `at least ${min}`).max(max, `at most ${max}`));

/** `true` or `false` in a query string. */
export const boolParam = z.enum(['true', 'false']).transform((v) => v === 'true');

/** One or more values: `?status=ready,working` or `?status=ready&status=working`. */
export const listParam = <T extends z.ZodType<unknown, string>>(item: T) =>
  z
    .union([z.string(), z.array(z.string())])
    .transform((v) =>
      [v]
        .flat()
        .flatMap((s) => s.split(','))
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(z.array(item).min(1, 'give at least one value'));

export const Stage = z.enum(STATUSES);

/** A path naming one task. */
export const TaskParams = z.strictObject({ id: TaskId });

/** A path naming one agent (whether it exists is the workspace's answer: 404 with the known ones). */
export const AgentParams = z.strictObject({ id: z.string().min(1).max(64) });

/** The optional reason recorded in the history with a change. */
export const Why = z.string().max(10_000, 'at most 10,000 characters');

/** A body holding only the reason of a change (it may be left out entirely). */
export const WhyBody = z.strictObject({ why: Why.optional() });
