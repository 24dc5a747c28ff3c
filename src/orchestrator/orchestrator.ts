/**
 * The orchestrator: runs the autonomous loop of every agent it has taken, in one process
 * (`dreamos run`, or inside the console). It wakes on journal changes (no busy polling), hands
 * ready tasks to idle agents (scheduler.ts), acts on directives from the mailboxes, beats the
 * heartbeat of all its agents in one change, and on stop returns running tasks to ready and leaves
 * no child process behind. Leftovers of a previous run that died are found and stopped before their
 * tasks are handed out again.
 */
import fs from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgentDriver, DriverOutcome, DriverRun } from '../../agents/drivers/types.js';
import { belongsTo, KILL_WAIT_MS } from '../../agents/platform/process.js';
import type { Mail, Task } from '../../state/schemas.js';
import { boundCheckpoint, resumeCheckpoint, withAgentContext } from '../checkpoints.js';
import type { AgentConfig, Driver } from '../config.js';
import { DreamError, isRetryable } from '../errors.js';
import { defaultAgentState } from '../mail.js';
import { type Watcher, watchWorkspace } from '../watch.js';
import type { Workspace } from '../workspace.js';
import { CheckpointPacer } from './checkpoint-pacer.js';
import { type DriftEvent, DriftMonitor } from './drift-monitor.js';
import { type Leftover, type LeftoverContext, recoverLeftover } from './leftovers.js';
import {
  type CheckpointInput,
  planAgentUpdate,
  planCheckpoint,
  planHeartbeat,
  planReleaseAgents,
  planRequeue,
  planTakeAgents,
  runnerGone,
} from './plans.js';
import { assign, hasRunnableWork, type Slot } from './scheduler.js';

export type OrchestratorEvent =
  | { type: 'started'; agents: string[]; elsewhere: string[] }
  | { type: 'took-over'; agents: string[]; from: TakenFrom[] }
  | { type: 'claimed'; agent: string; task: Task }
  | { type: 'line'; agent: string; task: string; line: string; stream: 'stdout' | 'stderr' }
  | {
      type: 'finished';
      agent: string;
      task: string;
      outcome: DriverOutcome;
      /** Set when the run was stopped rather than ended: no attempt is counted, whatever the outcome. */
      stopped?: { reason: 'cancel' | 'shutdown' | 'restart'; why: string };
    }
  | { type: 'directive'; agent: string; directive: string }
  | { type: 'leftover'; agent: string; pid: number; task: string | null }
  | { type: 'error'; agent?: string; message: string }
  | { type: 'idle' }
  | DriftEvent
  | { type: 'stopped'; reason: string };

/** Whose agents a standby took over, and how that orchestrator went (pid null: never seen). */
export interface TakenFrom {
  agents: string[];
  pid: number | null;
  how: 'released' | 'died';
}

/** "the orchestrator pid 123 stopped; the orchestrator pid 456 died" */
export function describeTakeover(from: readonly TakenFrom[]): string {
  return from
    .map(
      (f) =>
        `${f.pid ? `the orchestrator pid ${f.pid}` : 'their orchestrator'} ${f.how === 'died' ? 'died' : 'stopped'}`,
    )
    .join('; ');
}

export interface OrchestratorOptions {
  /** Run only these agents (default: every enabled agent that is not running elsewhere). */
  agents?: string[];
  /** Stop when no runnable work remains. */
  untilIdle?: boolean;
  onEvent?: (event: OrchestratorEvent) => void;
  /** The driver factory (tests inject their own). */
  createDriver: (driver: Driver) => AgentDriver;
}

interface Running {
  task: Task;
  run: DriverRun | null;
  stopReason: 'cancel' | 'shutdown' | 'restart' | null;
  /** What stopped it, for the task's history. */
  stopWhy?: string;
  progress: number | null;
  progressWritten: number;
  delivered: string[];
}

/** One agent's loop state; the orchestrator drives it. */
class AgentLoop {
  running: Running | null = null;
  claiming = false;
  idleSince = Date.now();
  freshContext = false;
  recentTags = new Set<string>();
  recentResources: string[] = [];

  constructor(
    readonly agent: AgentConfig,
    readonly driver: AgentDriver,
  ) {}

  slot(): Slot {
    return {
      agent: this.agent,
      accepts: (t) => this.driver.accepts(t),
      idleSince: this.idleSince,
      recentTags: this.recentTags,
      recentResources: this.recentResources,
    };
  }

  remember(task: Task): void {
    this.recentTags = new Set(task.tags);
    this.recentResources = [...task.resources];
    this.idleSince = Date.now();
  }
}

/** The `dreamos` executable of this installation (from dist/ when bundled, from src/orchestrator/ in tests). */
const DREAMOS_BIN =
  ['../bin/dreamos.js', '../../bin/dreamos.js']
    .map((rel) => fileURLToPath(new URL(rel, import.meta.url)))
    .find((path) => fs.existsSync(path)) ?? 'dreamos';
const PROGRESS_EVERY_MS = 1000;

export class Orchestrator {
  private readonly loops = new Map<string, AgentLoop>();
  /** The agents this orchestrator should run; those another one holds are taken over when it goes. */
  private wanted: string[] = [];
  /** The pid last seen running each wanted agent held elsewhere (a clean stop clears the record). */
  private readonly seenRunner = new Map<string, number>();
  private adopting: Promise<void> | null = null;
  private watcher: Watcher | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private drift: DriftMonitor | null = null;
  private wakeTimer: NodeJS.Timeout | null = null;
  private stopping: Promise<void> | null = null;
  private readonly startedAt = new Date().toISOString();
  private resolveDone!: (reason: string) => void;
  /** Settles with the reason once the orchestrator has stopped. */
  readonly done: Promise<string> = new Promise((resolve) => {
    this.resolveDone = resolve;
  });

  constructor(
    readonly ws: Workspace,
    private readonly options: OrchestratorOptions,
  ) {}

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
    this.wanted = wanted;
    const { taken, leftovers } = await this.ws.record((ctx) =>
      planTakeAgents(ctx, wanted, this.staleMs, this.startedAt),
    );
    this.addLoops(taken);
    this.noteRunners();
    this.emit({ type: 'started', agents: taken, elsewhere: wanted.filter((id) => !taken.includes(id)) });
    this.drift = new DriftMonitor(this.ws, {
      mine: () => new Set(this.loops.keys()),
      drives: (agentId, pid) => belongsTo(pid, agentId, this.ws.home),
      emit: (event) => this.emit(event),
      changed: () => this.onChange(),
    });
    for (const leftover of leftovers) await this.recover(leftover);
    this.watcher = watchWorkspace(this.ws, () => this.onChange());
    this.heartbeat = setInterval(() => void this.beat(), this.policies.heartbeatSeconds * 1000);
    this.onChange();
  }

  private addLoops(ids: readonly string[]): void {
    for (const id of ids) {
      const agent = this.ws.agent(id);
      this.loops.set(id, new AgentLoop(agent, this.options.createDriver(agent.driver)));
    }
  }

  /** Stop what a dead run of an agent left, and run its task again here. */
  private recover(leftover: Leftover): Promise<void> {
    const ctx: LeftoverContext = {
      ws: this.ws,
      emit: (event) => this.emit(event),
      resume: (agentId, task) => {
        const loop = this.loops.get(agentId);
        if (loop) void this.run(loop, task);
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
      const { taken, leftovers } = await this.ws.record((ctx) =>
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
    })();
    this.adopting = adopting;
    try {
      await adopting;
    } finally {
      this.adopting = null;
    }
  }

  private changing = false;
  private changedAgain = false;

  /** Every wake-up (journal change, timer) runs one pass; wake-ups during a pass coalesce into one more. */
  private onChange(): void {
    if (this.stopping) return;
    if (this.changing) {
      this.changedAgain = true;
      return;
    }
    this.changing = true;
    void (async () => {
      try {
        do {
          this.changedAgain = false;
          // A take that fails (a lock timeout) is tried again at the next wake-up; our agents go on.
          await this.adopt().catch((error) => this.fail(error));
          await this.handleDirectives();
          await this.checkRunning();
          await this.dispatch();
        } while (this.changedAgain && !this.stopping);
      } catch (error) {
        this.fail(error);
      } finally {
        this.changing = false;
      }
    })();
  }

  /** A running task cancelled or taken away (lease lost) meanwhile: stop its process. */
  private async checkRunning(): Promise<void> {
    for (const loop of this.loops.values()) {
      const current = loop.running;
      if (!current || current.stopReason) continue;
      const task = this.ws.view.task(current.task.id);
      if (task?.status !== 'working' || task.lease?.owner !== loop.agent.id) {
        current.stopReason = 'cancel';
        await current.run?.stop('cancel');
      }
    }
  }

  private async handleDirectives(): Promise<void> {
    for (const loop of this.loops.values()) {
      const directives = this.ws.view
        .mailbox(loop.agent.id)
        .filter((m) => m.type === 'directive' && !m.ackedAt);
      if (directives.length === 0) continue;
      for (const mail of directives) await this.obey(loop, mail);
      await this.ws
        .markMail(
          loop.agent.id,
          directives.map((m) => m.id),
          'ack',
        )
        .catch((e) => this.fail(e, loop.agent.id));
    }
  }

  private async obey(loop: AgentLoop, mail: Mail): Promise<void> {
    this.emit({ type: 'directive', agent: loop.agent.id, directive: mail.directive ?? '' });
    const current = loop.running;
    switch (mail.directive) {
      case 'cancel':
        if (current && !current.stopReason) {
          current.stopReason = 'cancel';
          await this.ws.cancel(current.task.id, `cancelled by directive ${mail.id}`).catch(() => undefined);
          await current.run?.stop('cancel');
        }
        break;
      case 'restart':
        if (current && !current.stopReason) {
          current.stopReason = 'restart';
          current.stopWhy = `${loop.agent.id} restarted by directive ${mail.id}`;
          await current.run?.stop('restart');
        }
        break;
      case 'reset-context': {
        loop.freshContext = true;
        const state = this.ws.view.agentState(loop.agent.id) ?? defaultAgentState(loop.agent.id, new Date());
        await this.ws.record((ctx) =>
          planAgentUpdate(ctx, loop.agent.id, { contextResets: state.contextResets + 1 }),
        );
        break;
      }
      default:
        break; // pause and resume act through the agent's state; the loop reads it before claiming
    }
  }

  private paused(agentId: string): boolean {
    return this.ws.view.agentState(agentId)?.paused ?? false;
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
      const idle = [...this.loops.values()].filter(
        (l) => !l.running && !l.claiming && !this.paused(l.agent.id),
      );
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
          const claimed = await this.ws.claim(agentId, { taskId: task.id });
          if (claimed) void this.run(loop, claimed);
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
    const active = loops.filter((l) => !this.paused(l.agent.id)).map((l) => l.slot());
    if (hasRunnableWork(this.ws.view, active)) return;
    this.emit({ type: 'idle' });
    void this.stop('idle');
  }

  /** Run one claimed task through the agent's driver and record how it ended. */
  private async run(loop: AgentLoop, task: Task): Promise<void> {
    const agentId = loop.agent.id;
    const running: Running = {
      task,
      run: null,
      stopReason: null,
      progress: null,
      progressWritten: 0,
      delivered: [],
    };
    loop.running = running;
    this.emit({ type: 'claimed', agent: agentId, task });
    const pacer = new CheckpointPacer<Omit<CheckpointInput, 'task'>>(
      (cp) => this.checkpoint(agentId, { task: task.id, ...cp }),
      (e) => this.fail(e, agentId),
    );
    let outcome: DriverOutcome;
    try {
      const checkpoint = loop.freshContext ? null : resumeCheckpoint(this.ws.view, agentId, task.id);
      loop.freshContext = false;
      const mailbox = this.ws.view.mailbox(agentId).filter((m) => m.type !== 'directive' && !m.ackedAt);
      running.delivered = mailbox.map((m) => m.id);
      await this.checkpoint(agentId, {
        task: task.id,
        step: checkpoint ? 'resume' : 'start',
        progress: checkpoint?.progress ?? 0,
      });
      await this.ws.record((ctx) =>
        planAgentUpdate(ctx, agentId, { status: 'working', task: task.id, progress: 0, child: null }),
      );
      if (this.stopping) {
        // Stopped between the claim and the start: nothing is started (nobody would stop it), and
        // finish() puts the task back to ready.
        running.stopReason = 'shutdown';
        throw new Error('stopped before the task started');
      }
      const logPath = this.ws.paths.log(agentId, task.id);
      fs.mkdirSync(dirname(logPath), { recursive: true, mode: 0o700 });
      running.run = loop.driver.start({
        task,
        agent: loop.agent,
        home: this.ws.home,
        cwd: dirname(this.ws.home),
        logPath,
        checkpoint,
        mailbox,
        ...(task.timeout ? { timeoutSeconds: task.timeout } : {}),
        // The drivers add DREAMOS_TASK_ID, DREAMOS_TASK_JSON, DREAMOS_AGENT_ID, DREAMOS_HOME, DREAMOS_CHECKPOINT.
        // Driven programs call the CLI through DREAMOS_BIN (`node "$DREAMOS_BIN" task add …`).
        env: { DREAMOS_BIN: DREAMOS_BIN },
        secretEnv: this.ws.config.agents.flatMap((a) =>
          a.driver.kind === 'llm' && a.driver.apiKeyEnv ? [a.driver.apiKeyEnv] : [],
        ),
        onLine: (line, stream) => {
          this.emit({ type: 'line', agent: agentId, task: task.id, line, stream });
        },
        onProgress: (progress) => this.progress(agentId, running, progress),
        onCheckpoint: (cp) => pacer.offer(cp),
        onSpawn: ({ pid, pgid }) =>
          void this.ws
            .record((ctx) =>
              planAgentUpdate(ctx, agentId, {
                child: { pid, pgid, startedAt: new Date().toISOString(), task: task.id },
              }),
            )
            .catch((e) => this.fail(e, agentId)),
        tools: {
          // What a model proposes is recorded as the agent's, and its sub-tasks wait for the
          // operator: a prompt injected into one agent must not become another agent's command.
          addSubtask: async (input) => {
            const sub = await this.ws.addTask(
              {
                title: input.title,
                ...(input.prompt ? { prompt: input.prompt } : {}),
                ...(input.run ? { run: input.run } : {}),
                ...(input.role ? { role: input.role } : {}),
                ...(input.priority ? { priority: input.priority as Task['priority'] } : {}),
                source: 'agent',
                hold: !this.policies.autoApproveSubtasks,
              },
              agentId,
            );
            return { id: sub.id, status: sub.status };
          },
          sendMessage: async (to, body) => {
            await this.ws.sendMail({ to, body }, agentId);
          },
        },
      });
      outcome = await running.run.done;
    } catch (error) {
      outcome = { ok: false, error: (error as Error).message, errorCode: 'E_DRIVER' };
    }
    // The last checkpoint the run reported is saved before its outcome.
    await pacer.flush();
    // A full disk must not wedge the agent with its task shown as working: the outcome is recorded
    // again at each heartbeat until it goes through (on a stop, the next start resumes the task).
    for (let retry = false; ; retry = true) {
      try {
        await this.finish(loop, running, outcome, retry);
        return;
      } catch (error) {
        this.fail(error, agentId);
        if (this.stopping || !isRetryable(error)) break;
        await new Promise((r) => setTimeout(r, this.policies.heartbeatSeconds * 1000));
      }
    }
    loop.running = null;
  }

  private async finish(
    loop: AgentLoop,
    running: Running,
    outcome: DriverOutcome,
    retry = false,
  ): Promise<void> {
    const agentId = loop.agent.id;
    const taskId = running.task.id;
    if (!retry) {
      const reason = running.stopReason;
      const why =
        running.stopWhy ?? (reason === 'cancel' ? 'the task was cancelled' : 'the orchestrator is stopping');
      this.emit({
        type: 'finished',
        agent: agentId,
        task: taskId,
        outcome,
        ...(reason ? { stopped: { reason, why } } : {}),
      });
    }
    const logPath = this.ws.paths.log(agentId, taskId);
    const log = logPath.slice(this.ws.home.length + 1);
    const state = this.ws.view.agentState(agentId) ?? defaultAgentState(agentId, new Date());
    // Why the run stopped, read before recording its outcome: that change wakes checkRunning(), which
    // sees the task leave `working` and would mark this finished run as cancelled.
    const stopReason = running.stopReason;
    if (stopReason === 'shutdown' || stopReason === 'restart') {
      await this.checkpoint(agentId, { task: taskId, step: 'interrupted', progress: running.progress });
      const why = running.stopWhy ?? `shutdown of ${agentId}`;
      await this.ws.record(
        (ctx) => planRequeue(ctx, agentId, taskId, `${why}: back to ready, the attempt not counted`),
        agentId,
      );
    } else if (stopReason !== 'cancel') {
      const report = {
        agent: agentId,
        ...(outcome.summary !== undefined ? { summary: outcome.summary } : {}),
        ...(outcome.exitCode !== undefined ? { exitCode: outcome.exitCode } : {}),
        ...(outcome.usage ? { usage: outcome.usage } : {}),
        log,
      };
      try {
        if (outcome.ok) await this.ws.complete(taskId, report);
        else {
          await this.ws.fail(taskId, {
            ...report,
            reason: outcome.error ?? 'failed',
            ...(outcome.errorCode ? { errorCode: outcome.errorCode } : {}),
            ...(outcome.final ? { final: true } : {}),
          });
        }
      } catch (error) {
        if (!(error instanceof DreamError) || isRetryable(error)) throw error;
        // An outcome the board refuses (a driver's bug, a hostile server's data) must not leave the
        // task working for ever: it fails, saying why. Other refusals mean the operator cancelled
        // or moved the task while it ran: nothing to report.
        if (error.code === 'E_INVALID_INPUT') {
          await this.ws
            .fail(taskId, {
              agent: agentId,
              log,
              reason: `the outcome of the run could not be recorded: ${error.message}`.slice(0, 2000),
              errorCode: 'E_DRIVER',
            })
            .catch((again: unknown) => {
              if (!(again instanceof DreamError) || isRetryable(again)) throw again;
            });
        }
      }
      await this.checkpoint(agentId, {
        task: taskId,
        step: outcome.ok ? 'done' : 'failed',
        progress: outcome.ok ? 1 : running.progress,
      });
    }
    if (running.delivered.length > 0)
      await this.ws.markMail(agentId, running.delivered, 'ack').catch(() => undefined);
    const failures = outcome.ok ? 0 : stopReason ? state.failures : state.failures + 1;
    await this.ws.record((ctx) =>
      planAgentUpdate(ctx, agentId, {
        status: this.stopping ? 'stopped' : this.paused(agentId) ? 'paused' : 'idle',
        task: null,
        child: null,
        progress: null,
        failures,
      }),
    );
    // The same error again and again: pause the agent before it claims another task.
    if (!outcome.ok && !stopReason) await this.drift?.check(['repeated-failure']);
    loop.remember(running.task);
    loop.running = null;
    if (!this.stopping) this.onChange();
  }

  private progress(agentId: string, running: Running, progress: number): void {
    running.progress = Math.max(0, Math.min(1, progress));
    const now = Date.now();
    if (now - running.progressWritten < PROGRESS_EVERY_MS) return;
    running.progressWritten = now;
    void this.ws
      .record((ctx) => planAgentUpdate(ctx, agentId, { progress: running.progress }))
      .catch((e) => this.fail(e, agentId));
  }

  /** With the commit of the agent's working folder and its mailbox position; reported text held to the schema. */
  private async checkpoint(agentId: string, input: CheckpointInput) {
    const full = boundCheckpoint(await withAgentContext(this.ws, this.ws.agent(agentId), input));
    return this.ws.record((ctx) => planCheckpoint(ctx, agentId, full), agentId);
  }

  /** One change beats the heartbeat of every agent here and renews the leases of their tasks. */
  private async beat(): Promise<void> {
    if (this.stopping) return;
    try {
      // The heartbeat first: nothing slow may delay it, or other orchestrators would see us as stale.
      const running = new Map([...this.loops.values()].map((l) => [l.agent.id, l.running?.task.id ?? null]));
      const tasks = await this.ws.record((ctx) => planHeartbeat(ctx, running));
      const lost = [...this.loops.values()].some(
        (l) => l.running && tasks.get(l.agent.id)?.status !== 'working',
      );
      if (lost) await this.checkRunning();
      // An orchestrator that died writes nothing that would wake us: look for its agents here.
      if (this.wanted.length > this.loops.size && this.orphans().length > 0) this.onChange();
      await this.drift?.check();
      // State files edited behind Dream.OS's back are found here, quarantined and rebuilt with an alert.
      for (const notice of await this.ws.db.verifySnapshots())
        this.emit({ type: 'error', message: notice.message });
      // Keep the board files close to the journal for anyone reading them.
      if (this.ws.db.dirtyStores.length > 0) await this.ws.db.flush();
    } catch (error) {
      this.fail(error);
    }
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
      for (const loop of this.loops.values()) {
        const current = loop.running;
        if (current?.run) {
          if (!current.stopReason) current.stopReason = 'shutdown';
          pending.push(current.run.stop('shutdown').then(() => current.run?.done));
        }
      }
      await Promise.allSettled(pending);
      // Let each finish() record the requeue before the agents are released; a claim still on
      // its way is followed by a run() that sees the stop and requeues too.
      for (let i = 0; i < 200 && [...this.loops.values()].some((l) => l.running || l.claiming); i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      await this.ws
        .record((ctx) => planReleaseAgents(ctx, [...this.loops.keys()]))
        .catch((e) => this.fail(e));
      this.emit({ type: 'stopped', reason });
      this.resolveDone(reason);
    })();
    return this.stopping;
  }
}
