/**
 * Runs the drift engine for an orchestrator: gathers what only this process can observe (log
 * activity, files changed in git working folders), evaluates every rule over every agent in the
 * state, and records alerts and actions for the agents it runs and, while it leads the sweeps
 * (sweep-leader.ts), for agents no live orchestrator runs (a hung or dead one's task returns to ready). Processes of its own agents stop through the
 * orchestrator's usual path (a task that leaves `working` is stopped); a stale agent's recorded
 * process on this host is stopped here first, so that a task never runs twice at once.
 */
import fs from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { agentFolder, runGit } from '../../agents/platform/git.js';
import { groupAlive, isZombie, stopProcessGroup } from '../../agents/platform/process.js';
import { changedSinceBase, taskTree } from '../../agents/platform/task-git.js';
import type { AgentState } from '../../state/schemas.js';
import { attemptStartedAt } from '../drift/facts.js';
import {
  clearedAlerts,
  DRIFT_KINDS,
  type DriftKind,
  evaluateDrift,
  judgedHere,
  staleAfterMs,
} from '../drift/index.js';
import {
  type DriftScope,
  isNewOccurrence,
  type Observed,
  planDriftFinding,
  planResolveDrift,
} from '../drift/plans.js';
import type { Workspace } from '../workspace.js';
import { HOST } from './plans.js';

export interface DriftEvent {
  type: 'drift';
  kind: DriftKind;
  alert: string;
  agent: string;
  task: string | null;
  action: string;
  message: string;
}

export interface DriftHooks {
  /** The agents this orchestrator runs. */
  mine(): ReadonlySet<string>;
  /** Whether this orchestrator leads the board-wide sweeps: it judges agents no live orchestrator runs. */
  leads(): boolean;
  /** Is this pid (still) a program driven for this agent of this workspace? Guards against pid reuse. */
  drives(agentId: string, pid: number): boolean;
  emit(event: DriftEvent | { type: 'error'; agent?: string; message: string }): void;
  /** Something changed: let the loop look (stop processes of tasks taken away, dispatch). */
  changed(): void;
}

const TASK_ACTIONS = new Set(['requeue', 'stop', 'cancel']);
const GIT_TIMEOUT_MS = 10_000;

export class DriftMonitor {
  private queue: Promise<void> = Promise.resolve();
  private wanted: Set<DriftKind> | null = null;
  private waiting: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Files already deleted when a task attempt was first seen (`task:attempt`): not its doing. */
  private readonly baselines = new Map<string, Set<string>>();
  private readonly tops = new Map<string, string | null>();

  constructor(
    private readonly ws: Workspace,
    private readonly hooks: DriftHooks,
  ) {}

  /** One evaluation (of `kinds`). Calls are serialised; calls waiting for their turn coalesce into one. */
  check(kinds: readonly DriftKind[] = DRIFT_KINDS): Promise<void> {
    if (this.wanted && this.waiting) {
      for (const kind of kinds) this.wanted.add(kind);
      return this.waiting;
    }
    const wanted = new Set(kinds);
    this.wanted = wanted;
    const next = this.queue
      .then(() => {
        this.wanted = null;
        this.waiting = null;
        return this.run(DRIFT_KINDS.filter((k) => wanted.has(k)));
      })
      .catch((error: Error) => this.hooks.emit({ type: 'error', message: `drift: ${error.message}` }));
    this.waiting = next;
    this.queue = next;
    return next;
  }

  /** No more checks; resolves when the one running (if any) has ended, its actions with it. */
  close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    return this.queue;
  }

  private get policies() {
    return this.ws.config.policies;
  }

  private async run(kinds: readonly DriftKind[]): Promise<void> {
    if (this.closed) return;
    this.ws.refresh();
    const mine = this.hooks.mine();
    const observed = await this.observe(mine, kinds);
    if (this.closed) return;
    this.ws.refresh();
    const view = this.ws.view;
    const state = { ...observed, view, now: new Date(), policies: this.policies };
    const findings = evaluateDrift(state, kinds);
    const others = this.hooks.leads();
    const scope: DriftScope & { childStopped: Set<string> } = {
      mine,
      others,
      agentIds: this.ws.config.agents.map((a) => a.id),
      childStopped: new Set(),
    };
    let changed = false;
    for (const f of findings) {
      if (!judgedHere(state, f.agent, mine, others) || !isNewOccurrence(view, f)) continue;
      const agent = view.agentState(f.agent);
      if (TASK_ACTIONS.has(f.action) && !mine.has(f.agent) && agent?.child && agent.runner?.host === HOST) {
        if (await this.stopChild(f.agent, agent.child)) scope.childStopped.add(f.agent);
      }
      const record = await this.ws.apply(
        (ctx) => planDriftFinding(ctx, observed, f.kind, f.key, scope),
        'drift',
      );
      if (!record) continue;
      changed = true;
      this.hooks.emit({
        type: 'drift',
        kind: record.finding.kind,
        alert: record.alert.id,
        agent: record.finding.agent,
        task: record.finding.task,
        action: record.alert.action,
        message: record.alert.message,
      });
    }
    if (clearedAlerts(state, findings, mine, kinds, others).length > 0) {
      const resolved = await this.ws.apply((ctx) => planResolveDrift(ctx, observed, scope, kinds), 'drift');
      changed ||= resolved.length > 0;
    }
    this.schedule(mine, others);
    if (changed) this.hooks.changed();
  }

  /**
   * The recorded process of an agent whose orchestrator hung or died, on this host: its whole group
   * is stopped (SIGTERM, then SIGKILL) unless the pid is gone or now belongs to someone else.
   */
  private async stopChild(agentId: string, child: NonNullable<AgentState['child']>): Promise<boolean> {
    // A zombie leader (its parent, the hung orchestrator, cannot reap it) still reserves its group id.
    const ours = this.hooks.drives(agentId, child.pid) || isZombie(child.pid);
    if (ours && groupAlive(child.pgid)) {
      return stopProcessGroup(child.pgid, { graceMs: this.policies.killGraceSeconds * 1000 });
    }
    return true;
  }

  /**
   * The leader of the sweeps wakes up the moment an agent of another orchestrator would turn stale,
   * so that a hung one is found two heartbeat intervals after its last beat, not up to one later.
   */
  private schedule(mine: ReadonlySet<string>, others: boolean): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.closed || !others || !this.policies.drift.stall.enabled) return;
    const limit = staleAfterMs(this.policies);
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (const s of this.ws.view.agentStates()) {
      if (mine.has(s.id) || !s.runner || !s.heartbeatAt || s.status === 'stale') continue;
      if (!s.task && s.status !== 'working') continue;
      const due = Date.parse(s.heartbeatAt) + limit + 50;
      if (due > now && due < next) next = due;
    }
    if (next === Number.POSITIVE_INFINITY) return;
    this.timer = setTimeout(() => void this.check(['stall']), next - now);
    this.timer.unref();
  }

  /** What the state does not hold: when logs were last written, and files changed in git folders. */
  private async observe(mine: ReadonlySet<string>, kinds: readonly DriftKind[]): Promise<Observed> {
    const drift = this.policies.drift;
    const working = [...this.ws.view.inStore('working')].filter((t) => t.lease);
    const lastOutputAt = new Map<string, number>();
    if (kinds.includes('stall') && drift.stall.silentSeconds > 0) {
      for (const task of working) {
        try {
          const agent = task.lease!.owner;
          lastOutputAt.set(agent, fs.statSync(this.ws.paths.log(agent, task.id)).mtimeMs);
        } catch {
          // no log yet: unknown
        }
      }
    }
    const changedFiles = new Map<string, string[]>();
    if (kinds.includes('scope-drift') && drift.scopeDrift.enabled) {
      const live = new Set<string>();
      for (const task of working) {
        const agent = this.ws.config.agents.find((a) => a.id === task.lease!.owner);
        if (!agent || !mine.has(agent.id) || task.resources.length === 0) continue;
        const attempt = `${task.id}:${task.attempts}`;
        live.add(attempt);
        // A task on its own branch: everything its branch changed since it forked from its base.
        if (task.code) {
          const changed = await changedSinceBase(taskTree(this.ws.home, task.id), task.code);
          if (changed) changedFiles.set(agent.id, changed);
          continue;
        }
        const files = await this.changedSince(
          agentFolder(this.ws.home, agent),
          attemptStartedAt(task),
          attempt,
        );
        if (files) changedFiles.set(agent.id, files);
      }
      for (const key of this.baselines.keys()) if (!live.has(key)) this.baselines.delete(key);
    }
    return { agents: this.ws.config.agents, alive: mine, lastOutputAt, changedFiles };
  }

  /** Files under `folder` changed (per git) since `since`, relative to it; null when it is not in a git repository. */
  private async changedSince(folder: string, since: number, attempt: string): Promise<string[] | null> {
    if (!this.tops.has(folder)) {
      const top = await git(['rev-parse', '--show-toplevel'], folder);
      this.tops.set(folder, top === null ? null : top.trim());
    }
    const top = this.tops.get(folder);
    if (!top) return null;
    const status = await git(['status', '--porcelain=v1', '-z', '--untracked-files=all'], folder);
    if (status === null) return null;
    const records = status.split('\0');
    const deleted: string[] = [];
    const out: string[] = [];
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      if (record.length < 4) continue;
      const code = record.slice(0, 2);
      if (code[0] === 'R' || code[0] === 'C') i++; // the next record is the original path
      const abs = join(top, record.slice(3));
      const rel = relative(folder, abs);
      const inHome = relative(this.ws.home, abs);
      if (!inHome.startsWith('..') && !isAbsolute(inHome)) continue; // Dream.OS's own files
      if (code.includes('D')) deleted.push(rel);
      else {
        try {
          if (fs.statSync(abs).mtimeMs >= since - MTIME_SLACK_MS) out.push(rel);
        } catch {
          deleted.push(rel);
        }
      }
    }
    let baseline = this.baselines.get(attempt);
    if (!baseline) {
      baseline = new Set(deleted);
      this.baselines.set(attempt, baseline);
    }
    return [...out, ...deleted.filter((f) => !baseline.has(f))];
  }
}

/** File times come from a coarse clock (a few ms); anything changed since the attempt began counts. */
const MTIME_SLACK_MS = 50;

/** The output of git in `cwd`, or null when it failed (not a repository, no git, too slow). */
async function git(args: string[], cwd: string): Promise<string | null> {
  const result = await runGit(args, cwd, { timeoutMs: GIT_TIMEOUT_MS });
  return result.ok ? result.stdout : null;
}
