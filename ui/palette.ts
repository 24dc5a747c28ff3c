/** The `:` palette's entries: the keymap's commands for this view, narrowed by what is typed. */
import {
  type Binding,
  commandsFor,
  disabledReason,
  type Group,
  KeyCommand,
  type KeyContext,
} from './keymap.js';
import { hasWords } from './text.js';

export interface PaletteItem {
  binding: Binding;
  disabled: string | null;
}

/** Actions first, moving around last. */
const GROUP_ORDER: Group[] = [
  'tasks',
  'review',
  'agents',
  'alerts',
  'general',
  'views',
  'navigation',
  'dialogs',
];
const NOT_LISTED = new Set<KeyCommand>([
  KeyCommand.Palette,
  KeyCommand.Up,
  KeyCommand.Down,
  KeyCommand.Left,
  KeyCommand.Right,
]);

export function paletteItems(ctx: KeyContext, query: string): PaletteItem[] {
  return commandsFor(ctx)
    .filter((b) => !NOT_LISTED.has(b.command))
    .filter((b) =>
      hasWords(
        `${b.command} ${b.description} ${b.label} ${b.keys.join(' ')} ${b.typed?.names.join(' ') ?? ''}`,
        query,
      ),
    )
    .map((binding) => ({ binding, disabled: disabledReason(binding, ctx) }))
    .sort(
      (a, b) =>
        Number(a.disabled !== null) - Number(b.disabled !== null) ||
        GROUP_ORDER.indexOf(a.binding.group) - GROUP_ORDER.indexOf(b.binding.group),
    );
}
