/**
 * How a drift rule is made: `rule(kind, …)` gives it the switch of its own policy
 * (`policies.drift.<kind>.enabled`), so no rule spells that out or can read another kind's.
 */
import type { Policies } from '../config.js';
import type { DriftKind, DriftRule } from './index.js';

/** The section of `policies.drift` that holds each kind's thresholds and switch. */
const POLICY_OF = {
  stall: 'stall',
  overrun: 'overrun',
  'repeated-failure': 'repeatedFailure',
  'context-drift': 'contextDrift',
  'scope-drift': 'scopeDrift',
  budget: 'budget',
} as const satisfies Record<DriftKind, keyof Policies['drift']>;

export function rule(kind: DriftKind, parts: Pick<DriftRule, 'evaluate' | 'judges'>): DriftRule {
  const policy = POLICY_OF[kind];
  return { kind, enabled: (policies) => policies.drift[policy].enabled, ...parts };
}
