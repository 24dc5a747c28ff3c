/**
 * The names keys have in the keymap, as ui/input.ts makes them from what the terminal sends. The
 * bindings are checked against them when their table is defined (as gemini-cli checks its key
 * bindings at construction): a name nothing produces, such as `page-up` for `pageup`, would
 * otherwise pass silently and the command would have no key.
 */

/** Keys with a name of their own (every other key is a character, `ctrl-x` or `meta-x`). */
export const NAMED_KEYS = [
  'up',
  'down',
  'left',
  'right',
  'pageup',
  'pagedown',
  'home',
  'end',
  'enter',
  'esc',
  'tab',
  'shift-tab',
  'backspace',
  'space',
] as const;
export type NamedKey = (typeof NAMED_KEYS)[number];

const NAMED = new Set<string>(NAMED_KEYS);

/** One printable character: a single code point, not a space or a control character. */
const isCharacter = (name: string) => [...name].length === 1 && !/[\s\p{Cc}]/u.test(name);

export function isKeyName(name: string): boolean {
  if (NAMED.has(name)) return true;
  if (/^ctrl-[a-z]$/.test(name)) return true;
  if (name.startsWith('meta-')) return isCharacter(name.slice('meta-'.length));
  return isCharacter(name);
}

/** The bindings as given, once every key name in them is one the console can produce; else throws. */
export function checkKeyNames<B extends { command: string; keys: readonly string[] }>(
  bindings: readonly B[],
): readonly B[] {
  for (const binding of bindings) {
    for (const key of binding.keys) {
      if (isKeyName(key)) continue;
      throw new Error(
        `unknown key name '${key}' for the command '${binding.command}': a key is one of ` +
          `${NAMED_KEYS.join(', ')}, a single character, ctrl-<letter> or meta-<character>`,
      );
    }
  }
  return bindings;
}
