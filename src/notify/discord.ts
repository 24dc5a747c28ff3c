/**
 * The Discord notifier (docs/notifiers.md): posts to a channel's webhook (Discord's "execute
 * webhook", `POST {url}?wait=true` with embeds), one message per batch, an embed per item coloured
 * by severity, or a summary per kind when a batch holds more than fit. It honours Discord's rate
 * limits: a 429 names the wait (`retry_after`, `Retry-After`), and `X-RateLimit-Remaining: 0` with
 * `X-RateLimit-Reset-After` says the next post must wait. See
 * https://discord.com/developers/docs/topics/rate-limits
 *
 * The webhook URL is a secret (anyone holding it may post to the channel): it comes from the
 * environment or a file only the user may read, and every message this notifier writes has it
 * replaced by a redacted form.
 */
import fs from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import pkg from '../../package.json' with { type: 'json' };
import { type DreamEvent, eventFilter } from '../events.js';
import { cut, stripControl } from '../sanitize.js';
import type { Notifier, NotifyContext } from './types.js';
import { RetryLater } from './types.js';

export const DISCORD_URL_ENV = 'DREAMOS_DISCORD_WEBHOOK_URL';

/** What Discord accepts (https://discord.com/developers/docs/resources/message#embed-object-embed-limits). */
const LIMITS = { embeds: 10, title: 256, description: 4096, fieldName: 256, fieldValue: 1024, total: 6000 };

/** Embed colours by severity. */
const COLOUR = { critical: 0xd93f3f, warning: 0xe8a33d, info: 0x3b82c4 } as const;
type Severity = keyof typeof COLOUR;
const RANK: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

/**
 * The events it posts about unless the config names others: attention items (a merge conflict or a
 * failed gate is one), alerts, dead letters, merges.
 */
export const DISCORD_DEFAULT_EVENTS: readonly string[] = [
  'attention.changed',
  'alert.raised',
  'task.failed',
  'task.merged',
];

export interface DiscordEmbed {
  title: string;
  description: string;
  color: number;
  fields?: { name: string; value: string; inline?: boolean }[];
  footer?: { text: string };
  timestamp?: string;
}

export interface DiscordMessage {
  content?: string;
  embeds: DiscordEmbed[];
  allowed_mentions: { parse: string[] };
}

/** One thing worth telling: an attention item, an alert, a dead letter, or another event's task. */
interface Item {
  group: string;
  severity: Severity;
  title: string;
  text: string;
  task?: string | null | undefined;
  agent?: string | null | undefined;
  reason?: string | undefined;
  command?: string | undefined;
  at: string;
}

/** Text as Discord shows it: no control characters, no invisible ones, at most `max` characters. */
const clean = (text: string, max: number) => cut(stripControl(text), max);

const URL_SHAPE = /^\/api\/webhooks\/\d+\/[\w-]+\/?$/;

/**
 * Check a webhook URL: https (plain http only to this machine, for a test server), with Discord's
 * webhook path. The message never holds the URL.
 */
export function checkWebhookUrl(url: string, where: string): URL {
  const parsed = URL.canParse(url) ? new URL(url) : null;
  const loopback = parsed && ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname);
  if (
    !parsed ||
    !(parsed.protocol === 'https:' || (parsed.protocol === 'http:' && loopback)) ||
    !URL_SHAPE.test(parsed.pathname)
  )
    throw new Error(
      `${where} is not a Discord webhook URL (https://discord.com/api/webhooks/ID/TOKEN, from the channel's Integrations settings)`,
    );
  return parsed;
}

/** The URL as it may be shown: its token replaced. */
export function redactWebhookUrl(url: string): string {
  return url.replace(/(\/api\/webhooks\/\d+\/)[^/?#\s]+/g, '$1***');
}

export interface DiscordOptions {
  url: string;
  /** Filter words (default: attention items, alerts, dead letters, merges). */
  events?: readonly string[];
  name?: string;
}

/** What this notifier has told: the last attention list, and the alerts and dead letters posted. */
interface Told {
  attention: Map<string, string>;
  alerts: Set<string>;
  deadLetters: Set<string>;
}

/** Attention reasons a dead letter's own post already covers. */
const DEAD_LETTER_REASONS = new Set(['failed', 'over-budget', 'scope-drift']);

/** The items of one batch, in order: what to say about each event. */
function itemsOf(batch: readonly DreamEvent[], told: Told): Item[] {
  const { attention: seen, alerts: posted } = told;
  const items: Item[] = [];
  for (const event of batch) {
    if (event.type === 'attention.changed' && event.attention) {
      const now = new Map(event.attention.map((a) => [a.key, `${a.reason}/${a.severity}`]));
      for (const a of event.attention) {
        // Only what is new since the list before (a new subject, or a new reason for it); an item
        // about an alert this notifier already posted adds nothing.
        if (seen.get(a.key) === now.get(a.key)) continue;
        if (a.alerts.length > 0 && a.alerts.every((id) => posted.has(id))) continue;
        if (a.task && told.deadLetters.has(a.task) && DEAD_LETTER_REASONS.has(a.reason)) continue;
        items.push({
          group: 'need attention',
          severity: a.severity,
          title: `${a.reason}: ${a.subject}`,
          text: a.text,
          task: a.task,
          agent: a.agent,
          reason: a.reason,
          command: a.action,
          at: event.at,
        });
      }
      seen.clear();
      for (const [key, value] of now) seen.set(key, value);
    } else if (event.type === 'alert.raised') {
      for (const alert of event.alerts ?? []) {
        if (alert.status !== 'open') continue;
        posted.add(alert.id);
        items.push({
          group: 'alerts raised',
          severity: alert.severity,
          title: `alert ${alert.id} (${alert.kind})`,
          text: alert.message,
          reason: alert.kind,
          command: `dreamos attention, then dreamos alert ack ${alert.id}`,
          at: event.at,
        });
      }
    } else if (event.type === 'task.failed') {
      // A failed attempt that will be retried is no news; a dead letter is.
      for (const task of event.tasks ?? []) {
        if (task.status !== 'failed') continue;
        told.deadLetters.add(task.id);
        items.push({
          group: 'tasks failed for good',
          severity: task.priority === 'critical' ? 'critical' : 'warning',
          title: `${task.id} failed: ${task.title}`,
          text: task.result?.error ?? 'failed',
          task: task.id,
          agent: task.agent,
          reason: task.result?.errorCode ?? 'failed',
          command: `dreamos task retry ${task.id} (its log: dreamos task log ${task.id})`,
          at: event.at,
        });
      }
    } else if (event.type === 'task.merged') {
      // The entry also carries the dependents the merge let go: only the merged task is news.
      for (const task of event.tasks ?? []) {
        const code = task.code;
        if (task.status !== 'done' || !code) continue;
        const where =
          code.stage === 'pr-opened'
            ? `${code.branch}: pull request ${code.pr ?? ''}`
            : `${code.branch} into ${code.base}${code.merged ? ` at ${code.merged.slice(0, 12)}` : ''}`;
        items.push({
          group: 'tasks merged',
          severity: 'info',
          title: `${task.id} ${code.stage === 'pr-opened' ? 'pull request opened' : 'merged'}: ${task.title}`,
          text: task.result?.summary ? `${where}\n${task.result.summary}` : where,
          task: task.id,
          agent: task.agent,
          at: event.at,
        });
      }
    } else {
      for (const task of event.tasks ?? []) {
        items.push({
          group: event.type,
          severity: 'info',
          title: `${event.type}: ${task.id} ${task.title}`,
          text: task.result?.summary ?? task.result?.error ?? `${task.id} is ${task.status}`,
          task: task.id,
          agent: task.agent,
          at: event.at,
        });
      }
    }
  }
  return items;
}

function embedOf(item: Item): DiscordEmbed {
  const fields = [
    item.task ? { name: 'task', value: item.task, inline: true } : null,
    item.agent ? { name: 'agent', value: item.agent, inline: true } : null,
    item.reason ? { name: 'reason', value: item.reason, inline: true } : null,
    item.command ? { name: 'to resolve', value: item.command } : null,
  ].filter((f): f is NonNullable<typeof f> => f !== null);
  return {
    title: item.title,
    description: item.text,
    color: COLOUR[item.severity],
    ...(fields.length ? { fields } : {}),
    timestamp: item.at,
  };
}

/** One embed for a whole group: a line per item, the most severe first, as many as fit. */
function summaryOf(group: string, items: Item[]): DiscordEmbed {
  const sorted = [...items].sort((a, b) => RANK[a.severity] - RANK[b.severity]);
  const lines: string[] = [];
  let size = 0;
  for (const [i, item] of sorted.entries()) {
    const line = `• ${clean(item.title, 200)}`;
    const more = `… and ${sorted.length - i} more`;
    if (size + line.length + 1 + more.length > LIMITS.description / 2) {
      lines.push(more);
      break;
    }
    lines.push(line);
    size += line.length + 1;
  }
  return {
    title: `${items.length} ${group}`,
    description: lines.join('\n'),
    color: COLOUR[sorted[0]!.severity],
    fields: [{ name: 'to resolve', value: 'dreamos attention (each item says what to run)' }],
    timestamp: items[items.length - 1]!.at,
  };
}

const sizeOf = (e: DiscordEmbed) =>
  e.title.length +
  e.description.length +
  (e.footer?.text.length ?? 0) +
  (e.fields ?? []).reduce((n, f) => n + f.name.length + f.value.length, 0);

/** Cleaned and cut to Discord's limits: each part, then the whole message's 6,000 characters. */
function withinLimits(embeds: DiscordEmbed[]): DiscordEmbed[] {
  const fitted = embeds.slice(0, LIMITS.embeds).map((e) => ({
    ...e,
    title: clean(e.title, LIMITS.title),
    description: clean(e.description, LIMITS.description),
    ...(e.fields
      ? {
          fields: e.fields.map((f) => ({
            ...f,
            name: clean(f.name, LIMITS.fieldName),
            value: clean(f.value, LIMITS.fieldValue),
          })),
        }
      : {}),
  }));
  let over = fitted.reduce((n, e) => n + sizeOf(e), 0) - LIMITS.total;
  while (over > 0) {
    const longest = fitted.reduce((a, b) => (b.description.length > a.description.length ? b : a));
    if (longest.description.length <= 1) break;
    const keep = Math.max(1, longest.description.length - over);
    over -= longest.description.length - keep;
    longest.description = cut(longest.description, keep);
  }
  return fitted;
}

/** The message for a batch: null when nothing in it is worth telling. */
export function discordMessage(items: Item[], workspace: string): DiscordMessage | null {
  if (items.length === 0) return null;
  let embeds: DiscordEmbed[];
  if (items.length <= LIMITS.embeds) embeds = items.map(embedOf);
  else {
    const groups = new Map<string, Item[]>();
    for (const item of items) groups.set(item.group, [...(groups.get(item.group) ?? []), item]);
    embeds = [...groups].map(([group, list]) => summaryOf(group, list));
  }
  return {
    content: clean(`Dream.OS ${workspace}`, 200),
    embeds: withinLimits(embeds),
    // Nothing in a message pings anyone: task text may hold @everyone or a role mention.
    allowed_mentions: { parse: [] },
  };
}

/** Seconds in a header or body field, as milliseconds; null when absent or not a number. */
function secondsMs(value: unknown): number | null {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? Math.ceil(n * 1000) : null;
}

export function discordNotifier(options: DiscordOptions): Notifier {
  const target = checkWebhookUrl(options.url, 'the Discord webhook URL');
  target.searchParams.set('wait', 'true');
  const secret = options.url;
  const redact = (text: string) => redactWebhookUrl(text.split(secret).join(redactWebhookUrl(secret)));
  const events = options.events ?? DISCORD_DEFAULT_EVENTS;
  eventFilter(events);
  const told: Told = { attention: new Map(), alerts: new Set(), deadLetters: new Set() };
  // A batch tried again is told the same way: its message is made once.
  const made = new WeakMap<readonly DreamEvent[], DiscordMessage | null>();
  let notBefore = 0;

  return {
    name: options.name ?? 'discord',
    events,
    async notify(batch: DreamEvent[], context: NotifyContext) {
      let message = made.get(batch);
      if (message === undefined) {
        message = discordMessage(itemsOf(batch, told), context.workspace);
        made.set(batch, message);
      }
      if (!message) return;
      const wait = notBefore - Date.now();
      if (wait > 0) throw new RetryLater('Discord asked to wait before the next post', wait);
      let response: Response;
      try {
        response = await fetch(target, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': `dreamos/${pkg.version}` },
          body: JSON.stringify(message),
          redirect: 'error',
          signal: context.signal,
        });
      } catch (error) {
        const cause =
          error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
        throw new Error(redact(`Discord could not be reached${cause}`));
      }
      const remaining = response.headers.get('x-ratelimit-remaining');
      const resetAfter = secondsMs(response.headers.get('x-ratelimit-reset-after'));
      if (remaining === '0' && resetAfter !== null) notBefore = Date.now() + resetAfter;
      if (response.status === 429) {
        const body = (await response.json().catch(() => ({}))) as { retry_after?: unknown };
        const after = secondsMs(body.retry_after) ?? secondsMs(response.headers.get('retry-after')) ?? 1000;
        throw new RetryLater(`Discord's rate limit: retry after ${after} ms`, after);
      }
      // The body is not needed, only read so that the connection can be reused.
      const text = await response.text().catch(() => '');
      if (!response.ok)
        throw new Error(redact(`Discord answered ${response.status}: ${cut(stripControl(text), 200)}`));
    },
  };
}

export interface DiscordConfig {
  enabled?: boolean;
  events?: string[] | undefined;
  /** A file holding the webhook URL (relative to the workspace folder), readable by the user only. */
  urlFile?: string | undefined;
}

/** The webhook URL in a secret file: the user's own, readable by nobody else. */
function readUrlFile(home: string, file: string): string {
  const path = isAbsolute(file) ? file : resolve(home, file);
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch {
    throw new Error(`notifiers.discord.urlFile: cannot read ${path}`);
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : null;
  if (uid !== null && st.uid !== uid) throw new Error(`notifiers.discord.urlFile: ${path} is not yours`);
  if ((st.mode & 0o077) !== 0)
    throw new Error(
      `notifiers.discord.urlFile: others may read or change ${path} (mode ${(st.mode & 0o777).toString(8)}); run \`chmod 600 ${path}\``,
    );
  return fs.readFileSync(path, 'utf8').trim();
}

/**
 * The Discord notifier the configuration asks for: the URL from DREAMOS_DISCORD_WEBHOOK_URL, else
 * from `urlFile`. Null when neither gives one (and nothing asks for it) or it is switched off;
 * throws, with a message that never holds the URL, when it is asked for and cannot be made.
 */
export function discordFromConfig(
  home: string,
  config: DiscordConfig | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Notifier | null {
  if (config?.enabled === false) return null;
  const fromEnv = env[DISCORD_URL_ENV]?.trim();
  const url = fromEnv || (config?.urlFile ? readUrlFile(home, config.urlFile) : '');
  if (!url) {
    if (config) throw new Error(`notifiers.discord: no webhook URL (set ${DISCORD_URL_ENV}, or urlFile)`);
    return null;
  }
  checkWebhookUrl(url, fromEnv ? DISCORD_URL_ENV : 'the file notifiers.discord.urlFile names');
  return discordNotifier({ url, ...(config?.events ? { events: config.events } : {}) });
}
