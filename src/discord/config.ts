/**
 * The `discord` section of config.json (docs/discord.md): the Discord application whose slash
 * commands reach this workspace, and who may use them. Nothing here is secret: the public key only
 * checks signatures, and the bot token (needed to register the commands) comes from the
 * environment or a file only the user may read.
 */
import * as z from 'zod';
import { SCOPES } from '../api/context.js';

/** A Discord id (a snowflake): digits only. */
const Snowflake = z.string().regex(/^\d{1,25}$/, 'a Discord id (digits only)');

export const DEFAULT_DISCORD_API = 'https://discord.com/api/v10';

export const DiscordAppConfig = z.strictObject({
  /** The application's id (General Information in the developer portal). */
  applicationId: Snowflake,
  /** The application's public key, 64 hex digits: every interaction is signed with its private half. */
  publicKey: z.string().regex(/^[0-9a-fA-F]{64}$/, "the application's public key: 64 hex digits"),
  /** Discord user id → the scopes that user has (the same names as tokens'); nobody else is served. */
  users: z.record(Snowflake, z.array(z.enum(SCOPES)).max(SCOPES.length)).default({}),
  /** Discord's API (follow-ups and registration); another address is only for tests. */
  apiBase: z
    .url()
    .refine((url) => /^https?:\/\//.test(url), 'an http(s) address')
    .default(DEFAULT_DISCORD_API),
  /** A file holding the bot token, relative to the workspace folder; mode 600. */
  botTokenFile: z.string().min(1).max(1000).optional(),
});
export type DiscordAppConfig = z.infer<typeof DiscordAppConfig>;
