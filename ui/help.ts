/**
 * Text generated from the keymap: the help bar (enabled commands of this view that fit the width),
 * the `?` overlay's lines, and the key table of docs/console.md (scripts/keys-table.mjs).
 */
import {
  BINDINGS,
  type Binding,
  commandsFor,
  disabledReason,
  GROUP_TITLES,
  type Group,
  KeyCommand,
  type KeyContext,
  showKeys,
  VIEW_TITLES,
  type ViewId,
  visible,
} from './keymap.js';

/** Always at the end of the help bar, whatever else fits. */
const BAR_TAIL = new Set<KeyCommand>([KeyCommand.Help, KeyCommand.Quit]);

/** "j move  enter open  …  ? help  q quit": what is enabled now, cut to the width; help and quit always fit. */
export function helpBar(ctx: KeyContext, width: number): string {
  const enabled = commandsFor(ctx).filter((b) => b.bar && !disabledReason(b, ctx));
  const part = (b: Binding) => `${showKeys(b, 1)} ${b.label}`;
  const tail = enabled.filter((b) => BAR_TAIL.has(b.command)).map(part);
  let used = tail.reduce((n, p) => n + p.length + 2, 0);
  const parts: string[] = [];
  const seen = new Set<string>();
  for (const binding of enabled) {
    if (BAR_TAIL.has(binding.command) || seen.has(binding.label)) continue;
    seen.add(binding.label);
    const text = part(binding);
    if (used + text.length + 2 > width) break;
    parts.push(text);
    used += text.length + 2;
  }
  return [...parts, ...tail].join('  ');
}

export interface HelpLine {
  kind: 'group' | 'key';
  keys: string;
  text: string;
  /** How it is typed in the `:` palette, when it is a typed command too. */
  typed?: string | null;
  dangerous: boolean;
  disabled: string | null;
}

const ORDER: Group[] = ['navigation', 'views', 'general', 'tasks', 'review', 'agents', 'alerts', 'dialogs'];

/** Every binding grouped (dialog bindings merged by command), without those a read-only console hides. */
export function helpLines(ctx: KeyContext): HelpLine[] {
  const lines: HelpLine[] = [];
  for (const group of ORDER) {
    const bindings = dedupe(BINDINGS.filter((b) => b.group === group && visible(b, ctx.readOnly)));
    if (!bindings.length) continue;
    lines.push({ kind: 'group', keys: '', text: GROUP_TITLES[group], dangerous: false, disabled: null });
    for (const b of bindings) {
      const applies = b.group === 'dialogs' || b.scopes.includes('global') || b.scopes.includes(ctx.view);
      lines.push({
        kind: 'key',
        keys: showKeys(b, 3),
        text: b.description,
        typed: b.typed ? `:${b.typed.usage}` : null,
        dangerous: Boolean(b.dangerous),
        disabled: applies ? (b.enabledWhen?.(ctx) ?? null) : 'not in this view',
      });
    }
  }
  return lines;
}

function dedupe(bindings: Binding[]): Binding[] {
  const seen = new Set<string>();
  return bindings.filter((b) => {
    const key = `${b.keys.join(',')}|${b.description}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The key table of docs/console.md, in Markdown. */
export function keyTable(): string {
  const rows = ['| keys | command | where | notes |', '| --- | --- | --- | --- |'];
  for (const group of ORDER) {
    for (const b of dedupe(BINDINGS.filter((x) => x.group === group))) {
      const keys = b.keys.map((k) => `\`${k}\``).join(' ');
      const views = b.scopes.filter((x): x is ViewId => x in VIEW_TITLES);
      const where = b.scopes.includes('global')
        ? 'everywhere'
        : views.length === Object.keys(VIEW_TITLES).length
          ? 'every view'
          : b.scopes.map((x) => (x in VIEW_TITLES ? VIEW_TITLES[x as ViewId].toLowerCase() : x)).join(', ');
      const notes = [
        b.typed ? `typed: \`:${b.typed.usage.replace(/\|/g, '\\|')}\`` : '',
        b.dangerous ? 'dangerous: asks first' : '',
        b.mutates ? 'hidden with --read-only' : '',
      ]
        .filter(Boolean)
        .join('; ');
      rows.push(`| ${keys} | ${b.description.replace(/\|/g, '\\|')} | ${where} | ${notes} |`);
    }
  }
  return rows.join('\n');
}
