/**
 * The native and terminal libraries of live sessions, loaded on first use: they stay outside the
 * bundles (scripts/build.mjs), so no command but the ones that run or reach a session loads them.
 * `createRequire`, not `import()`: a dynamic import fails under the launcher's code cache on Node 20.
 */
import { createRequire } from 'node:module';
import type * as NodePty from '@lydell/node-pty';
import type * as SerializeAddon from '@xterm/addon-serialize';
import type * as XtermHeadless from '@xterm/headless';

let pty: typeof NodePty | undefined;
let xterm: typeof XtermHeadless | undefined;
let serialize: typeof SerializeAddon | undefined;

/** node-pty (the prebuilt `@lydell/node-pty`): pseudo-terminals. */
export function loadPty(): typeof NodePty {
  pty ??= createRequire(import.meta.url)('@lydell/node-pty') as typeof NodePty;
  return pty;
}

/** The headless terminal that keeps a session's screen, and the addon that replays it. */
export function loadXterm(): {
  Terminal: typeof XtermHeadless.Terminal;
  SerializeAddon: typeof SerializeAddon.SerializeAddon;
} {
  const require = createRequire(import.meta.url);
  xterm ??= require('@xterm/headless') as typeof XtermHeadless;
  serialize ??= require('@xterm/addon-serialize') as typeof SerializeAddon;
  return { Terminal: xterm.Terminal, SerializeAddon: serialize.SerializeAddon };
}
