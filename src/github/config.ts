/**
 * The `github` section of config.json (docs/github.md): the repositories whose issues become tasks
 * through `POST /hooks/github`, and the scout sources that poll the same repositories, so that a
 * delivery GitHub never made (it does not retry) is still found. Secrets are never here: the
 * webhook secret comes from DREAMOS_GITHUB_WEBHOOK_SECRET or the file `secretFile` names, the
 * token from DREAMOS_GITHUB_TOKEN.
 */
import * as z from 'zod';
import { AgentId, PRIORITIES } from '../../state/schemas.js';
import { GithubRepo, HttpUrl, Interval, type ScoutConfig, type ScoutSource } from '../scout/config.js';

export const GITHUB_SECRET_ENV = 'DREAMOS_GITHUB_WEBHOOK_SECRET';
export const GITHUB_TOKEN_ENV = 'DREAMOS_GITHUB_TOKEN';

export const GithubConfig = z.strictObject({
  /** `owner/name` of each repository whose deliveries are turned into tasks; others are ignored. */
  repos: z.array(GithubRepo).min(1).max(100),
  /**
   * Only issues carrying this label become tasks (opened with it, or labelled with it later);
   * without it, every issue opened does.
   */
  label: z.string().min(1).max(100).optional(),
  /** Who may take the tasks (an agent role or id). */
  role: AgentId.optional(),
  priority: z.enum(PRIORITIES).default('normal'),
  /**
   * Post a comment to the issue when its task is done (needs DREAMOS_GITHUB_TOKEN): `true` names the
   * task; `"summary"` adds the summary its agent reported, which everyone reads on a public
   * repository, so it is asked for by name.
   */
  commentBack: z.union([z.boolean(), z.literal('summary')]).default(false),
  /** GitHub's API (GitHub Enterprise's `https://host/api/v3`, a fake in tests); default scout.githubBaseUrl. */
  apiBaseUrl: HttpUrl.optional(),
  /** A file holding the webhook secret, relative to the workspace folder; yours, mode 600. */
  secretFile: z.string().min(1).max(1000).optional(),
  /** How often the scout polls the repositories' issues, to find deliveries that never came. */
  pollInterval: Interval.default(900),
  /** `false`: no scout source is added for the repositories (polling is left to scout.sources). */
  poll: z.boolean().default(true),
});
export type GithubConfig = z.infer<typeof GithubConfig>;

/** Repository names compare without case, as GitHub's do. */
export const sameRepo = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** The repository of `config` a delivery names, as the config spells it; null for another one. */
export function configuredRepo(config: GithubConfig, fullName: string): string | null {
  return config.repos.find((repo) => sameRepo(repo, fullName)) ?? null;
}

/** The dedupe key of an issue, the scout's and the webhook's alike. */
export const issueKey = (repo: string, number: number) => `gh:${repo}#${number}`;

const ID_RE = /[^a-z0-9_-]+/g;

/**
 * The scout sources the `github` section adds: one `github-issues` source per repository that no
 * source of scout.sources already polls, with the section's label, role and priority, its token
 * from DREAMOS_GITHUB_TOKEN.
 */
export function githubSources(github: GithubConfig | undefined, scout: ScoutConfig): ScoutSource[] {
  if (!github?.poll) return [];
  const polled = scout.sources.flatMap((s) => (s.kind === 'github-issues' ? [s.repo] : []));
  const ids = new Set(scout.sources.map((s) => s.id));
  const added: ScoutSource[] = [];
  for (const repo of github.repos) {
    if (polled.some((p) => sameRepo(p, repo))) continue;
    let id = `github-${repo.toLowerCase().replace(ID_RE, '-')}`.slice(0, 36).replace(/-+$/, '');
    for (let n = 2; ids.has(id); n++) id = `${id.slice(0, 36)}-${n}`;
    ids.add(id);
    added.push({
      id,
      kind: 'github-issues',
      repo,
      labels: github.label ? [github.label] : [],
      tokenEnv: GITHUB_TOKEN_ENV,
      interval: github.pollInterval,
      rules: { keywords: [], patterns: [], exclude: [] },
      ...(github.role ? { role: github.role } : {}),
      priority: github.priority,
      tags: ['github'],
      maxTasksPerRun: 10,
      enabled: true,
    });
  }
  return added;
}
