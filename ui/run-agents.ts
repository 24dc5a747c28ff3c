/**
 * The in-process orchestrator (src/orchestrator/), loaded only when the console runs the agents
 * itself; `--attach` and `--read-only` never load it. If it cannot load or start, the console still
 * watches and steers, and says why the agents do not run here.
 */
import type { DriverKind } from '../src/orchestrator/index.js';
import type { HostedSource } from '../src/plugins/host.js';
import type { Workspace } from '../src/workspace.js';

/** The agents this console runs, as it sees them: it only ever stops them. */
export interface AgentsHandle {
  stop(): Promise<void>;
}

/** What the console hears from the orchestrator (errors, agents already running elsewhere). */
export type OrchestratorNote = { level: 'info' | 'warning' | 'error'; text: string };

/** `retry`: the cause may pass (the journal lock busy), so trying again later may succeed. */
export type Started = { orchestrator: AgentsHandle } | { orchestrator: null; reason: string; retry: boolean };

/** Failures to start that pass by themselves: another process holds the journal lock, a busy disk. */
const PASSING = new Set(['E_LOCK_TIMEOUT', 'E_LOCK_COMPROMISED', 'E_IO']);

export async function startAgents(
  ws: Workspace,
  onNote: (note: OrchestratorNote) => void,
  pluginSources?: () => readonly HostedSource[],
  pluginDrivers?: () => Promise<readonly DriverKind[]>,
): Promise<Started> {
  let mod: typeof import('../src/orchestrator/index.js');
  try {
    mod = await import('../src/orchestrator/index.js');
  } catch (error) {
    return {
      orchestrator: null,
      reason: `the orchestrator failed to load: ${(error as Error).message}`,
      retry: false,
    };
  }
  try {
    const orchestrator = await mod.startOrchestrator(ws, {
      ...(pluginSources ? { pluginSources } : {}),
      ...(pluginDrivers ? { pluginDrivers } : {}),
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
    const code = (error as { code?: unknown }).code;
    return {
      orchestrator: null,
      reason: `the agents could not start: ${(error as Error).message}`,
      retry: typeof code === 'string' && PASSING.has(code),
    };
  }
}

export interface Agents {
  /** Stop trying to start the agents, and stop them if they run (`saying` first, then only). */
  stop(saying?: () => void): Promise<void>;
}

/**
 * Start the agents in this process; while the failure is one that passes (the journal lock held by
 * a stopped or busy process), watch only and try again at each heartbeat, so that the agents run
 * here once the lock is free (or this process waits as a standby when they run elsewhere).
 */
export function superviseAgents(
  ws: Workspace,
  onNote: (note: OrchestratorNote) => void,
  onMode: (mode: 'running' | 'unavailable') => void,
  /** The plugins' sources, for the scout (the console's companions load them beside the agents). */
  pluginSources?: () => readonly HostedSource[],
  /** The plugins' driver kinds, once loaded (waited for only by agents that use one). */
  pluginDrivers?: () => Promise<readonly DriverKind[]>,
): Agents {
  let stopping = false;
  let orchestrator: AgentsHandle | null = null;
  let wake: (() => void) | null = null;
  const seconds = ws.config.policies.heartbeatSeconds;
  const done = (async () => {
    for (let attempt = 0; !stopping; attempt++) {
      let noted = false;
      const started = await startAgents(
        ws,
        (note) => {
          noted = true;
          onNote(note);
        },
        pluginSources,
        pluginDrivers,
      );
      if (started.orchestrator) {
        if (stopping) {
          await started.orchestrator.stop();
          return;
        }
        orchestrator = started.orchestrator;
        onMode('running');
        // The notice still showing says "watching only": say it is over, unless the start just did.
        if (attempt > 0 && !noted) onNote({ level: 'info', text: 'the agents started in this console' });
        return;
      }
      if (stopping) return;
      onMode('unavailable');
      if (!started.retry) {
        onNote({ level: 'warning', text: `${started.reason}: watching only` });
        return;
      }
      if (attempt === 0)
        onNote({
          level: 'warning',
          text: `watching only, trying again every ${seconds} s: ${started.reason}`,
        });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, seconds * 1000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = null;
    }
  })();
  return {
    async stop(saying) {
      stopping = true;
      (wake as (() => void) | null)?.();
      await done;
      const running = orchestrator as AgentsHandle | null;
      if (!running) return;
      saying?.();
      await running.stop();
    },
  };
}
