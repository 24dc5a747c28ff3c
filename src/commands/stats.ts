/** `dreamos stats [--since 1h] [--json]`: telemetry derived from the journal (src/telemetry.ts). */
import type { Command } from 'commander';
import { invalidInput } from '../errors.js';
import { emit, table } from '../output.js';
import { parseDuration } from '../task-input.js';
import { collectTelemetry, costText, type Percentiles, type Telemetry } from '../telemetry.js';
import { readWorkspace } from './common.js';

/** `--since`: a duration back from now (30m, 2h, 7d) or a date (2025-01-31, an ISO time). */
export function parseSince(value: string, now: Date): Date {
  if (/^\d{4}-\d{2}-\d{2}/.test(value.trim())) {
    const at = Date.parse(value);
    if (Number.isNaN(at)) throw invalidInput(`--since: not a date: ${JSON.stringify(value)}`);
    return new Date(at);
  }
  return new Date(now.getTime() - parseDuration(value) * 1000);
}

const seconds = (s: number | null) =>
  s === null
    ? '-'
    : s < 120
      ? `${s.toFixed(1)} s`
      : s < 7200
        ? `${(s / 60).toFixed(1)} min`
        : `${(s / 3600).toFixed(1)} h`;
const pct = (r: number | null) => (r === null ? '-' : `${Math.round(r * 100)}%`);
const spread = (p: Percentiles) => [String(p.count), seconds(p.p50), seconds(p.p90), seconds(p.p99)];

/** A rate per hour is shown only for a window at least this long: a few seconds say nothing about an hour. */
const MIN_RATE_HOURS = 10 / 60;

function throughput(t: Telemetry): string {
  const { done, perHour, lastHour } = t.throughput;
  const rate =
    perHour !== null && t.hours >= MIN_RATE_HOURS
      ? `, ${perHour.toFixed(1)}/h`
      : ` in ${seconds(t.hours * 3600)}`;
  return `throughput  ${done} done${rate}; ${lastHour} in the last hour`;
}

function describeTelemetry(t: Telemetry): string {
  const lines = [
    `${t.since ? `since ${t.since}` : 'the whole journal'} (${seconds(t.hours * 3600)}, ${t.entries} journal entries${t.unreadable ? `, ${t.unreadable} unreadable lines skipped` : ''})`,
    throughput(t),
    `success     ${pct(t.success.rate)}: ${t.success.done} done, ${t.success.failed} failed, ${t.success.cancelled} cancelled; attempts ${t.success.attemptsOk} of ${t.success.attempts} ok (${pct(t.success.attemptRate)})`,
    `durations   claim → done: p50 ${seconds(t.durations.all.p50)}, p90 ${seconds(t.durations.all.p90)}, p99 ${seconds(t.durations.all.p99)} (${t.durations.all.count} tasks)`,
    `usage       ${t.usage.inputTokens} tokens in, ${t.usage.outputTokens} out, ${costText(t.usage.usd, t.unpriced.attempts)}${t.unpriced.attempts > 0 ? ` (${t.unpriced.attempts} attempt${t.unpriced.attempts === 1 ? '' : 's'} of a model without a price: see \`prices\` in config.json)` : ''}`,
    `failures    ${
      Object.entries(t.failures)
        .map(([code, n]) => `${code} ${n}`)
        .join(', ') || 'none'
    }`,
  ];
  const roles = Object.entries(t.durations.byRole);
  if (roles.length > 0) {
    lines.push(
      '',
      table([['ROLE', 'DONE', 'P50', 'P90', 'P99'], ...roles.map(([r, p]) => [r, ...spread(p)])]),
    );
  }
  const agents = Object.entries(t.agents);
  if (agents.length > 0) {
    lines.push(
      '',
      table([
        ['AGENT', 'ROLE', 'DONE', 'ATTEMPTS', 'FAILED', 'BUSY', 'TOKENS', 'COST', 'P50', 'P90', 'P99'],
        ...agents.map(([id, a]) => [
          id,
          a.role ?? '-',
          String(a.done),
          String(a.attempts),
          String(a.attemptsFailed),
          pct(a.utilisation),
          String(a.inputTokens + a.outputTokens),
          costText(a.usd, t.unpriced.byAgent[id] ?? 0),
          seconds(a.durations.p50),
          seconds(a.durations.p90),
          seconds(a.durations.p99),
        ]),
      ]),
    );
  }
  return lines.join('\n');
}

export function registerStats(program: Command): void {
  program
    .command('stats')
    .description(
      'throughput, success rate, durations per role and agent, utilisation, tokens, cost and failures, from the journal',
    )
    .option('--since <when>', 'only the last 30m, 2h, 7d…, or since a date')
    .action(async (o, command: Command) => {
      await readWorkspace(command, async (ws, options) => {
        const until = new Date();
        const since = o.since !== undefined ? parseSince(String(o.since), until) : undefined;
        const roles = new Map(ws.config.agents.map((a) => [a.id, a.role]));
        const telemetry = await collectTelemetry(ws.history, { ...(since ? { since } : {}), until, roles });
        emit(options, telemetry, () => describeTelemetry(telemetry));
      });
    });
}
