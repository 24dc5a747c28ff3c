/**
 * The drivers (docs/drivers.md): one small interface (./types.ts), five built-in kinds and those the
 * registry holds (./registry.ts). `createDriver` turns an agent's `driver` config into a driver; the
 * orchestrator's loop does the rest.
 */

import { createCommandDriver } from './command.js';
import { type Driver, isBuiltIn } from './config.js';
import { createLlmDriver, type LlmOptions } from './llm.js';
import { createPtyDriver } from './pty.js';
import { type DriverRegistry, missingKind } from './registry.js';
import { createShellDriver } from './shell.js';
import { createSimDriver, type SimOptions } from './sim.js';
import type { SupervisorTuning } from './supervise.js';
import type { AgentDriver } from './types.js';

export interface DriverOptions {
  supervisor?: SupervisorTuning;
  llm?: LlmOptions;
  sim?: SimOptions;
  /** The kinds plugins provide. */
  registry?: DriverRegistry;
}

/** The driver of one agent; throws, saying why, when its kind is a plugin's that is not loaded. */
export function createDriver(config: Driver, options: DriverOptions = {}): AgentDriver {
  if (!isBuiltIn(config)) {
    const kind = options.registry?.get(config.kind);
    if (!kind) throw new Error(missingKind(config.kind, options.registry));
    return kind.create(config);
  }
  switch (config.kind) {
    case 'shell':
      return createShellDriver(config, options.supervisor);
    case 'command':
      return createCommandDriver(config, options.supervisor);
    case 'pty':
      return createPtyDriver(config, options.supervisor);
    case 'llm':
      return createLlmDriver(config, options.llm);
    case 'sim':
      return createSimDriver(config, options.sim);
  }
}

export { killAllGroupsSync, stopProcessGroup } from '../platform/process.js';
export { type DriverKind, DriverRegistry } from './registry.js';
export type { AgentDriver, DriverContext, DriverOutcome, DriverRun, DriverTools, Usage } from './types.js';
