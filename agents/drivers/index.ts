/**
 * The drivers (docs/drivers.md): one small interface (./types.ts), four kinds. `createDriver` turns an
 * agent's `driver` config into a driver; the orchestrator's loop does the rest.
 */

import { createCommandDriver } from './command.js';
import type { Driver } from './config.js';
import { createLlmDriver, type LlmOptions } from './llm.js';
import { createShellDriver } from './shell.js';
import { createSimDriver, type SimOptions } from './sim.js';
import type { SupervisorTuning } from './supervise.js';
import type { AgentDriver } from './types.js';

export interface DriverOptions {
  supervisor?: SupervisorTuning;
  llm?: LlmOptions;
  sim?: SimOptions;
}

export function createDriver(config: Driver, options: DriverOptions = {}): AgentDriver {
  switch (config.kind) {
    case 'shell':
      return createShellDriver(config, options.supervisor);
    case 'command':
      return createCommandDriver(config, options.supervisor);
    case 'llm':
      return createLlmDriver(config, options.llm);
    case 'sim':
      return createSimDriver(config, options.sim);
  }
}

export { killAllGroupsSync, stopProcessGroup } from '../platform/process.js';
export type { AgentDriver, DriverContext, DriverOutcome, DriverRun, DriverTools, Usage } from './types.js';
