/**
 * The drivers of the agents an orchestrator starts (docs/plugins.md#drivers): an agent whose driver
 * cannot be made (a plugin's kind that no loaded plugin provides, options its plugin refuses) does
 * not run, with an error event and an alert about it, and the others do. The alert is resolved at
 * the start that makes its driver.
 */
import type { AgentDriver } from '../../agents/drivers/types.js';
import type { Driver } from '../config.js';
import { agentDriverAlert, planAgentDriverMade, raiseAgentDriverAlert } from '../plugins/alerts.js';
import { oneLine } from '../sanitize.js';
import type { Workspace } from '../workspace.js';
import type { OrchestratorEvent } from './events.js';

export async function makeDrivers(
  ws: Workspace,
  ids: readonly string[],
  create: (driver: Driver) => AgentDriver,
  emit: (event: OrchestratorEvent) => void,
): Promise<Map<string, AgentDriver>> {
  const made = new Map<string, AgentDriver>();
  for (const id of ids) {
    const error = (message: string) => emit({ type: 'error', agent: id, message });
    try {
      made.set(id, create(ws.agent(id).driver));
    } catch (e) {
      const message = `${id} does not run: ${oneLine((e as Error).message, 500)}`;
      error(message);
      await raiseAgentDriverAlert(ws, id, message, error);
      continue;
    }
    if (agentDriverAlert(ws.view, id))
      await ws
        .apply((ctx) => planAgentDriverMade(ctx, id))
        .catch((e: unknown) =>
          error(`could not resolve the alert about its driver: ${(e as Error).message}`),
        );
  }
  return made;
}
