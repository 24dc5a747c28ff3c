/**
 * The in-process orchestrator (src/orchestrator/), loaded only when the console runs the agents
 * itself; `--attach` and `--read-only` never load it. If it cannot load or start, the console still
 * watches and steers, and says why the agents do not run here.
 */
import type { Workspace } from '../src/workspace.js';

export interface Orchestrator {
  stop(): Promise<void>;
}

/** What the console hears from the orchestrator (errors, agents already running elsewhere). */
export type OrchestratorNote = { level: 'info' | 'warning' | 'error'; text: string };

export type Started = { orchestrator: Orchestrator } | { orchestrator: null; reason: string };

export async function startAgents(ws: Workspace, onNote: (note: OrchestratorNote) => void): Promise<Started> {
  let mod: typeof import('../src/orchestrator/index.js');
  try {
    mod = await import('../src/orchestrator/index.js');
  } catch (error) {
    return { orchestrator: null, reason: `the orchestrator failed to load: ${(error as Error).message}` };
  }
  try {
    const orchestrator = await mod.startOrchestrator(ws, {
      onEvent: (event) => {
        if (event.type === 'error')
          onNote({ level: 'error', text: `${event.agent ?? 'orchestrator'}: ${event.message}` });
        if (event.type === 'started' && event.elsewhere.length)
          onNote({ level: 'info', text: `already running elsewhere: ${event.elsewhere.join(', ')}` });
        if (event.type === 'took-over')
          onNote({
            level: 'warning',
            text: `took over ${event.agents.join(', ')}: ${mod.describeTakeover(event.from)}`,
          });
        if (event.type === 'leftover')
          onNote({
            level: 'warning',
            text: `${event.agent}: stopped process ${event.pid} left by a previous run`,
          });
      },
    });
    return { orchestrator };
  } catch (error) {
    return { orchestrator: null, reason: `the agents could not start: ${(error as Error).message}` };
  }
}
