/**
 * The form of a plugin's name, and of the ids of what it provides. Its own module so that config.json's
 * checks (src/scout/config.ts) can use it without evaluating the plugin schemas of ./types.ts, which
 * only plugin loading needs.
 */
export const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
