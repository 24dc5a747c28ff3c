/**
 * Telemetry for the metrics view, computed from task histories (every transition is recorded with
 * its time and actor): throughput and success per time bucket, per-agent utilisation (share of the
 * window spent working a task), durations, tokens and cost. Pure; sparklines and bars are text.
 */
import type { Task } from '../../state/schemas.js';

export interface AgentUse {
  id: string;
  name: string;
  share: number;
  done: number;
  failed: number;
}

export interface Metrics {
  bucketSeconds: number;
  /** Finished tasks per bucket, oldest first. */
  throughput: number[];
  /** done / (done + failed) per bucket; null where nothing finished. */
  success: Array<number | null>;
  done: number;
  failed: number;
  successRate: number | null;
  meanSeconds: number | null;
  agents: AgentUse[];
  tokens: number;
  usd: number;
  /** Tasks whose tokens had no price (their cost is not in `usd`). */
  unpriced: number;
}

export interface MetricsOptions {
  buckets?: number;
  bucketSeconds?: number;
}

export function computeMetrics(
  tasks: Iterable<Task>,
  agents: ReadonlyArray<{ id: string; name: string }>,
  now: number,
  options: MetricsOptions = {},
): Metrics {
  const buckets = options.buckets ?? 30;
  const bucketSeconds = options.bucketSeconds ?? 30;
  const windowMs = buckets * bucketSeconds * 1000;
  const start = now - windowMs;
  const done = new Array<number>(buckets).fill(0);
  const failed = new Array<number>(buckets).fill(0);
  const busy = new Map<string, number>();
  const perAgent = new Map<string, { done: number; failed: number }>();
  const durations: number[] = [];
  let tokens = 0;
  let usd = 0;
  let unpriced = 0;
  const ids = new Set(agents.map((a) => a.id));
  const bucketOf = (t: number) => Math.min(buckets - 1, Math.floor((t - start) / (bucketSeconds * 1000)));

  for (const task of tasks) {
    if (task.result?.usage) {
      tokens += task.result.usage.inputTokens + task.result.usage.outputTokens;
      const { inputTokens, outputTokens, usd: cost } = task.result.usage;
      if (cost !== undefined) usd += cost;
      else if (inputTokens + outputTokens > 0) unpriced++;
    }
    const h = task.history;
    for (let i = 0; i < h.length; i++) {
      const entry = h[i]!;
      const at = Date.parse(entry.at);
      if (entry.to === 'working') {
        const agent = ids.has(entry.by) ? entry.by : task.agent;
        const next = h[i + 1];
        const end = next ? Date.parse(next.at) : task.status === 'working' ? now : at;
        const overlap = Math.min(end, now) - Math.max(at, start);
        if (agent && overlap > 0) busy.set(agent, (busy.get(agent) ?? 0) + overlap);
        if (next && (next.to === 'done' || next.to === 'failed') && end >= start) {
          if (next.to === 'done') durations.push((end - at) / 1000);
          if (agent) {
            const counts = perAgent.get(agent) ?? { done: 0, failed: 0 };
            counts[next.to] += 1;
            perAgent.set(agent, counts);
          }
        }
      }
      if ((entry.to === 'done' || entry.to === 'failed') && at >= start && at <= now) {
        (entry.to === 'done' ? done : failed)[bucketOf(at)]! += 1;
      }
    }
  }
  const doneTotal = done.reduce((a, b) => a + b, 0);
  const failedTotal = failed.reduce((a, b) => a + b, 0);
  return {
    bucketSeconds,
    throughput: done.map((d, i) => d + failed[i]!),
    success: done.map((d, i) => (d + failed[i]! ? d / (d + failed[i]!) : null)),
    done: doneTotal,
    failed: failedTotal,
    successRate: doneTotal + failedTotal ? doneTotal / (doneTotal + failedTotal) : null,
    meanSeconds: durations.length ? durations.reduce((a, b) => a + b, 0) / durations.length : null,
    agents: agents.map((a) => ({
      id: a.id,
      name: a.name,
      share: Math.min(1, (busy.get(a.id) ?? 0) / windowMs),
      done: perAgent.get(a.id)?.done ?? 0,
      failed: perAgent.get(a.id)?.failed ?? 0,
    })),
    tokens,
    usd,
    unpriced,
  };
}

const BLOCKS = '▁▂▃▄▅▆▇█';

/** One character per value, scaled to the largest (or `max`); null is a gap. */
export function sparkline(values: ReadonlyArray<number | null>, max?: number): string {
  const top = max ?? Math.max(0, ...values.map((v) => v ?? 0));
  return values
    .map((v) => {
      if (v === null) return ' ';
      if (top <= 0) return BLOCKS[0];
      return BLOCKS[Math.min(BLOCKS.length - 1, Math.round((v / top) * (BLOCKS.length - 1)))];
    })
    .join('');
}

/** A bar of `width` cells for a share between 0 and 1. */
export function bar(share: number, width: number): string {
  const cells = Math.max(0, Math.min(width, Math.round(share * width)));
  return '█'.repeat(cells) + '░'.repeat(Math.max(0, width - cells));
}
