/**
 * The attention inbox (docs/drift.md): everything that needs the operator, in one ranked list, each with a
 * typed reason — open alerts, dead-lettered tasks, agents whose program waits for input, stalled
 * agents and tasks, tasks blocked for good by a failed or cancelled dependency, tasks no agent can take, tasks waiting for approval, messages
 * to the operator, ready work while no orchestrator runs the agents, outbound webhooks that
 * fail or were disabled, and those that missed events retention deleted. One item per subject (a
 * task, an agent): what else applies to it is merged in. Tasks that are merely running never appear.
 * Computed from the state view, and whether the orchestrators it names on this host are alive
 * (src/runners.ts).
 */
import type { StateView } from '../state/backend.js';
import { describeHolder, type LockHolder } from '../state/lock/index.js';
import { type Alert, PRIORITIES, TASK_ID_RE, type Task } from '../state/schemas.js';
import { type AgentConfig, OPERATOR, type Policies } from './config.js';
import { runLive } from './drift/index.js';
import { pausedIn, whyNobodyTakes } from './orchestrator/takers.js';
import { plural } from './output.js';
import { reviewAttention } from './review/attention.js';
import { describeUnrun, liveRunners, runnerDied, unrun } from './runners.js';
import type { WebhookHealth } from './webhooks/manage.js';

export const ATTENTION_REASONS = [
  'lock-stopped',
  'no-orchestrator',
  'stalled',
  'failed',
  'needs-input',
  'merge-conflict',
  'gate-failed',
  'over-budget',
  'scope-drift',
  'overrun',
  'context-drift',
  'state-damaged',
  'webhook-failing',
  'webhook-lost',
  'unassignable',
  'plugin-off',
  'blocked',
  'source-failing',
  'needs-approval',
  'waiting-review',
  'message',
] as const;
export type AttentionReason = (typeof ATTENTION_REASONS)[number];

export interface AttentionItem {
  /** One item per key: `task:ID`, `agent:ID`, `alert:ID` or `mail:ID`. */
  key: string;
  reason: AttentionReason;
  severity: Alert['severity'];
  subject: string;
  text: string;
  /** What the operator can do about it. */
  action: string;
  at: string;
  task?: string;
  agent?: string;
  /** Open alerts about the subject. */
  alerts: string[];
  /** Other reasons that apply to the same subject. */
  also: AttentionReason[];
}

export interface AttentionOptions {
  policies: Policies;
  /** The configured agents: who could take the ready and backlog tasks. */
  agents: readonly AgentConfig[];
  now: Date;
  /** Who holds the journal lock (lockHolder()): a stopped holder blocks every change. */
  journalLock?: LockHolder | null;
  /** Webhooks failing or disabled by their receiver or their failures (webhookHealth()). */
  webhooks?: readonly WebhookHealth[];
}

const REASON_OF: Record<Alert['kind'], AttentionReason> = {
  'corrupt-state': 'state-damaged',
  'missing-store': 'state-damaged',
  'journal-damage': 'state-damaged',
  stall: 'stalled',
  overrun: 'overrun',
  'repeated-failure': 'failed',
  'context-drift': 'context-drift',
  'scope-drift': 'scope-drift',
  budget: 'over-budget',
  plugin: 'plugin-off',
  'source-failing': 'source-failing',
  'webhook-lost': 'webhook-lost',
};
const SEVERITY = { critical: 0, warning: 1, info: 2 } as const;

const rank = (i: AttentionItem) => SEVERITY[i.severity] * 100 + ATTENTION_REASONS.indexOf(i.reason);

const HINT: Record<Alert['kind'], (subject: string, id: string) => string> = {
  'corrupt-state': () => 'see `dreamos doctor`',
  'missing-store': () => 'see `dreamos doctor`',
  'journal-damage': () => 'see `dreamos doctor`',
  stall: () => 'stop the hung `dreamos run` and start it again',
  overrun: (s) => `read its log (\`dreamos task log ${s} --follow\`); cancel it if it is stuck`,
  'repeated-failure': (s) => `fix the cause, then \`dreamos agent resume ${s}\``,
  'context-drift': () => 'its next task starts on a fresh context',
  'scope-drift': () => 'review the files it changed (`dreamos alert list --json` has them)',
  budget: (s) => `raise its budget (\`dreamos task edit ${s}\`) and retry it, or leave it`,
  plugin: () => 'see why in `dreamos plugin list`; fix or remove it, then restart the process that loads it',
  'source-failing': (s) =>
    `check the source's address and \`dreamos scout sources\`; it resolves itself once ${s} works again`,
  'webhook-lost': (s, id) =>
    `the receiver of ${s} missed those events: bring it up to date from the API or \`dreamos task list --json\`, then \`dreamos alert resolve ${id}\``,
};

/** What to do about an agent whose driver could not be made (docs/plugins.md#drivers). */
const DRIVER_HINT =
  'give it a driver kind a loaded plugin provides (`dreamos plugin list`) and options its plugin accepts, then restart the process that runs it';

/** What to do about an agent whose orchestrator died: never "stop" a process that is gone. */
function afterDeath(agent: string, someoneRuns: boolean): string {
  return someoneRuns
    ? `a running orchestrator takes ${agent} over at its next heartbeat (if it runs ${agent}; else start \`dreamos run --agents ${agent}\`)`
    : `start \`dreamos run\` (or the console): it stops what the dead one left and resumes its task`;
}

function alertItem(view: StateView, alert: Alert, someoneRuns: boolean): AttentionItem {
  const task = TASK_ID_RE.test(alert.subject) ? alert.subject : undefined;
  const agent = !task && view.agentState(alert.subject) ? alert.subject : undefined;
  const died = alert.kind === 'stall' && agent !== undefined && runnerDied(view.agentState(agent));
  const hint = died
    ? afterDeath(agent, someoneRuns)
    : alert.key?.startsWith('driver:')
      ? DRIVER_HINT
      : HINT[alert.kind](alert.subject, alert.id);
  return {
    key: task ? `task:${task}` : agent ? `agent:${agent}` : `alert:${alert.id}`,
    reason: REASON_OF[alert.kind],
    severity: alert.severity,
    subject: alert.subject,
    text: alert.message,
    action: `${hint}; \`dreamos alert ack ${alert.id}\` when handled (done: ${alert.action})`,
    at: alert.updatedAt,
    ...(task ? { task } : {}),
    ...(agent ? { agent } : {}),
    alerts: [alert.id],
    also: [],
  };
}

const taskItem = (
  task: Task,
  reason: AttentionReason,
  severity: Alert['severity'],
  text: string,
  action: string,
) => ({
  key: `task:${task.id}`,
  reason,
  severity,
  subject: task.id,
  text,
  action,
  at: task.updatedAt,
  task: task.id,
  alerts: [],
  also: [],
});

/**
 * A webhook that needs the operator. One disabled is a warning (events wait for it); one failing is
 * information while retries go on, and a warning once several attempts in a row have failed.
 */
function webhookItem(hook: WebhookHealth): AttentionItem {
  const enable = `\`dreamos webhook enable ${hook.id}\``;
  const action =
    hook.id === 'webhooks'
      ? 'see `dreamos webhook list`; add the subscriptions again if the file was moved to quarantine/'
      : hook.state === 'failing'
        ? `retries go on; \`dreamos webhook deliveries ${hook.id}\` shows the attempts, \`dreamos webhook test ${hook.id}\` tries the receiver`
        : hook.by === 'receiver'
          ? `the receiver asked for no more: ${enable} when it wants them again, or \`dreamos webhook remove ${hook.id}\``
          : `fix the receiver (\`dreamos webhook test ${hook.id}\`), then ${enable}: what it missed is delivered`;
  return {
    key: `webhook:${hook.id}`,
    reason: 'webhook-failing',
    severity: hook.state === 'disabled' || hook.failures >= 3 ? 'warning' : 'info',
    subject: hook.id,
    text: `${hook.url ? `${hook.url}: ` : ''}${hook.state === 'disabled' ? `disabled, ${hook.why}` : hook.why}${hook.pending ? `; ${plural(hook.pending, 'delivery waits', 'deliveries wait')}` : ''}`,
    action,
    at: hook.since,
    alerts: [],
    also: [],
  };
}

export function attention(view: StateView, options: AttentionOptions): AttentionItem[] {
  const items = new Map<string, AttentionItem>();
  const add = (item: AttentionItem) => {
    const current = items.get(item.key);
    if (!current) {
      items.set(item.key, item);
      return;
    }
    const [keep, other] = rank(item) < rank(current) ? [item, current] : [current, item];
    const also = [...new Set([...keep.also, other.reason, ...other.also])].filter((r) => r !== keep.reason);
    items.set(item.key, { ...keep, alerts: [...new Set([...keep.alerts, ...other.alerts])], also });
  };

  const runners = liveRunners(view, options.policies, options.now);
  for (const alert of view.alerts())
    if (alert.status === 'open') add(alertItem(view, alert, runners.length > 0));

  // Nobody runs the agents (every orchestrator stopped or died) while work waits; or orchestrators
  // run, but none runs an agent that may take some ready work.
  const waiting = unrun(view, options.agents, runners);
  if (waiting.tasks.length > 0) {
    const n = waiting.tasks.length;
    const some = runners.length > 0 ? describeUnrun(waiting) : null;
    add({
      key: 'swarm:orchestrator',
      reason: 'no-orchestrator',
      severity: 'warning',
      subject: some ? waiting.agents.join(',') : 'agents',
      text:
        some?.text ??
        `nobody runs the agents: ${n} ready task${n === 1 ? '' : 's'} wait${n === 1 ? 's' : ''}`,
      action: some?.action ?? 'start `dreamos run` (or the console, `dreamos`) in this workspace',
      at: options.now.toISOString(),
      alerts: [],
      also: [],
    });
  }

  const lock = options.journalLock;
  if (lock?.state === 'stopped') {
    add({
      key: 'lock:journal',
      reason: 'lock-stopped',
      severity: 'critical',
      subject: `pid ${lock.pid}`,
      text: `journal lock held by a stopped process (pid ${lock.pid}${lock.command ? `, ${lock.command}` : ''}) for ${Math.round(lock.ageMs / 1000)} s: no change can be made`,
      action: describeHolder(lock).replace(/^.*cannot let go: /, ''),
      at: new Date(options.now.getTime() - lock.ageMs).toISOString(),
      alerts: [],
      also: [],
    });
  }

  // Stalled: agents whose orchestrator stopped beating while they held work, tasks whose lease ran out.
  const now = options.now.getTime();
  for (const state of view.agentStates()) {
    const silent =
      state.runner &&
      !runLive(state, options.now, options.policies) &&
      (state.task || state.status === 'working');
    if (state.status !== 'stale' && !silent) continue;
    const died = runnerDied(state);
    add({
      key: `agent:${state.id}`,
      reason: 'stalled',
      severity: state.task ? 'critical' : 'warning',
      subject: state.id,
      text: died
        ? `${state.id}: its orchestrator (pid ${state.runner!.pid}) died${state.task ? ` holding ${state.task}` : ''}`
        : `${state.id} has sent no heartbeat since ${state.heartbeatAt ?? 'ever'}${state.runner ? ` (orchestrator pid ${state.runner.pid} on ${state.runner.host})` : ''}`,
      action: died
        ? afterDeath(state.id, runners.length > 0)
        : 'stop the hung `dreamos run` and start it again; its agents and tasks are taken over',
      at: state.heartbeatAt ?? state.updatedAt,
      agent: state.id,
      alerts: [],
      also: [],
    });
  }
  for (const task of view.inStore('working')) {
    if (!task.lease || Date.parse(task.lease.expiresAt) > now) continue;
    add(
      taskItem(
        task,
        'stalled',
        'warning',
        `${task.title}: the lease of ${task.lease.owner} ran out at ${task.lease.expiresAt}`,
        'it returns to ready at the next claim; `dreamos run` does that now',
      ),
    );
  }

  // A pty agent's program waits for the operator: a permission, a question, its turn ended.
  for (const state of view.agentStates()) {
    const waiting = state.waiting;
    if (!waiting || state.task !== waiting.task || state.status !== 'working') continue;
    const task = view.task(waiting.task);
    if (task?.status !== 'working') continue;
    add({
      ...taskItem(
        task,
        'needs-input',
        'warning',
        `${state.id} waits for input (${waiting.kind.replace('-', ' ')}): ${waiting.text}`,
        `\`dreamos agent attach ${state.id}\`, or \`dreamos agent send ${state.id} TEXT\`; \`dreamos agent peek ${state.id}\` shows its screen`,
      ),
      at: waiting.since,
      agent: state.id,
    });
  }

  // Failed (dead letter) and the tasks they block.
  const finishedBadly = new Map<string, Task>();
  for (const task of view.inStore('completed'))
    if (task.status === 'failed' || task.status === 'cancelled') finishedBadly.set(task.id, task);
  const blocks = new Map<string, number>();
  for (const task of view.inStore('backlog')) {
    const dead = task.dependsOn.map((d) => finishedBadly.get(d)).find(Boolean);
    if (dead) {
      blocks.set(dead.id, (blocks.get(dead.id) ?? 0) + 1);
      add(
        taskItem(
          task,
          'blocked',
          'info',
          `${task.title}: depends on ${dead.id}, which ${dead.status === 'failed' ? 'failed' : 'was cancelled'}`,
          `\`dreamos task retry ${dead.id}\`, or edit the dependencies of ${task.id}`,
        ),
      );
    } else if (task.approval?.status === 'pending') {
      add(
        taskItem(
          task,
          'needs-approval',
          'info',
          `${task.title}: from ${task.source}${task.dedupeKey ? ` (${task.dedupeKey})` : ''}, waits for approval`,
          `\`dreamos task approve ${task.id}\` to let it run, or \`dreamos task cancel ${task.id}\``,
        ),
      );
    } else if (
      task.dependsOn.every((d) => view.task(d)?.status === 'done') &&
      task.history[0]?.by !== OPERATOR
    ) {
      add(
        taskItem(
          task,
          'needs-approval',
          'info',
          `${task.title}: proposed by ${task.history[0]?.by ?? task.source}, waits for the operator`,
          `\`dreamos task promote ${task.id}\` to run it, or \`dreamos task cancel ${task.id}\``,
        ),
      );
    }
  }
  for (const task of finishedBadly.values()) {
    if (task.status !== 'failed') continue;
    const code = task.result?.errorCode;
    const waiting = blocks.get(task.id);
    add(
      taskItem(
        task,
        code === 'E_BUDGET' ? 'over-budget' : code === 'E_SCOPE' ? 'scope-drift' : 'failed',
        task.priority === 'critical' ? 'critical' : 'warning',
        `${task.title}: ${task.result?.error ?? 'failed'}${code ? ` [${code}]` : ''}${waiting ? `; ${plural(waiting, 'task waits', 'tasks wait')} on it` : ''}`,
        `\`dreamos task retry ${task.id}\` (its log: \`dreamos task log ${task.id}\`)`,
      ),
    );
  }

  for (const item of reviewAttention(view))
    add(taskItem(item.task, item.reason, item.severity, item.text, item.action));

  // Work that would wait for ever: no agent may take it, or only paused or disabled ones.
  const paused = pausedIn(view);
  for (const store of ['ready', 'backlog'] as const) {
    for (const task of view.inStore(store)) {
      const why = whyNobodyTakes(task, options.agents, paused);
      if (why) add(taskItem(task, 'unassignable', 'warning', `${task.title}: ${why.text}`, why.action));
    }
  }

  // Messages agents sent to the operator and nobody has acknowledged.
  for (const mail of view.mailbox(OPERATOR)) {
    if (mail.ackedAt || mail.type === 'directive') continue;
    add({
      key: `mail:${mail.id}`,
      reason: 'message',
      severity: mail.type === 'alert' ? 'warning' : 'info',
      subject: mail.from,
      text: mail.body.split('\n')[0]!.slice(0, 300),
      action: `\`dreamos mail ack ${mail.id}\` when read`,
      at: mail.createdAt,
      ...(mail.task ? { task: mail.task } : {}),
      alerts: [],
      also: [],
    });
  }

  for (const hook of options.webhooks ?? []) add(webhookItem(hook));

  const priority = (i: AttentionItem) => {
    const p = i.task ? view.task(i.task)?.priority : undefined;
    return p ? PRIORITIES.indexOf(p) : PRIORITIES.length;
  };
  return [...items.values()].sort(
    (a, b) => rank(a) - rank(b) || priority(a) - priority(b) || (a.at < b.at ? 1 : a.at > b.at ? -1 : 0),
  );
}
