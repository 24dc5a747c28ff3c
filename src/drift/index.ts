/**
 * The drift engine (docs/drift.md): each kind of drift is a rule, a pure function of the state (tasks,
 * agent states, checkpoints), the policies and `now`, plus what only the caller can observe (files
 * changed in a git folder, when a log was last written). A rule returns findings: evidence, the key
 * that de-duplicates its alert, and the corrective action of its policy. plans.ts turns
 * findings into journaled alerts and actions; the orchestrator gathers the inputs and runs them.
 */
import type { StateView } from '../../state/backend.js';
import type { AgentState, Alert, FailureCode } from '../../state/schemas.js';
import { DRIFT_KINDS } from '../../state/schemas.js';
import type { AgentConfig, DriftAction, Policies } from '../config.js';
import { staleAfterMs } from './facts.js';
import { RULES } from './rules-agents.js';

export { DRIFT_KINDS };
export type DriftKind = (typeof DRIFT_KINDS)[number];

export interface DriftInput {
  view: StateView;
  agents: readonly AgentConfig[];
  policies: Policies;
  now: Date;
  /** Agents the caller knows to be alive (an orchestrator's own): never stale to it. */
  alive?: ReadonlySet<string>;
  /** Files changed in each working agent's folder during its task, relative to that folder; absent: unknown. */
  changedFiles?: ReadonlyMap<string, readonly string[]>;
  /** When each working agent last wrote output (epoch ms); absent: unknown. */
  lastOutputAt?: ReadonlyMap<string, number>;
}

export interface Finding {
  kind: DriftKind;
  /** Alerts with the same key are one alert. */
  key: string;
  /** Changes when the condition happens anew (a new attempt, a new failure): an action runs once per occurrence. */
  occurrence: string;
  severity: Alert['severity'];
  /** The agent concerned (for a task: the agent holding it). */
  agent: string;
  task: string | null;
  subject: string;
  message: string;
  evidence: Record<string, unknown>;
  action: DriftAction;
  /** The failure code a `stop` fails the attempt with. */
  errorCode?: FailureCode;
  /** A `stop` fails the task for good (no retry): a retry would overspend its budget again. */
  final?: boolean;
}

export interface DriftRule {
  kind: DriftKind;
  enabled(policies: Policies): boolean;
  evaluate(input: DriftInput): Finding[];
  /**
   * Whether the rule can tell now that an open alert's condition has cleared. Alerts it cannot
   * judge (a scope drift of a task that has ended) stay until the operator resolves them.
   */
  judges?(alert: Alert, input: DriftInput): boolean;
}

export const isDriftKind = (kind: string): kind is DriftKind =>
  (DRIFT_KINDS as readonly string[]).includes(kind);

/** Every enabled rule of `kinds`, over one state. */
export function evaluateDrift(input: DriftInput, kinds: readonly DriftKind[] = DRIFT_KINDS): Finding[] {
  return RULES.filter((r) => kinds.includes(r.kind) && r.enabled(input.policies)).flatMap((r) =>
    r.evaluate(input),
  );
}

export { staleAfterMs };

/** An agent run by an orchestrator that has beaten its heartbeat lately. */
export function runLive(state: AgentState | undefined, now: Date, policies: Policies): boolean {
  if (!state?.runner || !state.heartbeatAt) return false;
  return now.getTime() - Date.parse(state.heartbeatAt) <= staleAfterMs(policies);
}

/**
 * Who acts on an agent's drift: the orchestrator running it, or, when no live orchestrator does (it
 * died or hung), the one that judges `others` (the leader of the sweeps). Agents of other live
 * orchestrators are theirs to judge.
 */
export function judgedHere(
  input: DriftInput,
  agentId: string,
  mine: ReadonlySet<string>,
  others = true,
): boolean {
  if (mine.has(agentId)) return true;
  return others && !runLive(input.view.agentState(agentId), input.now, input.policies);
}

/** Alerts of drift kinds whose condition has cleared: not found now, and judged by their rule. */
export function clearedAlerts(
  input: DriftInput,
  findings: readonly Finding[],
  mine: ReadonlySet<string>,
  kinds: readonly DriftKind[] = DRIFT_KINDS,
  others = true,
): Alert[] {
  const found = new Set(findings.map((f) => f.key));
  const out: Alert[] = [];
  for (const alert of input.view.alerts()) {
    if (alert.status === 'resolved' || !isDriftKind(alert.kind) || !kinds.includes(alert.kind)) continue;
    if (found.has(alert.key)) continue;
    const rule = RULES.find((r) => r.kind === alert.kind)!;
    const agent = typeof alert.evidence.agent === 'string' ? alert.evidence.agent : null;
    if (agent && !judgedHere(input, agent, mine, others)) continue;
    if (!rule.enabled(input.policies)) continue;
    if (rule.judges && !rule.judges(alert, input)) continue;
    out.push(alert);
  }
  return out;
}
