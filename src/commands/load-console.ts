/**
 * The console module, imported when the console opens (never by headless commands). Its own file so
 * that the CommonJS build of the CLI (scripts/build.mjs) can swap it for an import of dist/console.js.
 */
export const loadConsole = () => import('../../ui/console.js');
