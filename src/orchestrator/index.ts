/** Start the swarm on a workspace: `dreamos run`, the console, and tests use this. */
import { createDriver } from '../../agents/drivers/index.js';
import type { Workspace } from '../workspace.js';
import { Orchestrator, type OrchestratorOptions } from './orchestrator.js';

export type { OrchestratorEvent } from './orchestrator.js';
export { Orchestrator };

export async function startOrchestrator(
  ws: Workspace,
  options: Partial<OrchestratorOptions> = {},
): Promise<Orchestrator> {
  const prices = ws.config.prices;
  const orchestrator = new Orchestrator(ws, {
    createDriver: (driver) => createDriver(driver, { llm: { prices } }),
    ...options,
  });
  await orchestrator.start();
  return orchestrator;
}
