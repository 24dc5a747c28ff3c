/**
 * The bot token `dreamos discord register` uses: from DREAMOS_DISCORD_BOT_TOKEN, else from the file
 * `discord.botTokenFile` names (the user's own, readable by nobody else). Anyone holding it acts as
 * the bot, so no message ever holds it: errors name where it came from instead.
 */
import fs from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { DreamError, invalidInput } from '../errors.js';

export const BOT_TOKEN_ENV = 'DREAMOS_DISCORD_BOT_TOKEN';

export interface BotToken {
  token: string;
  /** Where it came from, as messages name it. */
  source: string;
}

export function botToken(
  home: string,
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): BotToken {
  const fromEnv = env[BOT_TOKEN_ENV]?.trim();
  if (fromEnv) return { token: fromEnv, source: BOT_TOKEN_ENV };
  if (!file)
    throw invalidInput(
      `no bot token: set ${BOT_TOKEN_ENV}, or name a file holding it in discord.botTokenFile (mode 600)`,
    );
  const path = isAbsolute(file) ? file : resolve(home, file);
  const where = `discord.botTokenFile (${path})`;
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch {
    throw new DreamError('E_IO', `cannot read ${where}`);
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : null;
  if (uid !== null && st.uid !== uid) throw new DreamError('E_UNTRUSTED', `${where} is not yours`);
  if ((st.mode & 0o077) !== 0)
    throw new DreamError(
      'E_UNTRUSTED',
      `others may read or change ${where} (mode ${(st.mode & 0o777).toString(8)}); run \`chmod 600 ${path}\``,
    );
  const token = fs.readFileSync(path, 'utf8').trim();
  if (!token) throw invalidInput(`${where} is empty`);
  return { token, source: where };
}
