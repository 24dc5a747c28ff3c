/**
 * Drift findings recorded through a real workspace: one alert per key (a new occurrence bumps it
 * and opens it again, even when acknowledged), open → acknowledged → resolved, automatic
 * resolution, and each corrective action journaled in the same change as its alert.
 */
import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attention } from '../../../../src/attention.js';
import { Policies } from '../../../../src/config.js';
import type { DriftKind } from '../../../../src/drift/index.js';
import {
  type DriftScope,
  planAlertStatus,
  planDriftFinding,
  planResolveDrift,
} from '../../../../src/drift/plans.js';
import { initWorkspace, type Workspace } from '../../../../src/index.js';
import { defaultAgentState } from '../../../../src/mail.js';
import { decodeLine, listSegments } from '../../../../state/journal.js';
import type { AgentState, JournalEntry } from '../../../../state/schemas.js';
import { tempDir } from '../../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
let ws: Workspace;

beforeEach(async () => {
  tmp = tempDir();
  ws = await initWorkspace({
    dir: tmp.dir,
    config: { policies: Policies.parse({ drift: { overrun: { timeoutGraceSeconds: 0 } } }) },
  });
});
afterEach(async () => {
  await ws.close();
  tmp.cleanup();
});

const ago = (seconds: number) => new Date(Date.now() - seconds * 1000).toISOString();
const scope = (mine: string[] = []): DriftScope => ({
  mine: new Set(mine),
  agentIds: ws.config.agents.map((a) => a.id),
});
const observed = () => ({ agents: ws.config.agents });
const inbox = () =>
  attention(ws.view, { policies: ws.config.policies, agents: ws.config.agents, now: new Date() });

function setAgent(id: string, patch: Partial<AgentState>) {
  return ws.apply((ctx) => ({
    change: {
      op: 'test-agent',
      by: 'test',
      agents: [
        {
          ...(ctx.view.agentState(id) ?? defaultAgentState(id, ctx.now)),
          ...patch,
          updatedAt: ctx.now.toISOString(),
          rev: 0,
        },
      ],
    },
    result: undefined,
  }));
}

const record = (kind: DriftKind, key: string, mine: string[] = []) =>
  ws.apply((ctx) => planDriftFinding(ctx, observed(), kind, key, scope(mine)), 'drift');
const resolve = (mine: string[] = []) =>
  ws.apply((ctx) => planResolveDrift(ctx, observed(), scope(mine)), 'drift');

function journal(): JournalEntry[] {
  const out: JournalEntry[] = [];
  for (const segment of listSegments(ws.paths)) {
    for (const line of fs.readFileSync(ws.paths.journalSegment(segment), 'utf8').split('\n')) {
      if (!line) continue;
      const decoded = decodeLine(line);
      if ('entry' in decoded) out.push(decoded.entry);
    }
  }
  return out;
}

async function hungElsewhere(heartbeatAgo: number) {
  const t = await ws.addTask({ title: 'long', run: 'sleep 60' });
  await ws.claim('agent-2');
  await setAgent('agent-2', {
    status: 'working',
    task: t.id,
    runner: { pid: 999_999, host: 'another-host', startedAt: ago(600) },
    heartbeatAt: ago(heartbeatAgo),
  });
  return t;
}

describe('a stall of an agent run by a hung orchestrator', () => {
  it('returns its task to ready, marks it stale, and raises one alert, all in one journaled change', async () => {
    const t = await hungElsewhere(60);
    const rec = await record('stall', 'stall:agent-2');
    expect(rec?.alert).toMatchObject({
      kind: 'stall',
      status: 'open',
      count: 1,
      severity: 'critical',
      subject: 'agent-2',
      evidence: { agent: 'agent-2', task: t.id },
    });
    expect(rec?.alert.action).toMatch(/^requeue: marked agent-2 stale; T-\w+ returned to ready/);
    const task = ws.getTask(t.id);
    expect(task).toMatchObject({ status: 'ready', stalls: 1, lease: null, agent: null });
    expect(task.history.at(-1)).toMatchObject({ from: 'working', to: 'ready', by: 'drift' });
    expect(ws.agentStates().find((s) => s.id === 'agent-2')).toMatchObject({ status: 'stale', task: null });
    const entry = journal().find((e) => e.op === 'drift-stall')!;
    expect(entry.alerts?.map((a) => a.id)).toEqual([rec!.alert.id]);
    expect(entry.tasks?.map((p) => p.task.status)).toEqual(['ready']);
    expect(entry.agents?.map((a) => a.status)).toEqual(['stale']);

    // The same occurrence again changes nothing: no second alert, no second action.
    expect(await record('stall', 'stall:agent-2')).toBeNull();
    expect(ws.alerts()).toHaveLength(1);

    // The orchestrator beats again: the condition clears and the alert resolves by itself (judged by
    // that orchestrator: others leave the drift of a live orchestrator's agents to it).
    await setAgent('agent-2', { status: 'idle', heartbeatAt: new Date().toISOString() });
    expect(await resolve()).toEqual([]);
    const resolved = await resolve(['agent-2']);
    expect(resolved.map((a) => [a.id, a.status])).toEqual([[rec!.alert.id, 'resolved']]);

    // It hangs again: the same alert reopens, counted twice.
    await setAgent('agent-2', { status: 'working', heartbeatAt: ago(30) });
    const again = await record('stall', 'stall:agent-2');
    expect(again?.alert).toMatchObject({ id: rec!.alert.id, status: 'open', count: 2 });
    expect(ws.alerts()).toHaveLength(1);
  });

  it('is left alone while its orchestrator still beats', async () => {
    const t = await hungElsewhere(2);
    expect(await record('stall', 'stall:agent-2')).toBeNull();
    expect(ws.getTask(t.id).status).toBe('working');
    expect(ws.alerts()).toHaveLength(0);
  });
});

describe('repeated failure', () => {
  async function failThrice(reason = 'exited with code 3: boom') {
    for (let i = 0; i < 3; i++) {
      const t = await ws.addTask({ title: `fails ${i}`, run: 'exit 3', maxAttempts: 1 });
      await ws.claim('agent-2', { taskId: t.id });
      await ws.fail(t.id, { agent: 'agent-2', reason, errorCode: 'E_EXIT' });
    }
    await setAgent('agent-2', { failures: (ws.view.agentState('agent-2')?.failures ?? 0) + 3 });
  }

  it('pauses the agent with a directive; a repeat after an acknowledgement reopens the alert', async () => {
    await failThrice();
    const rec = await record('repeated-failure', 'repeated-failure:agent-2', ['agent-2']);
    expect(rec?.alert).toMatchObject({ kind: 'repeated-failure', status: 'open', count: 1 });
    expect(rec?.alert.action).toBe('pause: paused agent-2');
    expect(ws.agentStates().find((s) => s.id === 'agent-2')?.paused).toBe(true);
    expect(ws.mailbox('agent-2')).toMatchObject([{ type: 'directive', directive: 'pause', from: 'drift' }]);
    expect(journal().find((e) => e.op === 'drift-repeated-failure')?.mail).toHaveLength(1);

    // The operator acknowledges it and resumes the agent: it leaves the attention inbox.
    const acked = await ws.apply((ctx) => planAlertStatus(ctx, rec!.alert.id, 'acknowledged'));
    expect(acked.status).toBe('acknowledged');
    expect(inbox().filter((i) => i.alerts.includes(rec!.alert.id))).toEqual([]);
    await ws.directAgent('agent-2', 'resume');

    // It fails again: drift pauses it again, and the same alert is open again, counted twice,
    // back in the inbox (an acknowledgement covers the occurrences seen when it was made).
    await failThrice();
    const again = await record('repeated-failure', 'repeated-failure:agent-2', ['agent-2']);
    expect(again?.alert).toMatchObject({ id: rec!.alert.id, status: 'open', count: 2 });
    expect(again?.alert.action).toBe('pause: paused agent-2');
    expect(ws.alerts()).toHaveLength(1);
    expect(inbox().find((i) => i.alerts.includes(rec!.alert.id))).toMatchObject({
      reason: 'failed',
      agent: 'agent-2',
    });

    // Resolved by the operator, it stays resolved until the condition happens anew.
    await ws.apply((ctx) => planAlertStatus(ctx, rec!.alert.id, 'resolved'));
    expect(await record('repeated-failure', 'repeated-failure:agent-2', ['agent-2'])).toBeNull();
    expect(ws.alerts('resolved')).toHaveLength(1);
  });

  it('resolves by itself once the agent succeeds', async () => {
    await failThrice();
    await record('repeated-failure', 'repeated-failure:agent-2', ['agent-2']);
    const ok = await ws.addTask({ title: 'fine', run: 'true' });
    await ws.claim('agent-2', { taskId: ok.id });
    await ws.complete(ok.id, { agent: 'agent-2' });
    await setAgent('agent-2', { failures: 0 });
    expect((await resolve(['agent-2'])).map((a) => a.status)).toEqual(['resolved']);
  });
});

describe('stop actions on a task this orchestrator runs', () => {
  it('overrun past its timeout fails the attempt with E_TIMEOUT (it retries)', async () => {
    const t = await ws.addTask({ title: 'slow', run: 'sleep 9', timeout: 0.05 });
    await ws.claim('agent-2');
    await new Promise((r) => setTimeout(r, 150));
    const rec = await record('overrun', `overrun:${t.id}`, ['agent-2']);
    expect(rec?.alert.action).toMatch(/^stop: stopped T-\w+; it is ready now$/);
    expect(ws.getTask(t.id)).toMatchObject({ status: 'ready', result: { errorCode: 'E_TIMEOUT' } });
  });

  it('a task over its budget fails for good with E_BUDGET', async () => {
    const t = await ws.addTask({ title: 'pricey', run: 'sleep 9', budget: { seconds: 0.05 } });
    await ws.claim('agent-2');
    await new Promise((r) => setTimeout(r, 150));
    const rec = await record('budget', `budget:${t.id}`, ['agent-2']);
    expect(rec?.alert).toMatchObject({ kind: 'budget', severity: 'critical' });
    expect(ws.getTask(t.id)).toMatchObject({ status: 'failed', result: { errorCode: 'E_BUDGET' } });
    // The task has ended: the budget alert stays for the operator.
    expect(await resolve(['agent-2'])).toEqual([]);
  });
});

describe('alert status changes', () => {
  it('refuses bad ids, unknown alerts and acknowledging a resolved alert; repeats are no-ops', async () => {
    await hungElsewhere(60);
    const rec = await record('stall', 'stall:agent-2');
    const id = rec!.alert.id;
    await expect(ws.apply((ctx) => planAlertStatus(ctx, 'nope', 'acknowledged'))).rejects.toMatchObject({
      code: 'E_INVALID_INPUT',
    });
    await expect(ws.apply((ctx) => planAlertStatus(ctx, 'A-ZZZZZ', 'resolved'))).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
    });
    await ws.apply((ctx) => planAlertStatus(ctx, id, 'acknowledged'));
    const seq = ws.view.seq;
    await ws.apply((ctx) => planAlertStatus(ctx, id, 'acknowledged'));
    expect(ws.view.seq).toBe(seq);
    await ws.apply((ctx) => planAlertStatus(ctx, id, 'resolved'));
    await expect(ws.apply((ctx) => planAlertStatus(ctx, id, 'acknowledged'))).rejects.toMatchObject({
      code: 'E_INVALID_TRANSITION',
    });
  });
});
