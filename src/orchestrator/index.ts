/** Start the swarm on a workspace: `dreamos run`, the console, and tests use this. */
import { createDriver } from '../../agents/drivers/index.js';
import type { HostedSource } from '../plugins/host.js';
import { runScout, scoutSources } from '../scout/run.js';
import type { Workspace } from '../workspace.js';
import { describeTakeover, Orchestrator, type OrchestratorOptions } from './orchestrator.js';

export type { OrchestratorEvent, TakenFrom } from './orchestrator.js';
export { describeTakeover, Orchestrator };

export interface StartOptions extends Partial<OrchestratorOptions> {
  /**
   * The loaded plugins' sources, which the scout reads beside its configured ones: asked at each
   * run of the scout, so that plugins still loading when the orchestrator starts are read once loaded.
   */
  pluginSources?: () => readonly HostedSource[];
}

export async function startOrchestrator(ws: Workspace, options: StartOptions = {}): Promise<Orchestrator> {
  const { pluginSources, ...rest } = options;
  const prices = ws.config.prices;
  const scouts = pluginSources !== undefined || scoutSources(ws.config).some((source) => source.enabled);
  const orchestrator = new Orchestrator(ws, {
    createDriver: (driver) => createDriver(driver, { llm: { prices } }),
    ...(scouts ? { scout: () => runScout(ws, { onlyDue: true, plugins: pluginSources?.() ?? [] }) } : {}),
    ...rest,
  });
  await orchestrator.start();
  return orchestrator;
}
