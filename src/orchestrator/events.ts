/** What an orchestrator reports as it runs: `dreamos run --json` prints these, the console shows them. */
import type { DriverOutcome } from '../../agents/drivers/types.js';
import type { Task } from '../../state/schemas.js';
import type { DriftEvent } from './drift-monitor.js';

export type OrchestratorEvent =
  | { type: 'started'; agents: string[]; elsewhere: string[] }
  | { type: 'took-over'; agents: string[]; from: TakenFrom[] }
  | { type: 'claimed'; agent: string; task: Task }
  | { type: 'line'; agent: string; task: string; line: string; stream: 'stdout' | 'stderr' }
  | {
      type: 'finished';
      agent: string;
      task: string;
      outcome: DriverOutcome;
      /** Set when the run was stopped rather than ended: no attempt is counted, whatever the outcome. */
      stopped?: { reason: 'cancel' | 'shutdown' | 'restart'; why: string };
    }
  | { type: 'directive'; agent: string; directive: string }
  | { type: 'leftover'; agent: string; pid: number; task: string | null }
  | { type: 'error'; agent?: string; message: string }
  | { type: 'idle' }
  /** This orchestrator started (or stopped) leading the sweeps made for the whole board. */
  | { type: 'sweeps'; leading: boolean; holder: string }
  | DriftEvent
  | { type: 'stopped'; reason: string };

/** Whose agents a standby took over, and how that orchestrator went (pid null: never seen). */
export interface TakenFrom {
  agents: string[];
  pid: number | null;
  how: 'released' | 'died';
}

/** "the orchestrator pid 123 stopped; the orchestrator pid 456 died" */
export function describeTakeover(from: readonly TakenFrom[]): string {
  return from
    .map(
      (f) =>
        `${f.pid ? `the orchestrator pid ${f.pid}` : 'their orchestrator'} ${f.how === 'died' ? 'died' : 'stopped'}`,
    )
    .join('; ');
}
