/**
 * The drift rules (docs/drift.md) about a task's work — context drift, scope drift, budget — each a pure
 * function of the drift input (index.ts).
 */

import { isBuiltIn } from '../config.js';
import { fingerprint, held, matchesAny, reportedUsage, secs, stillWorking, workingSeconds } from './facts.js';
import type { Finding } from './index.js';
import { rule } from './rule.js';

// ---------------------------------------------------------------- context drift

export const contextDrift = rule('context-drift', {
  evaluate(input) {
    const policy = input.policies.drift.contextDrift;
    const out: Finding[] = [];
    for (const h of held(input.view)) {
      const driver = input.agents.find((a) => a.id === h.agent)?.driver;
      if (!driver || !isBuiltIn(driver) || driver.kind !== 'llm') continue;
      const limit = Math.floor(driver.contextBudgetTokens * policy.budgetShare);
      const context = reportedUsage(input.view, h).context;
      const session = input.now.getTime() - h.startedAt;
      const tooBig = context !== null && context >= limit;
      if (!tooBig && session <= policy.maxSessionSeconds * 1000) continue;
      out.push({
        kind: 'context-drift',
        key: `context-drift:${h.agent}`,
        occurrence: `${h.task.id}:${h.task.attempts}:${tooBig ? 'tokens' : 'session'}`,
        severity: 'warning',
        agent: h.agent,
        task: h.task.id,
        subject: h.agent,
        message: tooBig
          ? `${h.agent}'s context holds ${context} tokens, near its budget of ${driver.contextBudgetTokens}`
          : `${h.agent}'s session on ${h.task.id} has lasted ${secs(session)} s (limit ${policy.maxSessionSeconds} s)`,
        evidence: {
          contextTokens: context,
          budgetTokens: driver.contextBudgetTokens,
          limitTokens: limit,
          sessionSeconds: secs(session),
          maxSessionSeconds: policy.maxSessionSeconds,
        },
        action: policy.action,
      });
    }
    return out;
  },
});

// ---------------------------------------------------------------- scope drift

export const scopeDrift = rule('scope-drift', {
  evaluate(input) {
    const policy = input.policies.drift.scopeDrift;
    const tasks = held(input.view);
    const out: Finding[] = [];
    for (const h of tasks) {
      const files = input.changedFiles?.get(h.agent);
      if (!files || h.task.resources.length === 0) continue;
      // Files another running task may touch are not this task's drift.
      const others = tasks.filter((o) => o !== h).flatMap((o) => o.task.resources);
      const outside = files
        .filter(
          (f) => !matchesAny(h.task.resources, f) && !matchesAny(others, f) && !matchesAny(policy.ignore, f),
        )
        .sort();
      if (outside.length === 0) continue;
      out.push({
        kind: 'scope-drift',
        key: `scope-drift:${h.task.id}`,
        occurrence: `${h.task.attempts}:${fingerprint(outside)}`,
        severity: 'warning',
        agent: h.agent,
        task: h.task.id,
        subject: h.task.id,
        message: `${h.task.id} (${h.agent}) changed ${outside.length} file(s) outside its resources: ${outside.slice(0, 3).join(', ')}${outside.length > 3 ? ', …' : ''}`,
        evidence: { files: outside.slice(0, 50), count: outside.length, resources: h.task.resources },
        action: policy.action,
        errorCode: 'E_SCOPE',
      });
    }
    return out;
  },
  judges: (alert, input) =>
    stillWorking(alert, input) && input.changedFiles?.has(String(alert.evidence.agent ?? '')) === true,
});

// ---------------------------------------------------------------- budget

export const budget = rule('budget', {
  evaluate(input) {
    const policy = input.policies.drift.budget;
    const now = input.now.getTime();
    const out: Finding[] = [];
    for (const h of held(input.view)) {
      const limits = h.task.budget;
      if (!limits) continue;
      const reported = reportedUsage(input.view, h);
      const before = h.task.result?.usage;
      const spent = {
        seconds: Math.round(workingSeconds(h.task, now) * 10) / 10,
        tokens: (before ? before.inputTokens + before.outputTokens : 0) + reported.tokens,
        usd: Math.round(((before?.usd ?? 0) + reported.usd) * 10_000) / 10_000,
      };
      const over = (['tokens', 'usd', 'seconds'] as const).filter(
        (d) => limits[d] !== undefined && spent[d] > limits[d]!,
      );
      if (over.length === 0) continue;
      out.push({
        kind: 'budget',
        key: `budget:${h.task.id}`,
        occurrence: `${h.task.attempts}:${over.join(',')}`,
        severity: 'critical',
        agent: h.agent,
        task: h.task.id,
        subject: h.task.id,
        message: `${h.task.id} (${h.agent}) is over its budget: ${over.map((d) => `${spent[d]} of ${limits[d]} ${d}`).join(', ')}`,
        evidence: { spent, budget: limits, over },
        action: policy.action,
        errorCode: 'E_BUDGET',
        final: true,
      });
    }
    return out;
  },
  judges: stillWorking,
});
