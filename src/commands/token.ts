/**
 * `dreamos token create|list|revoke`: the tokens the HTTP API takes (src/tokens.ts). The secret is
 * printed once, by `create`, and kept nowhere: the workspace holds only its hash.
 */
import type { Command } from 'commander';
import { workspacePaths } from '../../state/paths.js';
import { SCOPES } from '../api/context.js';
import { emit, say, table } from '../output.js';
import { oneLine } from '../sanitize.js';
import { parseDuration } from '../task-input.js';
import type { TokenStore } from '../tokens.js';
import { findWorkspace } from '../workspace-home.js';
import { collect, type GlobalOptions, globals } from './common.js';

async function storeFor(options: GlobalOptions): Promise<TokenStore> {
  const paths = workspacePaths(findWorkspace(options.home ? { home: options.home } : {}));
  // The token store (its schemas, hashing): loaded by these commands and the server only, not at every start.
  const { openTokenStore } = await import('../tokens.js');
  return openTokenStore(paths);
}

/** Tell what the store found damaged and moved aside while changing it. */
function tellQuarantined(store: TokenStore): void {
  for (const message of store.quarantined) say(`dreamos: ${oneLine(message, 1000)}`);
}

/** `--expires 30d`: a duration, or `never`. */
function expiresIn(value: string): number | null {
  return value === 'never' ? null : parseDuration(value);
}

export function registerToken(program: Command): void {
  const token = program.command('token').description('tokens for the HTTP API: create, list, revoke');
  token
    .command('create')
    .description('make a token and print it once (only its hash is kept)')
    .requiredOption('--scope <scopes>', `what it allows, comma-separated: ${SCOPES.join(', ')}`, collect)
    .option('--name <name>', 'a name to know it by (default token-N)')
    .option('--expires <duration>', 'how long it works: 30d, 12h, … or never', '90d')
    .action(async (o, command: Command) => {
      const options = globals(command);
      const store = await storeFor(options);
      const made = await store.create({
        scopes: o.scope,
        ...(o.name !== undefined ? { name: o.name } : {}),
        expiresIn: expiresIn(o.expires),
      });
      tellQuarantined(store);
      emit(options, { ...made.token, token: made.secret }, () => made.secret);
      if (!options.json)
        say(
          `dreamos: token ${made.token.name} (${made.token.id}, ${made.token.scopes.join(',')}, ${made.token.expiresAt ? `expires ${made.token.expiresAt}` : 'never expires'}): it is shown this once`,
        );
    });
  token
    .command('list')
    .description('the tokens, without their secrets')
    .action(async (_o, command: Command) => {
      const options = globals(command);
      const store = await storeFor(options);
      const tokens = store.list();
      if (store.problem) say(`dreamos: ${oneLine(store.problem, 1000)}: no token works until it is mended`);
      emit(options, tokens, () =>
        tokens.length === 0
          ? 'no tokens (make one with `dreamos token create --scope read`)'
          : table([
              ['ID', 'NAME', 'STATE', 'SCOPES', 'EXPIRES', 'STARTS WITH'],
              ...tokens.map((t) => [
                t.id,
                t.name,
                t.state,
                t.scopes.join(','),
                t.expiresAt ?? 'never',
                `${t.hint}…`,
              ]),
            ]),
      );
    });
  token
    .command('revoke')
    .description('stop a token from working, at once')
    .argument('<token>', 'its id (tok-…) or name')
    .action(async (which: string, _o, command: Command) => {
      const options = globals(command);
      const store = await storeFor(options);
      const revoked = await store.revoke(which);
      tellQuarantined(store);
      emit(options, revoked, () => `${revoked.id} (${revoked.name}) revoked`);
    });
}
