/**
 * What a plugin is (docs/plugins.md): a module whose default export is `definePlugin({ … })`. The
 * types are what plugin authors import from `dreamos`; the zod schema below is what the loader
 * checks a definition against, so a wrong one is refused with the path of what is wrong.
 */
import * as z from 'zod';
import type { Task } from '../../state/schemas.js';
import { type DreamEvent, EventWords } from '../events.js';
import type { Notifier } from '../notify/types.js';
import { NAME_RE } from './names.js';

/** What a plugin's calls get besides their arguments. */
export interface PluginCallContext {
  /** Aborted when the call runs past its timeout: stop then, the plugin is being switched off. */
  signal: AbortSignal;
}

/** One thing a source found: the scout may turn it into a task (docs/plugins.md#sources). */
export interface SourceItem {
  /** Stable for the same thing across runs (an issue's URL, a post's id): what deduplicates it. */
  key: string;
  title: string;
  text?: string;
  url?: string;
  /** A number the scout's rules may require a minimum of (votes, stars, a relevance). */
  score?: number;
  /** When it was published, ISO 8601. */
  at?: string;
}

/** Where outside work comes from: a function the scout calls on its interval. */
export interface PluginSource {
  /** Lower-case letters, digits, `.`, `_` and `-`; unique within the plugin. */
  id: string;
  description?: string;
  /** How often it is worth asking, in seconds (the scout's own interval otherwise). */
  intervalSeconds?: number;
  /** What it has now; the scout keeps what it has seen, so returning old items again is fine. */
  fetch(context: PluginCallContext): Promise<SourceItem[]> | SourceItem[];
}

/**
 * What checks an agent's driver options: a zod schema, or anything with zod's `safeParse`. It gets
 * the agent's `driver` without `kind`; what it returns (`data`) is what `run` gets as `options`.
 */
export interface DriverOptionsSchema<O> {
  safeParse(
    value: unknown,
  ):
    | { success: true; data: O }
    | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
}

/** What a plugin driver's `run` gets besides the task. */
export interface PluginDriverContext<O = Record<string, unknown>> {
  /** Aborted when the run is to stop (the task cancelled or timed out, the agent stopping): stop then. */
  signal: AbortSignal;
  /** The agent's driver options, as the driver's `options` schema returned them. */
  options: O;
  agent: { id: string; systemPrompt: string };
  /** The agent's working folder, and the workspace's `.dreamos` folder. */
  cwd: string;
  home: string;
  /** The last checkpoint of this agent for this task, when the task is resumed. */
  checkpoint: { step?: string; progress?: number; summary?: string; data?: Record<string, unknown> } | null;
  /** One line of output: into the task's log, and to whoever watches the run. */
  log(line: string): void;
  /** How far the work is, from 0 to 1. */
  progress(fraction: number): void;
}

/** How a run ended. Returning nothing means it succeeded; throwing is a bug, which switches the plugin off. */
export interface PluginDriverResult {
  ok: boolean;
  /** One line for the task's result. */
  summary?: string;
  /** Why it failed, in one line. */
  error?: string;
  usage?: { inputTokens: number; outputTokens: number; usd?: number };
}

/** A kind of driver a plugin provides: agents whose `driver.kind` is this run their tasks through `run`. */
export interface PluginDriver<O = Record<string, unknown>> {
  /** Lower-case letters, digits, `.`, `_` and `-`; not a built-in kind, nor another plugin's. */
  kind: string;
  description?: string;
  /**
   * Checks each agent's driver options when the orchestrator starts it: a zod schema, or a function
   * that returns the options or throws saying what is wrong (none: any options).
   */
  options?: DriverOptionsSchema<O> | ((value: Record<string, unknown>) => O);
  /** Whether the driver can work on a task (default: any task). Called often: keep it quick. */
  accepts?(task: Task): boolean;
  run(
    task: Task,
    context: PluginDriverContext<O>,
  ): Promise<PluginDriverResult | undefined> | PluginDriverResult | undefined;
}

export interface DreamPlugin {
  /** Lower-case letters, digits, `.`, `_` and `-`, at most 64: unique among the loaded plugins. */
  name: string;
  version: string;
  description?: string;
  notifiers?: Notifier[];
  sources?: PluginSource[];
  // biome-ignore lint/suspicious/noExplicitAny: each driver has options of its own type
  drivers?: PluginDriver<any>[];
  /** Every event, in order, one call at a time. */
  onEvent?(event: DreamEvent, context: PluginCallContext): Promise<void> | void;
}

/** A driver kind, typed: `run` gets the options its `options` schema returns. */
export function defineDriver<O>(driver: PluginDriver<O>): PluginDriver<O> {
  return driver;
}

/** A plugin's definition, typed: `export default definePlugin({ name, version, … })`. */
export function definePlugin<const P extends DreamPlugin>(plugin: P): P {
  return plugin;
}

const Name = z.string().regex(NAME_RE, 'lower-case letters, digits, ".", "_" and "-", at most 64');
const Fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', 'a function');

const unique =
  <T>(key: (item: T) => string, what: string) =>
  (items: T[], ctx: z.RefinementCtx) => {
    const seen = new Set<string>();
    for (const [i, item] of items.entries()) {
      if (seen.has(key(item)))
        ctx.addIssue({ code: 'custom', path: [i], message: `a second ${what} ${key(item)}` });
      seen.add(key(item));
    }
  };

/** A definition as the loader accepts it: unknown fields are refused, so a misspelt hook is not ignored. */
export const PluginDefinition = z.strictObject({
  name: Name,
  version: z.string().min(1).max(64),
  description: z.string().max(300).optional(),
  notifiers: z
    .array(z.looseObject({ name: Name, events: EventWords.optional(), notify: Fn }))
    .max(20)
    .superRefine(unique((n) => n.name, 'notifier named'))
    .optional(),
  sources: z
    .array(
      z.looseObject({
        id: Name,
        description: z.string().max(300).optional(),
        intervalSeconds: z
          .number()
          .int()
          .min(10)
          .max(7 * 24 * 3600)
          .optional(),
        fetch: Fn,
      }),
    )
    .max(20)
    .superRefine(unique((s) => s.id, 'source with the id'))
    .optional(),
  drivers: z
    .array(
      z.looseObject({
        kind: Name,
        description: z.string().max(300).optional(),
        options: z
          .custom<unknown>(
            (v) =>
              typeof v === 'function' ||
              typeof (v as { safeParse?: unknown } | null)?.safeParse === 'function',
            'a schema with safeParse (a zod schema), or a function',
          )
          .optional(),
        accepts: Fn.optional(),
        run: Fn,
      }),
    )
    .max(20)
    .superRefine(unique((d) => d.kind, 'driver of the kind'))
    .optional(),
  onEvent: Fn.optional(),
});

/** What a source's fetch must return. */
export const SourceItems = z
  .array(
    z.strictObject({
      key: z.string().min(1).max(500),
      title: z.string().min(1).max(1000),
      text: z.string().max(100_000).optional(),
      url: z
        .url({ protocol: /^https?$/ })
        .max(2000)
        .optional(),
      score: z.number().finite().optional(),
      at: z.iso.datetime({ offset: true }).optional(),
    }),
  )
  .max(1000);

/** What a plugin driver's `run` may return. */
export const DriverResult = z
  .strictObject({
    ok: z.boolean(),
    summary: z.string().max(10_000).optional(),
    error: z.string().max(10_000).optional(),
    usage: z
      .strictObject({
        inputTokens: z.number().int().nonnegative(),
        outputTokens: z.number().int().nonnegative(),
        usd: z.number().nonnegative().optional(),
      })
      .optional(),
  })
  .optional();

/** The first problem zod found, as one line: where, and what. */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0]!;
  const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
  return `${where}${issue.message}`;
}
