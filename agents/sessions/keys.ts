/**
 * The detach key of an attach (Ctrl-] unless configured), and finding it in what the operator's
 * terminal sends. A terminal sends a Ctrl key as one control byte, or, when the program asked for
 * an extended keyboard, as a CSI u sequence (the kitty keyboard protocol, fixterms) or an
 * xterm modifyOtherKeys sequence: all three are matched, with any lock modifiers (Caps Lock, Num
 * Lock) and as a press or repeat, never a release.
 */

export interface DetachKey {
  /** How it is written: `ctrl-]`. */
  name: string;
  /** The control byte a terminal sends for it. */
  byte: string;
  /** The key's code in CSI u and modifyOtherKeys sequences (its unshifted character). */
  code: number;
}

export const DEFAULT_DETACH_KEY = 'ctrl-]';

/** Keys that make a control byte: Ctrl with a letter or one of @ \ ] ^ _ (Ctrl-[ is Escape itself). */
const CONTROL_KEYS = /^[a-z@\\\]^_]$/;

/** `ctrl-]`, `ctrl-b`, `C-q` or `^]`: the key, or null when it is not a Ctrl key a terminal sends as one byte. */
export function parseDetachKey(spec: string): DetachKey | null {
  const m = /^(?:ctrl-|ctrl\+|c-|\^)(.)$/i.exec(spec.trim());
  if (!m) return null;
  const key = m[1]!.toLowerCase();
  if (!CONTROL_KEYS.test(key)) return null;
  const byte = String.fromCharCode(key.toUpperCase().charCodeAt(0) & 0x1f);
  return { name: `ctrl-${key}`, byte, code: key.charCodeAt(0) };
}

/** Modifier bits of CSI u and modifyOtherKeys (the parameter minus one): shift 1, alt 2, ctrl 4, … */
const CTRL = 4;
const LOCKS = 64 | 128;
const RELEASE = 3;

/** Where the detach key first appears in `data` (start and length), or null. */
export function findDetachKey(data: string, key: DetachKey): { index: number; length: number } | null {
  const csiU = new RegExp(`\\x1b\\[${key.code}(?::\\d*)*;(\\d+)(?::(\\d+))?(?:;[\\d:]*)?u`, 'g');
  const other = new RegExp(`\\x1b\\[27;(\\d+);${key.code}~`, 'g');
  const found: Array<{ index: number; length: number }> = [];
  const byte = data.indexOf(key.byte);
  if (byte !== -1) found.push({ index: byte, length: 1 });
  for (const m of data.matchAll(csiU)) {
    const mods = (Number(m[1]) - 1) & ~LOCKS;
    if (mods === CTRL && Number(m[2] ?? 1) !== RELEASE) found.push({ index: m.index, length: m[0].length });
  }
  for (const m of data.matchAll(other)) {
    if (((Number(m[1]) - 1) & ~LOCKS) === CTRL) found.push({ index: m.index, length: m[0].length });
  }
  if (found.length === 0) return null;
  return found.reduce((a, b) => (b.index < a.index ? b : a));
}
