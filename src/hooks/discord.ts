/**
 * `POST /hooks/discord`: Discord's interactions endpoint (docs/discord.md). Every request must be
 * signed by the application's key, fresh (src/discord/verify.ts) and not seen before, else 401.
 * PING is answered with PONG; `/dreamos …` runs for the users the allow-list names, with the scopes
 * it gives them.
 *
 * Discord waits 3 seconds for an answer. Reads answer at once (type 4). Changes are checked at once
 * (a mistake is answered then, only to its author), then deferred (type 5: "thinking…") and run,
 * and their outcome replaces the deferred message through Discord's API, since taking the journal
 * lock may wait longer than Discord does.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import * as z from 'zod';
import type { Caller } from '../api/context.js';
import { allows } from '../api/context.js';
import { type Asker, invocationOf } from '../discord/commands.js';
import type { DiscordAppConfig } from '../discord/config.js';
import { discordPublicKey, MAX_AGE_SECONDS, MAX_SKEW_SECONDS, signatureProblem } from '../discord/verify.js';
import { DreamError } from '../errors.js';
import { say } from '../output.js';
import { cut, oneLine, stripControl } from '../sanitize.js';
import type { Workspace } from '../workspace.js';

/** Interactions are a few kilobytes; anything far bigger is not one. */
export const MAX_INTERACTION_BYTES = 256 * 1024;
/** Discord's limit on a message's content. */
const MAX_CONTENT = 2000;
/** Flag of a message only its author sees. */
const EPHEMERAL = 64;

/** Interaction and answer types (https://discord.com/developers/docs/interactions/receiving-and-responding). */
const PING = 1;
const APPLICATION_COMMAND = 2;
const PONG = 1;
const CHANNEL_MESSAGE_WITH_SOURCE = 4;
const DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE = 5;

const Interaction = z.object({
  id: z.string().max(32),
  type: z.number().int(),
  token: z.string().max(1000).optional(),
  data: z
    .object({ name: z.string().max(32), options: z.unknown().optional() })
    .loose()
    .optional(),
  member: z
    .object({ user: z.object({ id: z.string().max(32) }).loose() })
    .loose()
    .optional(),
  user: z
    .object({ id: z.string().max(32) })
    .loose()
    .optional(),
});
type Interaction = z.infer<typeof Interaction>;

/** A message as Discord shows it: no control characters, within its limit, pinging nobody. */
export function messageOf(content: string, ephemeral = false) {
  return {
    content: cut(stripControl(content), MAX_CONTENT) || '(empty)',
    allowed_mentions: { parse: [] as string[] },
    ...(ephemeral ? { flags: EPHEMERAL } : {}),
  };
}

const answer = (content: string, ephemeral = false) => ({
  type: CHANNEL_MESSAGE_WITH_SOURCE,
  data: messageOf(content, ephemeral),
});

/** What an error says to the user: a DreamError's own message, nothing of anything else. */
function errorText(error: unknown, log: (line: string) => void): string {
  if (error instanceof DreamError) return error.message;
  if (error instanceof z.ZodError) return error.issues.map((i) => i.message).join('; ');
  log(`dreamos: a Discord command failed: ${oneLine(String(error), 300)}`);
  return 'it failed inside Dream.OS (see the serving process’s output)';
}

export interface DiscordHookOptions {
  workspace: Workspace;
  config: DiscordAppConfig;
  /** Where failures of the follow-ups are told (default: stderr). */
  log?: (line: string) => void;
  /** The clock the timestamps are checked against (tests). */
  now?: () => number;
}

/** The interactions endpoint as a hono app, at `/discord` of the hooks createApp mounts at /hooks. */
export function discordHook(options: DiscordHookOptions): Hono {
  const { workspace: ws, config } = options;
  const key = discordPublicKey(config.publicKey);
  const log = options.log ?? say;
  const now = options.now ?? Date.now;
  const apiBase = config.apiBase.replace(/\/+$/, '');

  /** Replace the deferred "thinking…" message with the outcome. */
  async function followUp(token: string, content: string): Promise<void> {
    const url = `${apiBase}/webhooks/${config.applicationId}/${encodeURIComponent(token)}/messages/@original`;
    try {
      const response = await fetch(url, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(messageOf(content)),
        redirect: 'error',
        signal: AbortSignal.timeout(10_000),
      });
      await response.text().catch(() => '');
      // The interaction token is part of the address: it is never told.
      if (!response.ok) log(`dreamos: Discord refused a command's answer (${response.status})`);
    } catch (error) {
      const cause =
        error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
      log(`dreamos: a command's answer could not reach Discord: ${oneLine(cause, 200)}`);
    }
  }

  async function command(interaction: Interaction) {
    const user = interaction.member?.user.id ?? interaction.user?.id;
    const scopes = user !== undefined ? config.users[user] : undefined;
    if (user === undefined || scopes === undefined || scopes.length === 0)
      return answer(
        'Sorry, this Dream.OS does not take commands from you. Its operator can add your Discord id.',
        true,
      );
    const caller: Caller = { tokenId: `discord:${user}`, name: `discord:${user}`, scopes };
    let invocation: ReturnType<typeof invocationOf>;
    try {
      invocation = invocationOf(interaction.data?.name ?? '', interaction.data?.options);
    } catch (error) {
      return answer(`Cannot run that: ${errorText(error, log)}`, true);
    }
    const { sub, args } = invocation;
    if (!allows(caller, sub.scope))
      return answer(`Sorry, /dreamos ${sub.path} needs the ${sub.scope} scope, which you do not have.`, true);
    const asker: Asker = { user, caller, interaction: interaction.id };
    try {
      if (!sub.check) return answer(await sub.run(ws, args, asker));
      sub.check(ws, args, asker);
    } catch (error) {
      return answer(`Cannot run /dreamos ${sub.path}: ${errorText(error, log)}`, true);
    }
    const token = interaction.token;
    if (!token) return answer('Cannot answer later: the interaction carries no token.', true);
    // The answer follows once the change is made; the deferral is what Discord gets now.
    void (async () => {
      let content: string;
      try {
        content = await sub.run(ws, args, asker);
      } catch (error) {
        content = `/dreamos ${sub.path} failed: ${errorText(error, log)}`;
      }
      await followUp(token, content);
    })();
    return { type: DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE };
  }

  /**
   * The interactions answered within the age a signature is taken for: Discord never sends one
   * twice, so a second request with the same id is a replay of a captured one.
   */
  const seen = new Map<string, number>();
  const firstTime = (id: string): boolean => {
    const at = now();
    for (const [old, when] of seen) {
      if (at - when <= (MAX_AGE_SECONDS + MAX_SKEW_SECONDS) * 1000) break;
      seen.delete(old);
    }
    if (seen.has(id)) return false;
    seen.set(id, at);
    return true;
  };

  const app = new Hono();
  app.post(
    '/discord',
    bodyLimit({
      maxSize: MAX_INTERACTION_BYTES,
      onError: (c) => c.json({ error: 'the body is too large for an interaction' }, 413),
    }),
    async (c) => {
      const body = Buffer.from(await c.req.arrayBuffer());
      const problem = signatureProblem(
        key,
        c.req.header('X-Signature-Ed25519'),
        c.req.header('X-Signature-Timestamp'),
        body,
        now(),
      );
      if (problem) return c.json({ error: `invalid request signature: ${problem}` }, 401);
      let interaction: Interaction;
      try {
        interaction = Interaction.parse(JSON.parse(body.toString('utf8')));
      } catch {
        return c.json({ error: 'the body is not an interaction' }, 400);
      }
      if (interaction.type === PING) return c.json({ type: PONG });
      if (!firstTime(interaction.id))
        return c.json({ error: 'invalid request: this interaction was answered already' }, 401);
      if (interaction.type !== APPLICATION_COMMAND)
        return c.json(answer('Dream.OS answers /dreamos commands only.', true));
      return c.json(await command(interaction));
    },
  );
  return app;
}
