import { type Command, InvalidArgumentError } from 'commander';
import { invalidInput } from '../errors.js';
import { type OutputOptions, say } from '../output.js';
import { oneLine } from '../sanitize.js';
import { openWorkspace, type Workspace } from '../workspace.js';

export interface GlobalOptions extends OutputOptions {
  home?: string;
}

export function globals(command: Command): GlobalOptions {
  return command.optsWithGlobals() as GlobalOptions;
}

/**
 * Open the workspace for one command, tell the user what recovery did, and always close it.
 * A one-shot command writes for itself; a long-running one (`run`) shares the workspace's writer;
 * one that only reads (`readOnly`) writes nothing at all, recovery included.
 */
export async function withWorkspace<T>(
  command: Command,
  fn: (ws: Workspace, options: GlobalOptions) => Promise<T>,
  { share = false, readOnly = false }: { share?: boolean; readOnly?: boolean } = {},
): Promise<T> {
  const options = globals(command);
  const ws = await openWorkspace({
    ...(options.home ? { home: options.home } : {}),
    share,
    ...(readOnly ? { readOnly } : {}),
  });
  // Recovery also happens inside transactions (a torn journal tail): tell those too, once each.
  let told = 0;
  const tell = () => {
    for (const notice of ws.notices.slice(told)) say(`dreamos: ${oneLine(notice.message, 1000)}`);
    told = ws.notices.length;
  };
  tell();
  let result: T;
  try {
    result = await fn(ws, options);
  } catch (error) {
    tell();
    // The command's own error is what the user needs: a failure while closing must not replace it.
    await ws.close().catch(() => undefined);
    throw error;
  }
  tell();
  await ws.close();
  return result;
}

export const collect = (value: string, previous: string[] = []) => [...previous, value];

export function positiveInt(name: string, max = Number.MAX_SAFE_INTEGER) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max)
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER
          ? `${name} must be a positive whole number, got ${JSON.stringify(value)}`
          : `${name} must be a whole number from 1 to ${max}, got ${JSON.stringify(value)}`,
      );
    return n;
  };
}

/** `withWorkspace` for a command that only reads: it writes nothing in the workspace. */
export const readWorkspace = <T>(
  command: Command,
  fn: (ws: Workspace, options: GlobalOptions) => Promise<T>,
): Promise<T> => withWorkspace(command, fn, { readOnly: true });

/** A `--store` address is written to config.json, which keeps no secrets: one with a password is refused. */
export function checkStoreOption(store: string | undefined): void {
  if (store && URL.canParse(store) && new URL(store).password)
    throw invalidInput(
      '--store holds a password, and config.json keeps no secrets: leave it out and put it in PGPASSWORD or ~/.pgpass, or give the whole address in DREAMOS_STORE instead',
    );
}
