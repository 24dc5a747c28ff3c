/**
 * What each kind of source reads: its request, and its answer turned into items. Feeds (RSS, Atom)
 * are parsed with @rowanmanning/feed-parser, loaded when a feed is first read; the JSON services
 * (Hacker News search, GitHub issues) are checked with zod, reading only the fields used.
 */
import { createRequire } from 'node:module';
import type * as FeedParser from '@rowanmanning/feed-parser';
import * as z from 'zod';
import type { FetchedSource, ScoutConfig } from './config.js';
import { FetchError, type FetchLimits, fetchLimited, type Validators } from './http.js';

/** One thing a source offers, as read (not yet cleaned: see run.ts). */
export interface RawItem {
  /** What identifies it within its source: the feed's guid, the story's id, the issue's number. */
  guid: string;
  title: string;
  text: string;
  link: string | null;
  /** Hacker News points. */
  score?: number;
  /** The dedupe key it goes by when one outside this source names it too (a GitHub issue). */
  key?: string;
}

export type SourceRead =
  | { status: 'not-modified' }
  | { status: 'ok'; items: RawItem[]; validators: Validators };

/** `path` under a base address that may have a path of its own (GitHub Enterprise's `/api/v3`). */
const under = (base: string, path: string) => new URL(path, base.endsWith('/') ? base : `${base}/`);

/** The address a source is read from. */
export function sourceUrl(source: FetchedSource, config: ScoutConfig): string {
  switch (source.kind) {
    case 'rss':
    case 'atom':
      return source.url;
    case 'hn': {
      const url = under(config.hnBaseUrl, 'api/v1/search_by_date');
      url.searchParams.set('tags', 'story');
      url.searchParams.set('query', source.query);
      url.searchParams.set('hitsPerPage', '100');
      return url.href;
    }
    case 'github-issues': {
      const url = under(config.githubBaseUrl, `repos/${source.repo}/issues`);
      url.searchParams.set('state', 'open');
      url.searchParams.set('per_page', '100');
      if (source.labels.length > 0) url.searchParams.set('labels', source.labels.join(','));
      return url.href;
    }
  }
}

function headersOf(source: FetchedSource): Record<string, string> {
  if (source.kind !== 'github-issues') return {};
  const token = source.tokenEnv ? process.env[source.tokenEnv] : undefined;
  return {
    accept: 'application/vnd.github+json',
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  };
}

export async function readSource(
  source: FetchedSource,
  config: ScoutConfig,
  validators: Validators,
): Promise<SourceRead> {
  const limits: FetchLimits = {
    timeoutMs: config.timeoutSeconds * 1000,
    maxBytes: config.maxBytes,
    maxRedirects: config.maxRedirects,
  };
  const fetched = await fetchLimited(sourceUrl(source, config), limits, {
    validators,
    headers: headersOf(source),
  });
  if (fetched.status === 'not-modified') return fetched;
  const items =
    source.kind === 'hn'
      ? hnItems(fetched.body)
      : source.kind === 'github-issues'
        ? issueItems(fetched.body, source.repo)
        : await feedItems(fetched.body);
  return { status: 'ok', items, validators: fetched.validators };
}

function json(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    throw new FetchError('the answer is not JSON');
  }
}

const HnAnswer = z.object({
  hits: z.array(
    z.object({
      objectID: z.string().min(1).max(100),
      title: z.string().nullish(),
      url: z.string().nullish(),
      story_text: z.string().nullish(),
      points: z.number().nullish(),
    }),
  ),
});

function hnItems(body: string): RawItem[] {
  const parsed = HnAnswer.safeParse(json(body));
  if (!parsed.success) throw new FetchError('the answer is not a Hacker News search result');
  return parsed.data.hits.map((hit) => ({
    guid: hit.objectID,
    title: hit.title ?? '',
    text: hit.story_text ?? '',
    link: hit.url ?? `https://news.ycombinator.com/item?id=${encodeURIComponent(hit.objectID)}`,
    score: hit.points ?? 0,
  }));
}

const Issues = z.array(
  z.object({
    number: z.number().int().positive(),
    title: z.string(),
    body: z.string().nullish(),
    html_url: z.string().nullish(),
    pull_request: z.unknown().optional(),
  }),
);

function issueItems(body: string, repo: string): RawItem[] {
  const parsed = Issues.safeParse(json(body));
  if (!parsed.success) throw new FetchError('the answer is not a list of GitHub issues');
  // The issues endpoint lists pull requests too: they are not issues to work on.
  return parsed.data
    .filter((issue) => issue.pull_request === undefined)
    .map((issue) => ({
      guid: `${repo}#${issue.number}`,
      title: issue.title,
      text: issue.body ?? '',
      link: issue.html_url ?? null,
      // The key a webhook delivery of the same issue makes: either way the issue is one task.
      key: `gh:${repo}#${issue.number}`,
    }));
}

let feedParser: typeof FeedParser | undefined;

/**
 * The feed parser, loaded on first use and kept out of the bundles: only a workspace whose scout
 * reads feeds needs it. It is required, not imported: the CLI may run as a script (its code cache)
 * where import() is not available.
 */
function parser(): typeof FeedParser {
  feedParser ??= createRequire(import.meta.url)('@rowanmanning/feed-parser') as typeof FeedParser;
  return feedParser;
}

async function feedItems(body: string): Promise<RawItem[]> {
  const { parseFeed } = parser();
  let feed: ReturnType<typeof parseFeed>;
  try {
    feed = parseFeed(body);
  } catch (error) {
    throw new FetchError(`not an RSS or Atom feed (${(error as Error).message.slice(0, 120)})`);
  }
  return feed.items.flatMap((item) => {
    const guid = item.id ?? item.url ?? item.title;
    if (!guid) return [];
    return [
      {
        guid,
        title: item.title ?? '',
        text: item.description ?? item.content ?? '',
        link: item.url,
      },
    ];
  });
}
