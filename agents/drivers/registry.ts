/**
 * The driver kinds beyond the built-in ones (docs/plugins.md#drivers): a plugin provides them, and
 * the process that loaded the plugins fills this registry in before its orchestrator starts. This
 * folder knows nothing of plugins: a kind here is only a name and a way to make a driver.
 */
import { BUILT_IN_KINDS, type PluginDriverConfig } from './config.js';
import type { AgentDriver } from './types.js';

export interface DriverKind {
  kind: string;
  /** Who provides it, as messages name it: `plugin NAME`. */
  from: string;
  /** The driver for one agent; throws, saying why, when the agent's driver options are wrong. */
  create(config: PluginDriverConfig): AgentDriver;
}

export class DriverRegistry {
  private readonly byKind = new Map<string, DriverKind>();

  /** Add a kind; returns why it was refused (a built-in kind, or one already provided), or null. */
  add(kind: DriverKind): string | null {
    if (BUILT_IN_KINDS.includes(kind.kind)) return `driver kind ${kind.kind} is built in`;
    const other = this.byKind.get(kind.kind);
    if (other) return `driver kind ${kind.kind} is already provided by ${other.from}`;
    this.byKind.set(kind.kind, kind);
    return null;
  }

  get(kind: string): DriverKind | undefined {
    return this.byKind.get(kind);
  }

  kinds(): string[] {
    return [...this.byKind.keys()].sort();
  }
}

/** Why no driver of `kind` can be made: no loaded plugin provides it. */
export function missingKind(kind: string, registry: DriverRegistry | undefined): string {
  const known = registry?.kinds() ?? [];
  return (
    `no loaded plugin provides the driver kind ${kind} ` +
    `(built in: ${BUILT_IN_KINDS.join(', ')}${known.length ? `; from plugins: ${known.join(', ')}` : ''}): ` +
    'see `dreamos plugin list`'
  );
}
