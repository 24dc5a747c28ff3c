/** Start the swarm on a workspace: `dreamos run`, the console, and tests use this. */
import { createDriver, type DriverKind, DriverRegistry } from '../../agents/drivers/index.js';
import { isBuiltIn } from '../config.js';
import type { HostedSource } from '../plugins/host.js';
import { runScout, scoutSources } from '../scout/run.js';
import type { Workspace } from '../workspace.js';
import { describeTakeover, Orchestrator, type OrchestratorOptions } from './orchestrator.js';

export type { DriverKind } from '../../agents/drivers/registry.js';
export type { OrchestratorEvent, TakenFrom } from './orchestrator.js';
export { describeTakeover, Orchestrator };

export interface StartOptions extends Partial<OrchestratorOptions> {
  /**
   * The loaded plugins' sources, which the scout reads beside its configured ones: asked at each
   * run of the scout, so that plugins still loading when the orchestrator starts are read once loaded.
   */
  pluginSources?: () => readonly HostedSource[];
  /**
   * The loaded plugins' driver kinds: waited for only when an agent's driver is of a kind that is
   * not built in (a console starts its agents without waiting for its plugins otherwise).
   */
  pluginDrivers?: () => Promise<readonly DriverKind[]> | readonly DriverKind[];
}

/** The driver kinds the agents may use: the built-in ones, and those the loaded plugins provide. */
async function driverRegistry(ws: Workspace, pluginDrivers: StartOptions['pluginDrivers']) {
  const registry = new DriverRegistry();
  if (!pluginDrivers || ws.config.agents.every((a) => !a.enabled || isBuiltIn(a.driver))) return registry;
  // The loader refuses a plugin whose kind is built in or another's, so every kind here is added.
  for (const kind of await pluginDrivers()) registry.add(kind);
  return registry;
}

export async function startOrchestrator(ws: Workspace, options: StartOptions = {}): Promise<Orchestrator> {
  const { pluginSources, pluginDrivers, ...rest } = options;
  const registry = await driverRegistry(ws, pluginDrivers);
  const prices = ws.config.prices;
  const scouts = pluginSources !== undefined || scoutSources(ws.config).some((source) => source.enabled);
  const orchestrator = new Orchestrator(ws, {
    createDriver: (driver) => createDriver(driver, { llm: { prices }, registry }),
    ...(scouts ? { scout: () => runScout(ws, { onlyDue: true, plugins: pluginSources?.() ?? [] }) } : {}),
    ...rest,
  });
  await orchestrator.start();
  return orchestrator;
}
