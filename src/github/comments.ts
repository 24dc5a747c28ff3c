/**
 * The comment back (docs/github.md): when a task made from an issue (dedupe key `gh:owner/repo#N`,
 * of a repository in github.repos) is done, or for a code task merged (docs/review.md), the serving
 * process posts one comment to the issue.
 * It listens to the event hub, so it sees the tasks done while it serves.
 *
 * At most once per task: the task is written down in `.dreamos/github/comments.json` (under the
 * lock `locks/github-comments`) before the comment is posted, and a failed post is recorded, not
 * retried. A comment is a courtesy; the board is the record.
 */
import { join } from 'node:path';
import * as z from 'zod';
import type { WorkspacePaths } from '../../state/paths.js';
import type { Task } from '../../state/schemas.js';
import type { DreamEvent } from '../events.js';
import { LockedJsonFile } from '../locked-file.js';
import { cut, oneLine, stripControl } from '../sanitize.js';
import { configuredRepo, GITHUB_TOKEN_ENV, type GithubConfig } from './config.js';

const KEY_RE = /^gh:([^#]+)#(\d+)$/;
const MAX_SUMMARY = 2000;
const TIMEOUT_MS = 20_000;
/** Tasks remembered; the oldest go first (a task done long ago is not done again). */
const MAX_REMEMBERED = 10_000;

const CommentsFile = z.strictObject({
  schemaVersion: z.literal(1),
  /** Task id → what became of its comment. */
  tasks: z.record(
    z.string().max(64),
    z.strictObject({
      issue: z.string().max(300),
      at: z.iso.datetime({ offset: true }),
      status: z.enum(['posting', 'posted', 'failed']),
      error: z.string().max(300).optional(),
    }),
  ),
});
type CommentsFile = z.infer<typeof CommentsFile>;

/** What the comment back needs of the workspace. */
export interface CommentWorkspace {
  readonly paths: WorkspacePaths;
  readonly view: { task(id: string): Task | undefined };
  refresh(): void;
}

/** What the comment back needs of the event hub. */
export interface EventSource {
  subscribe(onEvent: (event: DreamEvent) => void, onClose?: () => void): () => void;
}

export interface CommentBackOptions {
  workspace: CommentWorkspace;
  hub: EventSource;
  config: GithubConfig;
  /** GitHub's API address (github.apiBaseUrl, else scout.githubBaseUrl). */
  apiBaseUrl: string;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

export interface CommentBack {
  /** Resolves once every comment begun has been posted or has failed. */
  idle(): Promise<void>;
  stop(): void;
}

/** The issue a task was made from, when it is one of github.repos. */
export function issueOf(config: GithubConfig, task: Task): { repo: string; number: number } | null {
  const match = task.dedupeKey ? KEY_RE.exec(task.dedupeKey) : null;
  if (!match) return null;
  const repo = configuredRepo(config, match[1]!);
  return repo ? { repo, number: Number(match[2]) } : null;
}

/**
 * The comment: what became of the task (finished; or, for a code task, merged with its commit, or
 * its pull request opened), and, when asked for (`commentBack: "summary"`), its summary.
 */
export function commentText(task: Task, withSummary: boolean): string {
  const summary =
    withSummary && task.result?.summary ? cut(stripControl(task.result.summary).trim(), MAX_SUMMARY) : '';
  const title = oneLine(task.title, 300);
  const code = task.code;
  const head =
    code?.stage === 'merged'
      ? [
          `Dream.OS merged task ${task.id}: ${title}`,
          '',
          `Branch \`${code.branch}\` was merged into \`${oneLine(code.base, 250).replaceAll('`', '')}\`${code.merged ? ` at ${code.merged}` : ''}.`,
        ]
      : code?.stage === 'pr-opened'
        ? [
            `Dream.OS opened a pull request for task ${task.id}: ${title}`,
            '',
            `Branch \`${code.branch}\`: ${oneLine(code.pr ?? '', 500)}`,
          ]
        : [`Dream.OS finished task ${task.id}: ${title}`];
  return [...head, ...(summary ? ['', summary] : [])].join('\n');
}

/** Start posting comments; null (with a line in the log) when commentBack is off or no token is set. */
export function startCommentBack(options: CommentBackOptions): CommentBack | null {
  const { workspace: ws, config } = options;
  const log = options.log ?? (() => undefined);
  if (!config.commentBack) return null;
  const token = (options.env ?? process.env)[GITHUB_TOKEN_ENV]?.trim();
  if (!token) {
    log(`github: commentBack is on but ${GITHUB_TOKEN_ENV} is not set: no comment is posted`);
    return null;
  }
  const file = new LockedJsonFile(ws.paths, {
    path: join(ws.paths.home, 'github', 'comments.json'),
    lock: 'github-comments',
    schema: CommentsFile,
    empty: () => ({ schemaVersion: 1 as const, tasks: {} }),
    loss: 'the tasks already commented on are forgotten; a comment is posted when a task is done, which happens once, so none is posted twice',
    onQuarantine: (message) => log(`github: ${message}`),
  });
  const base = options.apiBaseUrl.endsWith('/') ? options.apiBaseUrl : `${options.apiBaseUrl}/`;

  /** Change the record of comments, keeping it to the last MAX_REMEMBERED tasks. */
  const change = <T>(fn: (current: CommentsFile) => T): Promise<T> =>
    file.change((current) => {
      const result = fn(current);
      const entries = Object.entries(current.tasks);
      if (entries.length > MAX_REMEMBERED)
        current.tasks = Object.fromEntries(
          entries.sort((a, b) => (a[1].at < b[1].at ? -1 : 1)).slice(-MAX_REMEMBERED),
        );
      return result;
    });

  async function post(taskId: string): Promise<void> {
    ws.refresh();
    const task = ws.view.task(taskId);
    if (task?.status !== 'done') return;
    const issue = issueOf(config, task);
    if (!issue) return;
    const name = `${issue.repo}#${issue.number}`;
    const claimed = await change((current) => {
      if (current.tasks[taskId]) return false;
      current.tasks[taskId] = { issue: name, at: new Date().toISOString(), status: 'posting' };
      return true;
    });
    if (!claimed) return;
    let error: string | undefined;
    try {
      const response = await fetch(new URL(`repos/${issue.repo}/issues/${issue.number}/comments`, base), {
        method: 'POST',
        headers: {
          accept: 'application/vnd.github+json',
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ body: commentText(task, config.commentBack === 'summary') }),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      const text = await response.text().catch(() => '');
      if (!response.ok) error = `GitHub answered ${response.status}: ${oneLine(text, 200)}`;
    } catch (failure) {
      error = oneLine(String((failure as Error).message ?? failure), 200);
    }
    if (error) log(`github: no comment on ${name} for ${taskId}: ${error}`);
    await change((current) => {
      current.tasks[taskId] = {
        issue: name,
        at: new Date().toISOString(),
        status: error ? 'failed' : 'posted',
        ...(error ? { error: cut(error, 300) } : {}),
      };
    });
  }

  // One comment at a time, in the order the tasks were done.
  let queue: Promise<void> = Promise.resolve();
  const unsubscribe = options.hub.subscribe((event) => {
    // A code task ends with its merge (task.merged), any other with task.done: one comment either way.
    if (event.type !== 'task.done' && event.type !== 'task.merged') return;
    for (const brief of event.tasks ?? [])
      queue = queue.then(() =>
        post(brief.id).catch((failure: unknown) =>
          log(`github: comment back for ${brief.id} failed: ${oneLine(String(failure), 200)}`),
        ),
      );
  });
  return {
    idle: () => queue,
    stop: unsubscribe,
  };
}
