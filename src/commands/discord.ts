/**
 * `dreamos discord register [--guild ID]`: install the `/dreamos` slash command in Discord
 * (docs/discord.md) by overwriting the application's commands with its definition
 * (src/discord/commands.ts). The bot token comes from the environment or a secret file and is
 * never printed: errors name where it came from.
 */
import type { Command } from 'commander';
import pkg from '../../package.json' with { type: 'json' };
import { DreamError, invalidInput } from '../errors.js';
import { emit, say } from '../output.js';
import { cut, oneLine, stripControl } from '../sanitize.js';
import { readWorkspace } from './common.js';

/** What Discord's answer means, in a sentence that names the token's source but never the token. */
function refusal(status: number, body: string, source: string, guild: string | undefined): DreamError {
  if (status === 401)
    return new DreamError(
      'E_UNTRUSTED',
      `Discord refused the bot token from ${source} (401): copy it again from the Bot page of the application`,
    );
  if (status === 403)
    return new DreamError(
      'E_UNTRUSTED',
      guild
        ? `Discord refused (403): the application is not in guild ${guild}, or was added without the applications.commands scope`
        : 'Discord refused (403): the bot token does not belong to discord.applicationId',
    );
  if (status === 404)
    return invalidInput(`Discord knows no application ${guild ? 'or guild ' : ''}with that id (404)`);
  if (status === 429) return new DreamError('E_IO', "Discord's rate limit: try again in a minute (429)");
  return new DreamError('E_IO', `Discord answered ${status}: ${oneLine(cut(stripControl(body), 300))}`);
}

export function registerDiscord(program: Command): void {
  const discord = program.command('discord').description('the Discord application: its slash commands');
  discord
    .command('register')
    .description('install /dreamos in Discord (bot token: DREAMOS_DISCORD_BOT_TOKEN or discord.botTokenFile)')
    .option('--guild <id>', 'in one server only (at once), instead of everywhere (may take up to an hour)')
    .action(async (o: { guild?: string }, command: Command) => {
      await readWorkspace(command, async (ws, options) => {
        // The slash command's definitions: loaded by this command only, not at every start.
        const { botToken } = await import('../discord/bot-token.js');
        const { commandDefinitions, SUBCOMMANDS } = await import('../discord/commands.js');
        const config = ws.config.discord;
        if (!config)
          throw invalidInput(
            'config.json has no discord section (applicationId, publicKey, users): see docs/discord.md',
          );
        if (o.guild !== undefined && !/^\d{1,25}$/.test(o.guild))
          throw new DreamError(
            'E_USAGE',
            `--guild takes a Discord server id (digits), got ${JSON.stringify(o.guild).slice(0, 40)}`,
          );
        const { token, source } = botToken(ws.home, config.botTokenFile);
        const base = config.apiBase.replace(/\/+$/, '');
        const url = o.guild
          ? `${base}/applications/${config.applicationId}/guilds/${o.guild}/commands`
          : `${base}/applications/${config.applicationId}/commands`;
        // Whatever Discord echoes, the token never reaches the terminal.
        const hide = (text: string) => text.split(token).join('***');
        let response: Response;
        try {
          response = await fetch(url, {
            method: 'PUT',
            headers: {
              authorization: `Bot ${token}`,
              'content-type': 'application/json',
              'user-agent': `dreamos/${pkg.version}`,
            },
            body: JSON.stringify(commandDefinitions()),
            redirect: 'error',
            signal: AbortSignal.timeout(30_000),
          });
        } catch (error) {
          const cause =
            error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
          throw new DreamError(
            'E_IO',
            hide(`Discord could not be reached at ${base}: ${oneLine(cause, 200)}`),
          );
        }
        const text = hide(await response.text().catch(() => ''));
        if (!response.ok) throw refusal(response.status, text, source, o.guild);
        let installed: Array<{ id?: unknown; name?: unknown }> = [];
        try {
          const parsed: unknown = JSON.parse(text);
          if (Array.isArray(parsed)) installed = parsed;
        } catch {
          // Discord answered 200 with something else: the commands are installed all the same.
        }
        const result = {
          applicationId: config.applicationId,
          guild: o.guild ?? null,
          commands: installed.map((c) => ({ id: String(c.id ?? ''), name: String(c.name ?? '') })),
          subcommands: SUBCOMMANDS.map((s) => s.path),
        };
        emit(options, result, () => '');
        if (!options.json)
          say(
            `dreamos: installed /dreamos (${SUBCOMMANDS.length} subcommands) ${o.guild ? `in server ${o.guild}` : 'for every server (it may take up to an hour to appear)'}`,
          );
      });
    });
}
