/**
 * The one keymap (STYLE.md, after gemini-cli's keyBindings.ts): the help bar, the `?` overlay, the
 * `:` palette, the key table of docs/console.md and the tests all read it; components never compare literal
 * keys. The bindings themselves are data in ui/key-bindings.ts; this file looks keys up in them.
 * Pure: no ink, no react (scripts/keys-table.mjs bundles it alone).
 */
import {
  BINDINGS,
  type Binding,
  type DialogKind,
  type KeyCommand,
  type KeyContext,
  type Scope,
  type ViewId,
} from './key-bindings.js';

export * from './key-bindings.js';

const index = new Map<Scope, Map<string, Binding>>();
for (const binding of BINDINGS) {
  for (const scope of binding.scopes) {
    const keys = index.get(scope) ?? new Map<string, Binding>();
    index.set(scope, keys);
    for (const key of binding.keys) if (!keys.has(key)) keys.set(key, binding);
  }
}

/** The binding a key triggers: the first scope that binds it wins (a dialog, then the view, then global). */
export function lookup(scopes: readonly Scope[], key: string): Binding | undefined {
  for (const scope of scopes) {
    const binding = index.get(scope)?.get(key);
    if (binding) return binding;
  }
  return undefined;
}

/** Where keys are looked up now: a dialog captures everything; otherwise the view, then global. */
export function scopesFor(view: ViewId, dialog: DialogKind | null): Scope[] {
  return dialog ? [dialog] : [view, 'global'];
}

/** A binding's primary entry for a command (the first one listed). */
export function bindingOf(command: KeyCommand): Binding {
  const binding = BINDINGS.find((b) => b.command === command);
  if (!binding) throw new Error(`no binding for ${command}`);
  return binding;
}

export const keysOf = (command: KeyCommand): readonly string[] => bindingOf(command).keys;

/** Read-only consoles hide every command that changes the workspace (dangerous ones included). */
export const visible = (binding: Binding, readOnly: boolean) => !(readOnly && binding.mutates);

/** null when the binding may run in this context, else why not. */
export function disabledReason(binding: Binding, ctx: KeyContext): string | null {
  if (!visible(binding, ctx.readOnly)) return 'hidden in a read-only console';
  return binding.enabledWhen?.(ctx) ?? null;
}

/** Commands of the current view and the global ones, as the palette and the help bar list them. */
export function commandsFor(ctx: KeyContext): Binding[] {
  const seen = new Set<KeyCommand>();
  const out: Binding[] = [];
  for (const scope of scopesFor(ctx.view, null)) {
    for (const binding of BINDINGS) {
      if (!binding.scopes.includes(scope) || seen.has(binding.command)) continue;
      if (!visible(binding, ctx.readOnly)) continue;
      seen.add(binding.command);
      out.push(binding);
    }
  }
  return out;
}

const KEY_LABELS: Record<string, string> = {
  up: '↑',
  down: '↓',
  left: '←',
  right: '→',
  enter: 'enter',
  pageup: 'PgUp',
  pagedown: 'PgDn',
};

/** How a key name is shown to people: `up` → ↑, `ctrl-c` stays `ctrl-c`. */
export const showKey = (key: string) => KEY_LABELS[key] ?? key;
export const showKeys = (binding: Binding, max = 2) => binding.keys.slice(0, max).map(showKey).join('/');
