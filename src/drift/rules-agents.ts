/**
 * The drift rules (docs/drift.md) about agents and time — stall, overrun, repeated failure — each a pure
 * function of the drift input (index.ts); the rules about a task's work are in rules-work.ts.
 * Thresholds and actions come from `policies.drift` (config.ts, documented in docs/drift.md).
 */

import {
  errorSignature,
  held,
  kindOf,
  lastAttempts,
  secs,
  staleAfterMs,
  stillWorking,
  taskOf,
  usualDurations,
} from './facts.js';
import type { DriftRule, Finding } from './index.js';
import { rule } from './rule.js';
import { budget, contextDrift, scopeDrift } from './rules-work.js';

// ---------------------------------------------------------------- stall

const stall = rule('stall', {
  evaluate(input) {
    const policy = input.policies.drift.stall;
    const now = input.now.getTime();
    const limit = staleAfterMs(input.policies);
    const tasks = held(input.view);
    const out: Finding[] = [];
    const stale = new Set<string>();
    for (const state of input.view.agentStates()) {
      if (input.alive?.has(state.id) || !state.runner || !state.heartbeatAt) continue;
      const age = now - Date.parse(state.heartbeatAt);
      const h = tasks.find((t) => t.agent === state.id);
      const busy = h || state.task || state.status === 'working' || state.status === 'stale';
      if (age <= limit || !busy) continue;
      stale.add(state.id);
      out.push({
        kind: 'stall',
        key: `stall:${state.id}`,
        occurrence: state.heartbeatAt,
        severity: h ? 'critical' : 'warning',
        agent: state.id,
        task: h?.task.id ?? null,
        subject: state.id,
        message:
          `${state.id} has sent no heartbeat for ${secs(age)} s (limit ${secs(limit)} s): its orchestrator ` +
          `(pid ${state.runner.pid} on ${state.runner.host}) is hung or gone${h ? `; it holds ${h.task.id}` : ''}`,
        evidence: {
          heartbeatAt: state.heartbeatAt,
          silentSeconds: secs(age),
          limitSeconds: secs(limit),
          runner: state.runner,
          child: state.child,
          lease: h?.task.lease ?? null,
        },
        action: policy.action,
      });
    }
    if (policy.silentSeconds > 0 && input.lastOutputAt) {
      for (const h of tasks) {
        const last = input.lastOutputAt.get(h.agent);
        if (last === undefined || stale.has(h.agent)) continue;
        const quiet = now - Math.max(last, h.startedAt);
        if (quiet <= policy.silentSeconds * 1000) continue;
        out.push({
          kind: 'stall',
          key: `stall:${h.task.id}`,
          occurrence: `${h.task.attempts}:${last}`,
          severity: 'warning',
          agent: h.agent,
          task: h.task.id,
          subject: h.task.id,
          message: `${h.task.id} (${h.agent}) has written no output for ${secs(quiet)} s (limit ${policy.silentSeconds} s)`,
          evidence: { lastOutputAt: new Date(last).toISOString(), quietSeconds: secs(quiet) },
          action: policy.silentAction,
          errorCode: 'E_STALLED',
        });
      }
    }
    return out;
  },
  judges(alert, input) {
    const id = taskOf(alert);
    if (!alert.key.startsWith('stall:T-') || id === null) return true;
    const agent = String(alert.evidence.agent ?? '');
    return !stillWorking(alert, input) || input.lastOutputAt?.has(agent) === true;
  },
});

// ---------------------------------------------------------------- overrun

const overrun = rule('overrun', {
  evaluate(input) {
    const policy = input.policies.drift.overrun;
    const now = input.now.getTime();
    const tasks = held(input.view);
    if (tasks.length === 0) return [];
    let usual: ReturnType<typeof usualDurations> | undefined;
    const out: Finding[] = [];
    for (const h of tasks) {
      const elapsed = now - h.startedAt;
      const base = {
        kind: 'overrun' as const,
        key: `overrun:${h.task.id}`,
        agent: h.agent,
        task: h.task.id,
        subject: h.task.id,
      };
      if (h.task.timeout && elapsed > (h.task.timeout + policy.timeoutGraceSeconds) * 1000) {
        out.push({
          ...base,
          occurrence: `${h.task.attempts}:timeout`,
          severity: 'critical',
          message: `${h.task.id} (${h.agent}) has run ${secs(elapsed)} s, past its timeout of ${h.task.timeout} s`,
          evidence: { elapsedSeconds: secs(elapsed), timeout: h.task.timeout, attempt: h.task.attempts },
          action: policy.action,
          errorCode: 'E_TIMEOUT',
        });
        continue;
      }
      usual ??= usualDurations(input.view);
      const kind = usual.get(kindOf(h.task));
      if (!kind || kind.samples < policy.usualMinSamples) continue;
      const limit = Math.max(kind.median * policy.usualFactor, policy.usualMinSeconds * 1000);
      if (elapsed <= limit) continue;
      out.push({
        ...base,
        occurrence: `${h.task.attempts}:usual`,
        severity: 'warning',
        message: `${h.task.id} (${h.agent}) has run ${secs(elapsed)} s; tasks like it usually take ${secs(kind.median)} s`,
        evidence: {
          elapsedSeconds: secs(elapsed),
          usualSeconds: secs(kind.median),
          samples: kind.samples,
          factor: policy.usualFactor,
          role: h.task.role ?? null,
          tags: h.task.tags,
          attempt: h.task.attempts,
        },
        action: policy.usualAction,
        errorCode: 'E_TIMEOUT',
      });
    }
    return out;
  },
});

// ---------------------------------------------------------------- repeated failure

const repeatedFailure = rule('repeated-failure', {
  evaluate(input) {
    const policy = input.policies.drift.repeatedFailure;
    const out: Finding[] = [];
    for (const agent of input.agents) {
      const state = input.view.agentState(agent.id);
      if (!state || state.failures < policy.attempts) continue;
      const attempts = lastAttempts(input.view, agent.id, policy.attempts);
      if (attempts.length < policy.attempts || attempts.some((a) => a.ok)) continue;
      const signature = errorSignature(attempts[0]!.error);
      if (policy.sameError && attempts.some((a) => errorSignature(a.error) !== signature)) continue;
      out.push({
        kind: 'repeated-failure',
        key: `repeated-failure:${agent.id}`,
        occurrence: attempts[0]!.at,
        severity: 'critical',
        agent: agent.id,
        task: null,
        subject: agent.id,
        message: `${agent.id} failed its last ${attempts.length} attempts${policy.sameError ? ` with the same error: ${signature}` : ''}`,
        evidence: { failures: state.failures, error: signature, attempts },
        action: policy.action,
      });
    }
    return out;
  },
});

export const RULES: readonly DriftRule[] = [
  stall,
  overrun,
  repeatedFailure,
  contextDrift,
  scopeDrift,
  budget,
];
