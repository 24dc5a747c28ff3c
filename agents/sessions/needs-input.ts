/**
 * Whether a program waits for the operator, read from the bottom of its screen once it has been
 * quiet for a while (a program that redraws, a spinner, is never quiet long enough to be read).
 * The screen says it in words and shapes that change with each release of each CLI, so this is a
 * fallback and a correction, not the source of truth: hooks say it exactly where a CLI has them.
 */
import type { NeedsInput } from '../drivers/types.js';
import type { HookEvent } from './protocol.js';

/** How many of the bottom lines holding text are read. */
const BOTTOM_LINES = 4;
const MAX_TEXT = 300;

const PERMISSION = [
  /\b(allow|approve|permit|grant)\b.*\?/i,
  /\bdo you want to\b/i,
  /\((y\/n|yes\/no)\)|\[(y\/n)\]/i,
  /^\s*[❯›>]?\s*1\.\s*yes\b/i,
];
/** A question mark after a word (`? for shortcuts`, a hint line, is none). */
const QUESTION = /\w[)"'”]?\?(\s|$)/;
/** An empty input line: `>`, `❯`, `›`, a shell's `$`, Python's `>>>`, inside a box or not. */
const PROMPT = /^[\s│|╭╰─]*(>|❯|›|\$|>>>)[\s│|]*$/;

/** What the bottom of the screen asks, or null when it shows nothing the operator must answer. */
export function readNeedsInput(lines: readonly string[]): NeedsInput | null {
  const bottom = lines.filter((line) => line.trim() !== '').slice(-BOTTOM_LINES);
  if (bottom.length === 0) return null;
  const text = bottom
    .map((line) => line.trim())
    .join(' / ')
    .slice(0, MAX_TEXT);
  if (bottom.some((line) => PERMISSION.some((re) => re.test(line)))) return { kind: 'permission', text };
  if (bottom.some((line) => QUESTION.test(line))) return { kind: 'question', text };
  if (bottom.some((line) => PROMPT.test(line))) return { kind: 'prompt', text };
  return null;
}

/**
 * What a hook event of the program says: it waits (a permission, a question, its turn ended), it
 * works again (null: a prompt was submitted, a tool runs), or nothing about it (undefined).
 * Names are Claude Code's (https://docs.anthropic.com/en/docs/claude-code/hooks).
 */
export function hookNeedsInput(event: HookEvent): NeedsInput | null | undefined {
  const message = event.message?.trim();
  switch (event.hook_event_name) {
    case 'PermissionRequest':
      return { kind: 'permission', text: message ?? `permission to use ${event.tool_name ?? 'a tool'}` };
    case 'Notification':
      if (!message) return undefined;
      if (/permission/i.test(message)) return { kind: 'permission', text: message };
      if (/waiting for (your )?input|idle/i.test(message)) return { kind: 'prompt', text: message };
      return { kind: 'question', text: message };
    case 'Stop':
      return { kind: 'turn-ended', text: message ?? 'its turn ended' };
    case 'UserPromptSubmit':
    case 'PreToolUse':
    case 'PostToolUse':
      return null;
    default:
      return undefined;
  }
}

/** Single-quoted for a POSIX shell. */
const quoted = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;

/**
 * Claude Code settings that report its hook events to the session (`--settings FILE`; Claude Code
 * merges the hooks of every settings source, so the user's own still run).
 */
export function claudeHookSettings(node: string, bin: string): object {
  const command = `${quoted(node)} ${quoted(bin)} agent hook`;
  const hook = [{ hooks: [{ type: 'command', command, timeout: 10 }] }];
  const events = ['Notification', 'Stop', 'UserPromptSubmit', 'PreToolUse', 'PostToolUse'];
  return { hooks: Object.fromEntries(events.map((e) => [e, hook])) };
}
