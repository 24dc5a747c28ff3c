/**
 * The orchestrator: runs the loop of every agent it has taken (agent-loop.ts), in one process
 * (`dreamos run`, or inside the console). It wakes on journal changes (no busy polling), hands
 * ready tasks to idle agents (scheduler.ts), passes directives from the mailboxes to their agents,
 * beats the heartbeat of all its agents in one change, and on stop returns running tasks to ready
 * and leaves no child process behind. Leftovers of a previous run that died are found and stopped
 * (leftovers.ts) before their tasks are handed out again.
 */
import type { AgentDriver } from '../../agents/drivers/types.js';
import { belongsTo, KILL_WAIT_MS } from '../../agents/platform/process.js';
import type { Driver } from '../config.js';
import { DreamError, isRetryable } from '../errors.js';
import { type Watcher, watchWorkspace } from '../watch.js';
import type { Workspace } from '../workspace.js';
import { AgentLoop, type AgentLoopHost } from './agent-loop.js';
import { DriftMonitor } from './drift-monitor.js';
import { makeDrivers } from './drivers.js';
import type { OrchestratorEvent, TakenFrom } from './events.js';
import { type Leftover, type LeftoverContext, recoverLeftover, stopLeftoverTmux } from './leftovers.js';
import { planHeartbeat, planReleaseAgents, planTakeAgents, runnerGone } from './plans.js';
import { assign, hasRunnableWork } from './scheduler.js';
import { SweepLeader } from './sweep-leader.js';

export { describeTakeover, type OrchestratorEvent, type TakenFrom } from './events.js';

/** How many heartbeats a term of the lead of the sweeps lasts: renewed each one, it outlives a slow beat. */
const LEAD_HEARTBEATS = 3;

export interface OrchestratorOptions {
  /** Run only these agents (default: every enabled agent that is not running elsewhere). */
  agents?: string[];
  /** Stop when no runnable work remains. */
  untilIdle?: boolean;
  onEvent?: (event: OrchestratorEvent) => void;
  /** The driver factory (tests inject their own); throws, saying why, when it cannot make one. */
  createDriver: (driver: Driver) => AgentDriver;
  /**
   * Work looked for outside (the scout's sources that are due), run by the leader of the sweeps
   * only, so that two orchestrators never both poll; one run at a time, beside the heartbeat.
   */
  scout?: () => Promise<{ notices?: readonly string[] } | undefined | void>;
}

export class Orchestrator {
  private readonly loops = new Map<string, AgentLoop>();
  /** Each wanted agent's driver, made at the start. */
  private readonly drivers = new Map<string, AgentDriver>();
  /** The agents this orchestrator should run; those another one holds are taken over when it goes. */
  private wanted: string[] = [];
  /** The pid last seen running each wanted agent held elsewhere (a clean stop clears the record). */
  private readonly seenRunner = new Map<string, number>();
  private adopting: Promise<void> | null = null;
  private watcher: Watcher | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private drift: DriftMonitor | null = null;
  /** Whether the sweeps made for the whole board are this orchestrator's to run (sweep-leader.ts). */
  private readonly leader: SweepLeader;
  private wakeTimer: NodeJS.Timeout | null = null;
  /** The scout's run in progress, if any. */
  private scouting: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  private readonly startedAt = new Date().toISOString();
  private resolveDone!: (reason: string) => void;
  /** Settles with the reason once the orchestrator has stopped. */
  readonly done: Promise<string> = new Promise((resolve) => {
    this.resolveDone = resolve;
  });

  private requestStop!: () => void;
  /** What each agent's loop may ask of this orchestrator. */
  private readonly loopHost: AgentLoopHost;

  constructor(
    readonly ws: Workspace,
    private readonly options: OrchestratorOptions,
  ) {
    this.loopHost = {
      ws,
      stopping: () => this.stopping !== null,
      stopRequested: new Promise<void>((resolve) => {
        this.requestStop = resolve;
      }),
      emit: (event) => this.emit(event),
      fail: (error, agentId) => this.fail(error, agentId),
      changed: () => this.onChange(),
      checkFailures: async () => {
        await this.drift?.check(['repeated-failure']);
      },
    };
    this.leader = new SweepLeader(
      ws.db,
      () => this.policies.heartbeatSeconds * 1000 * LEAD_HEARTBEATS,
      (leading) => this.emit({ type: 'sweeps', leading, holder: this.leader.holder }),
    );
  }

  private emit(event: OrchestratorEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch {
      // a listener's failure never stops the swarm
    }
  }

  private get policies() {
    return this.ws.config.policies;
  }

  private get staleMs() {
    return this.policies.heartbeatSeconds * 3000;
  }

  async start(): Promise<void> {
    const wanted = this.options.agents ?? this.ws.config.agents.filter((a) => a.enabled).map((a) => a.id);
    for (const id of wanted) this.ws.agent(id);
    // An agent whose driver cannot be made does not run (drivers.ts).
    for (const [id, driver] of await makeDrivers(this.ws, wanted, this.options.createDriver, (event) =>
      this.emit(event),
    ))
      this.drivers.set(id, driver);
    this.wanted = wanted.filter((id) => this.drivers.has(id));
    const { taken, leftovers } = await this.ws.apply((ctx) =>
      planTakeAgents(ctx, this.wanted, this.staleMs, this.startedAt),
    );
    this.addLoops(taken);
    this.noteRunners();
    this.emit({ type: 'started', agents: taken, elsewhere: this.wanted.filter((id) => !taken.includes(id)) });
    await this.renewLead();
    this.drift = new DriftMonitor(this.ws, {
      mine: () => new Set(this.loops.keys()),
      leads: () => this.leader.leads(),
      drives: (agentId, pid) => belongsTo(pid, agentId, this.ws.home),
      emit: (event) => this.emit(event),
      changed: () => this.onChange(),
    });
    for (const leftover of leftovers) await this.recover(leftover);
    stopLeftoverTmux(this.ws, taken, (event) => this.emit(event));
    this.watcher = watchWorkspace(this.ws, () => this.onChange());
    this.heartbeat = setInterval(() => void this.beat(), this.policies.heartbeatSeconds * 1000);
    this.onChange();
  }

  private addLoops(ids: readonly string[]): void {
    for (const id of ids) {
      const agent = this.ws.agent(id);
      const driver = this.drivers.get(id) ?? this.options.createDriver(agent.driver);
      this.loops.set(id, new AgentLoop(agent, driver, this.loopHost));
    }
  }

  /** Adopt or stop what a dead run of an agent left, and run its task again here. */
  private recover(leftover: Leftover): Promise<void> {
    // Before the write that resumes the task: its lease runs from no earlier than this.
    const leaseFrom = performance.now();
    const ctx: LeftoverContext = {
      ws: this.ws,
      emit: (event) => this.emit(event),
      resume: (agentId, task) => {
        const loop = this.loops.get(agentId);
        if (loop) void loop.run(task, leaseFrom);
      },
      canAdopt: (agentId) => this.loops.get(agentId)?.driver.adopt !== undefined,
      adopt: (agentId, task) => {
        const loop = this.loops.get(agentId);
        if (loop) void loop.run(task, leaseFrom, true);
      },
    };
    return recoverLeftover(ctx, leftover);
  }

  /** Remember who runs the agents we wait for, to say whose agents we took over. */
  private noteRunners(): void {
    for (const id of this.wanted) {
      const runner = this.loops.has(id) ? null : this.ws.view.agentState(id)?.runner;
      if (runner) this.seenRunner.set(id, runner.pid);
    }
  }

  /** Wanted agents held elsewhere whose orchestrator has provably gone (docs/decisions/orchestrator-failover.md). */
  private orphans(): Array<{ id: string; how: 'released' | 'died' }> {
    const out: Array<{ id: string; how: 'released' | 'died' }> = [];
    for (const id of this.wanted) {
      if (this.loops.has(id)) continue;
      const how = runnerGone(this.ws.view.agentState(id));
      if (how) out.push({ id, how });
    }
    return out;
  }

  /**
   * A standby's duty: take over the agents whose orchestrator stopped or died, then recover what it
   * left (its processes, its tasks) as at a start. The take is one transaction that re-checks each
   * agent's runner, so two standbys never both take one agent.
   */
  private async adopt(): Promise<void> {
    if (this.stopping || this.wanted.length === this.loops.size) return;
    this.ws.refresh();
    const orphans = this.orphans();
    this.noteRunners();
    if (orphans.length === 0) return;
    const adopting = (async () => {
      const { taken, leftovers } = await this.ws.apply((ctx) =>
        planTakeAgents(
          ctx,
          orphans.map((o) => o.id),
          this.staleMs,
          this.startedAt,
        ),
      );
      this.addLoops(taken);
      if (taken.length === 0) return;
      const from: TakenFrom[] = [];
      for (const { id, how } of orphans) {
        if (!taken.includes(id)) continue;
        const pid = this.seenRunner.get(id) ?? null;
        this.seenRunner.delete(id);
        const group = from.find((f) => f.pid === pid && f.how === how);
        if (group) group.agents.push(id);
        else from.push({ agents: [id], pid, how });
      }
      this.emit({ type: 'took-over', agents: taken, from });
      for (const leftover of leftovers) await this.recover(leftover);
      stopLeftoverTmux(this.ws, taken, (event) => this.emit(event));
    })();
    this.adopting = adopting;
    try {
      await adopting;
    } finally {
      this.adopting = null;
    }
  }

  /**
   * Every wake-up (a journal change, a timer, a run that ended) asks for one pass: take over orphaned
   * agents, obey directives, stop runs whose task went away, dispatch. One pass runs at a time, in
   * one of these modes:
   * - `idle`: no pass runs; the next wake-up starts one.
   * - `passing`: a pass runs, and nothing has woken us since it began.
   * - `again`: a wake-up came during the pass; once it ends, one more pass runs. Any number of
   *   wake-ups during a pass coalesce into that one more pass.
   */
  private passMode: 'idle' | 'passing' | 'again' = 'idle';
  /** The pass in progress (or the last one): stop() waits for its claims. */
  private pass: Promise<void> = Promise.resolve();

  /** Read through a call: the awaits of a pass may change the mode, which the compiler cannot see. */
  private wokenDuringPass(): boolean {
    return this.passMode === 'again';
  }

  private onChange(): void {
    if (this.stopping) return;
    if (this.passMode !== 'idle') {
      this.passMode = 'again';
      return;
    }
    this.passMode = 'passing';
    this.pass = (async () => {
      try {
        do {
          this.passMode = 'passing';
          // A take that fails (a lock timeout) is tried again at the next wake-up; our agents go on.
          await this.adopt().catch((error) => this.fail(error));
          await this.handleDirectives();
          await this.checkRunning();
          await this.dispatch();
        } while (this.wokenDuringPass() && !this.stopping);
      } catch (error) {
        this.fail(error);
      } finally {
        this.passMode = 'idle';
      }
    })();
  }

  /** A running task cancelled or taken away (lease lost) meanwhile: stop its process. */
  private async checkRunning(): Promise<void> {
    for (const loop of this.loops.values()) await loop.checkLease();
  }

  private async handleDirectives(): Promise<void> {
    for (const loop of this.loops.values()) {
      const directives = this.ws.view
        .mailbox(loop.agent.id)
        .filter((m) => m.type === 'directive' && !m.ackedAt);
      if (directives.length === 0) continue;
      for (const mail of directives) await loop.obey(mail);
      await this.ws
        .markMail(
          loop.agent.id,
          directives.map((m) => m.id),
          'ack',
        )
        .catch((e) => this.fail(e, loop.agent.id));
    }
  }

  /**
   * Hand ready tasks to idle agents. Only onChange's pass calls this, one pass at a time. A claim
   * lost to a conflict (another process took the task, or it changed) is followed by one more round
   * on the new state; a write that failed is left to the next wake-up.
   */
  private async dispatch(): Promise<void> {
    let again: boolean;
    do {
      again = false;
      if (this.stopping) return;
      this.ws.refresh();
      const idle = [...this.loops.values()].filter((l) => !l.running && !l.claiming && !l.paused());
      const plan = assign(
        this.ws.view,
        idle.map((l) => l.slot()),
        this.policies,
        Date.now(),
      );
      for (const [agentId, task] of plan) {
        if (this.stopping) break; // a claim made now would only be put back
        const loop = this.loops.get(agentId)!;
        loop.claiming = true;
        try {
          const sentAt = performance.now();
          const claimed = await this.ws.claim(agentId, { taskId: task.id });
          if (claimed) void loop.run(claimed, sentAt);
        } catch (error) {
          // A write that failed (a full disk) is reported and not retried at once.
          if (!(error instanceof DreamError) || isRetryable(error)) this.fail(error, agentId);
          if (!isRetryable(error)) again = true;
        } finally {
          loop.claiming = false;
        }
      }
    } while (again && !this.stopping);
    this.scheduleWake();
    this.checkIdle();
  }

  /** Wake up when the earliest retry backoff of a task one of our agents could take runs out. */
  private scheduleWake(): void {
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = null;
    const now = Date.now();
    let earliest = Number.POSITIVE_INFINITY;
    for (const task of this.ws.view.inStore('ready')) {
      if (task.notBefore) {
        const at = Date.parse(task.notBefore);
        if (at > now && at < earliest) earliest = at;
      }
    }
    if (earliest !== Number.POSITIVE_INFINITY) {
      this.wakeTimer = setTimeout(() => this.onChange(), Math.max(10, earliest - now + 5));
    }
  }

  private checkIdle(): void {
    if (!this.options.untilIdle || this.stopping) return;
    const loops = [...this.loops.values()];
    if (loops.some((l) => l.running || l.claiming)) return;
    const active = loops.filter((l) => !l.paused()).map((l) => l.slot());
    if (hasRunnableWork(this.ws.view, active)) return;
    this.emit({ type: 'idle' });
    void this.stop('idle');
  }

  /** Whether a working task's lease looks run out by this host's clock (a hint: the sweep decides). */
  private leaseRanOut(): boolean {
    const now = Date.now();
    for (const task of this.ws.view.inStore('working'))
      if (task.lease && Date.parse(task.lease.expiresAt) <= now) return true;
    return false;
  }

  /** One change beats the heartbeat of every agent here and renews the leases of their tasks. */
  private async beat(): Promise<void> {
    if (this.stopping) return;
    // Before any write, which may wait long on a database out of reach: runs whose lease could not be
    // renewed for a whole lease are stopped.
    for (const loop of this.loops.values())
      void loop.checkLeaseLapse().catch((error) => this.fail(error, loop.agent.id));
    try {
      // The heartbeat first: nothing slow may delay it, or other orchestrators would see us as stale.
      const loops = [...this.loops.values()];
      const runs = new Map(loops.map((l) => [l.agent.id, l.running]));
      const sentAt = performance.now();
      const beats = await this.ws.apply((ctx) =>
        planHeartbeat(ctx, new Map(loops.map((l) => [l.agent.id, l.held()]))),
      );
      for (const loop of loops) {
        const beat = beats.get(loop.agent.id);
        if (beat?.renewed && beat.task) loop.leaseRenewed(beat.task.id, sentAt);
      }
      // A lease the heartbeat did not renew is lost (the task cancelled, claimed again, or its lease
      // run out): the run that held it, if still running, stops.
      for (const loop of loops) {
        const run = runs.get(loop.agent.id);
        if (run && loop.running === run && !beats.get(loop.agent.id)?.renewed) await loop.checkLease(true);
      }
      // An orchestrator that died writes nothing that would wake us: look for its agents here.
      if (this.wanted.length > this.loops.size && this.orphans().length > 0) this.onChange();
      // The drift of our own agents is ours to judge; the rest of the board's, the leader's.
      await this.renewLead();
      // A lease that ran out leaves its task working with nobody on it; the claims of idle agents
      // sweep it back to ready, but an orchestrator whose agents have nothing else to take never
      // claims: the leader sweeps (the plan judges each lease by the backend's clock).
      if (this.leader.leads() && this.leaseRanOut()) await this.ws.sweep();
      await this.drift?.check();
      // State changed behind the backend's back is found here and repaired, with an alert.
      if (this.leader.leads()) {
        this.startScout();
        for (const notice of await this.ws.db.upkeep()) this.emit({ type: 'error', message: notice.message });
      }
    } catch (error) {
      this.fail(error);
    }
  }

  /** Start the scout's run unless one is running: it reads the network, so it never holds the heartbeat up. */
  private startScout(): void {
    const scout = this.options.scout;
    if (!scout || this.scouting || this.stopping) return;
    this.scouting = scout()
      .then(
        // What the run found damaged and set aside (its seen-store) is told, as `scout run` tells it.
        (run) => {
          for (const notice of run?.notices ?? []) this.emit({ type: 'error', message: `scout: ${notice}` });
        },
        (error) => this.fail(error),
      )
      .finally(() => {
        this.scouting = null;
      });
  }

  /** Claim or renew the lead of the sweeps; a failure leaves them to another orchestrator. */
  private async renewLead(): Promise<void> {
    await this.leader.renew().catch((error) => this.fail(error));
  }

  private fail(error: unknown, agent?: string): void {
    this.emit({
      type: 'error',
      ...(agent ? { agent } : {}),
      message: (error as Error).message ?? String(error),
    });
  }

  /** Stop every agent here: running tasks go back to ready with a checkpoint; no child survives. */
  stop(reason = 'shutdown'): Promise<void> {
    if (this.stopping) return this.stopping;
    this.requestStop();
    this.stopping = (async () => {
      this.watcher?.close();
      if (this.heartbeat) clearInterval(this.heartbeat);
      if (this.wakeTimer) clearTimeout(this.wakeTimer);
      // A check already running may be stopping a hung program (SIGTERM, a grace period, SIGKILL):
      // it is let finish, within that grace and the wait after SIGKILL, before this process may exit.
      const drifting = this.drift?.close();
      // Agents being taken over are ours to stop and release too.
      await this.adopting?.catch(() => undefined);
      const pending: Promise<unknown>[] = [
        Promise.race([
          drifting,
          new Promise((r) => setTimeout(r, this.policies.killGraceSeconds * 1000 + KILL_WAIT_MS).unref()),
        ]),
      ];
      for (const loop of this.loops.values()) pending.push(loop.shutdown());
      // A scout run ends within its requests' timeouts; the workspace must stay open until then.
      if (this.scouting) pending.push(this.scouting);
      await Promise.allSettled(pending);
      // Each run records how it ended (its task requeued) before the agents are released. A claim
      // still on its way belongs to the pass in progress; the run it starts sees the stop and
      // requeues its task too.
      await this.pass;
      await Promise.allSettled([...this.loops.values()].map((loop) => loop.whenIdle()));
      await this.ws.apply((ctx) => planReleaseAgents(ctx, [...this.loops.keys()])).catch((e) => this.fail(e));
      // Another orchestrator leads the sweeps from its next heartbeat, not after our term.
      await this.leader.resign().catch((e) => this.fail(e));
      this.emit({ type: 'stopped', reason });
      this.resolveDone(reason);
    })();
    return this.stopping;
  }
}
