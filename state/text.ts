/**
 * Text from agents and tasks is shown only after terminal control sequences are removed: CSI, OSC,
 * DCS and other escape sequences, and every C0/C1 control character except newline and tab.
 */
const ESCAPES = new RegExp(
  [
    '\\u001b\\[[0-?]*[ -/]*[@-~]', // CSI
    '\\u001b\\][^\\u0007\\u001b]*(?:\\u0007|\\u001b\\\\)?', // OSC
    '\\u001b[PX^_][^\\u001b]*(?:\\u001b\\\\)?', // DCS, SOS, PM, APC
    '\\u009b[0-?]*[ -/]*[@-~]', // 8-bit CSI
    '\\u001b[ -/]*[0-~]?', // other ESC sequences
  ].join('|'),
  'g',
);
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * Characters that change how the text around them looks without being seen: bidirectional
 * overrides, embeddings, isolates and marks (the "Trojan Source" characters), the zero-width space,
 * the word joiner and a stray byte-order mark. Zero-width (non-)joiners are kept: emoji sequences and
 * several scripts need them. docs/decisions/invisible-characters.md
 */
const INVISIBLE = /[\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]/g;

export function stripControl(text: string): string {
  return text.replace(ESCAPES, '').replace(CONTROLS, '').replace(INVISIBLE, '');
}

/**
 * The one check for every one-line text a user gives (titles, tags, capabilities, resources): an
 * invisible character is refused, not silently kept. Returns the message, or null when the text is clean.
 */
export function invisibleIn(text: string): string | null {
  const found = new RegExp(INVISIBLE.source).exec(text);
  if (!found) return null;
  const code = found[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
  return `must not contain invisible or text-direction characters (U+${code} at position ${found.index + 1})`;
}

/** One line for a table cell: controls stripped, newlines folded, cut to `width` with an ellipsis. */
export function oneLine(text: string, width = Number.POSITIVE_INFINITY): string {
  const clean = stripControl(text).replace(/\s+/g, ' ').trim();
  return clean.length > width ? `${clean.slice(0, Math.max(0, width - 1))}…` : clean;
}

/**
 * JSON to show on a terminal: JSON.stringify escapes C0 controls (ESC among them) but not DEL and
 * C1 (U+0080–U+009F, where U+009B is an 8-bit CSI): those are escaped too. It parses to the same value.
 */
export function jsonText(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(
    /[\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** At most `max` characters: a longer text is cut and ends with an ellipsis (within the `max`). */
export function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
