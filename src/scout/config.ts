/**
 * The `scout` section of config.json (docs/scout.md): the sources the scout watches, and the bounds
 * of every request it makes. Rules are checked here, once, so that a run never meets a pattern it
 * cannot compile.
 */
import { createRequire } from 'node:module';
import type SafeRegex from 'safe-regex2';
import * as z from 'zod';
import { AgentId, PRIORITIES } from '../../state/schemas.js';
import { NAME_RE } from '../plugins/names.js';

const MiB = 1024 * 1024;
const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)?$/;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;

/** "90s", "15m", "1h", "1d" or a number of seconds. */
export const Interval = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const match = typeof value === 'string' ? DURATION_RE.exec(value.trim()) : null;
  const seconds =
    typeof value === 'number'
      ? value
      : match
        ? Number(match[1]) * UNIT_SECONDS[(match[2] ?? 's') as keyof typeof UNIT_SECONDS]
        : Number.NaN;
  if (!(seconds >= 1)) {
    ctx.addIssue({ code: 'custom', message: 'an interval of at least a second, like 15m, 1h or 3600' });
    return z.NEVER;
  }
  return seconds;
});

let safeRegexModule: typeof SafeRegex | undefined;

/** The check of a pattern's matching time, loaded when a config has patterns (not by every command). */
const safeRegex = (source: string): boolean => {
  safeRegexModule ??= createRequire(import.meta.url)('safe-regex2') as typeof SafeRegex;
  return safeRegexModule(source);
};

/** The longest pattern a rule may hold, and the most text one is run against (title and text, cut). */
export const MAX_PATTERN = 200;
export const MAX_MATCHED_TEXT = 10_000;

const Pattern = z
  .string()
  .min(1)
  .max(MAX_PATTERN)
  .superRefine((source, ctx) => {
    try {
      new RegExp(source, 'iu');
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `not a regular expression: ${(error as Error).message}` });
      return;
    }
    // The text a pattern runs against comes from outside: a pattern whose matching can take time
    // exponential in the text's length (a quantified group that repeats, as in `(\w+\s?)+`) would let
    // one hostile item stop the scout, and the orchestrator it runs in.
    if (!safeRegex(source))
      ctx.addIssue({
        code: 'custom',
        message:
          'a pattern with a repeated group inside a repetition (such as (a+)+) can take for ever on some texts: write it without the nesting',
      });
  });

/**
 * Which items become tasks: one that matches any keyword (a case-insensitive substring of its title
 * or text) or any pattern; with neither, every item. `exclude` keywords drop an item whatever else
 * matched. `minScore` is the Hacker News points an item needs.
 */
const Rules = z
  .strictObject({
    keywords: z.array(z.string().min(1).max(100)).max(100).default([]),
    patterns: z.array(Pattern).max(20).default([]),
    exclude: z.array(z.string().min(1).max(100)).max(100).default([]),
    minScore: z.number().int().nonnegative().optional(),
  })
  .prefault({});
export type Rules = z.infer<typeof Rules>;

const SOURCE_ID_RE = /^[a-z0-9][a-z0-9_-]{0,39}$/;
export const HttpUrl = z
  .string()
  .max(2000)
  .refine((url) => URL.canParse(url) && ['http:', 'https:'].includes(new URL(url).protocol), {
    message: 'an http:// or https:// address',
  });

/** A GitHub repository, `owner/name`. */
export const GithubRepo = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,100}\/[A-Za-z0-9_.-]{1,100}$/, 'owner/name')
  .refine((repo) => !repo.split('/').some((part) => part === '.' || part === '..'), 'owner/name');

const common = {
  id: z.string().regex(SOURCE_ID_RE, 'a source id is lowercase letters, digits, - and _ (max 40)'),
  /** How often the orchestrator looks (it runs the scout when it leads the sweeps). */
  interval: Interval.default(3600),
  rules: Rules,
  /** Who may take the tasks it makes. */
  role: AgentId.optional(),
  priority: z.enum(PRIORITIES).default('normal'),
  tags: z.array(z.string().min(1).max(64)).max(16).default([]),
  /** New tasks one run makes at most; the rest wait for the next run. */
  maxTasksPerRun: z.number().int().min(1).max(1000).default(10),
  enabled: z.boolean().default(true),
};

export const ScoutSource = z.discriminatedUnion('kind', [
  z.strictObject({ ...common, kind: z.literal('rss'), url: HttpUrl }),
  z.strictObject({ ...common, kind: z.literal('atom'), url: HttpUrl }),
  z.strictObject({
    ...common,
    kind: z.literal('github-issues'),
    repo: GithubRepo,
    /** Only issues with every one of these labels. */
    labels: z.array(z.string().min(1).max(100)).max(10).default([]),
    /** The environment variable holding a GitHub token (never the token itself). */
    tokenEnv: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]{0,63}$/)
      .optional(),
  }),
  z.strictObject({ ...common, kind: z.literal('hn'), query: z.string().min(1).max(200) }),
  /** A source a plugin offers (docs/plugins.md#sources), given an id, rules and a role here. */
  z.strictObject({
    ...common,
    kind: z.literal('plugin'),
    plugin: z.string().regex(NAME_RE, "a plugin's name"),
    source: z.string().regex(NAME_RE, "a plugin source's id"),
  }),
]);
export type ScoutSource = z.infer<typeof ScoutSource>;
/** A source read over HTTP by the scout itself. */
export type FetchedSource = Exclude<ScoutSource, { kind: 'plugin' }>;
export type PluginScoutSource = Extract<ScoutSource, { kind: 'plugin' }>;

export const ScoutConfig = z
  .strictObject({
    sources: z.array(ScoutSource).max(200).default([]),
    /** The services' addresses: a mirror, or a fake in tests. */
    hnBaseUrl: HttpUrl.default('https://hn.algolia.com'),
    githubBaseUrl: HttpUrl.default('https://api.github.com'),
    /** Every request: how long it may take, how much it may read, how many redirects it follows. */
    timeoutSeconds: z.number().positive().max(300).default(20),
    maxBytes: z
      .number()
      .int()
      .positive()
      .max(64 * MiB)
      .default(5 * MiB),
    maxRedirects: z.number().int().min(0).max(10).default(3),
    /** How long an item is remembered as seen. */
    seenRetentionDays: z.number().positive().max(3650).default(90),
    /** Consecutive failed runs of a source before it raises its alert (one, however many follow). */
    failuresBeforeAlert: z.number().int().min(1).max(100).default(3),
  })
  .superRefine((scout, ctx) => {
    const seen = new Set<string>();
    const named = new Set<string>();
    for (const [i, source] of scout.sources.entries()) {
      if (seen.has(source.id))
        ctx.addIssue({
          code: 'custom',
          path: ['sources', i, 'id'],
          message: `duplicate source id ${source.id}`,
        });
      seen.add(source.id);
      if (source.kind !== 'plugin') continue;
      const name = `${source.plugin}/${source.source}`;
      // One plugin source, one set of rules: two entries would read it twice under two ids.
      if (named.has(name))
        ctx.addIssue({
          code: 'custom',
          path: ['sources', i, 'source'],
          message: `plugin source ${name} is named by two sources`,
        });
      named.add(name);
    }
  })
  .prefault({});
export type ScoutConfig = z.infer<typeof ScoutConfig>;
