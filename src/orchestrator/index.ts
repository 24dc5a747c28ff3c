/** Start the swarm on a workspace: `dreamos run`, the console, and tests use this. */
import { createDriver } from '../../agents/drivers/index.js';
import { runScout, scoutSources } from '../scout/run.js';
import type { Workspace } from '../workspace.js';
import { describeTakeover, Orchestrator, type OrchestratorOptions } from './orchestrator.js';

export type { OrchestratorEvent, TakenFrom } from './orchestrator.js';
export { describeTakeover, Orchestrator };

export async function startOrchestrator(
  ws: Workspace,
  options: Partial<OrchestratorOptions> = {},
): Promise<Orchestrator> {
  const prices = ws.config.prices;
  const scouts = scoutSources(ws.config).some((source) => source.enabled);
  const orchestrator = new Orchestrator(ws, {
    createDriver: (driver) => createDriver(driver, { llm: { prices } }),
    ...(scouts ? { scout: () => runScout(ws, { onlyDue: true }) } : {}),
    ...options,
  });
  await orchestrator.start();
  return orchestrator;
}
