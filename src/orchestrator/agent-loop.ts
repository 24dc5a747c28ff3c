/**
 * One agent's loop, as the orchestrator drives it: the run of a claimed task through the agent's
 * driver (its context, its tools, its checkpoints and progress), how the run ended recorded on the
 * board, and the directives addressed to the agent. What it needs of the orchestrator is the narrow
 * AgentLoopHost below; wake-ups, dispatch, heartbeat and stop stay in the orchestrator.
 */
import fs from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgentDriver, DriverContext, DriverOutcome, DriverRun } from '../../agents/drivers/types.js';
import type { Checkpoint, Mail, Task } from '../../state/schemas.js';
import { boundCheckpoint, resumeCheckpoint, withAgentContext } from '../checkpoints.js';
import { type AgentConfig, isBuiltIn } from '../config.js';
import { DreamError, isRetryable } from '../errors.js';
import type { Ctx } from '../lifecycle/index.js';
import { defaultAgentState } from '../mail.js';
import { endCodeWork, openCodeWork } from '../review/code-work.js';
import type { Applied, Workspace } from '../workspace.js';
import { CheckpointPacer } from './checkpoint-pacer.js';
import type { OrchestratorEvent } from './events.js';
import {
  type CheckpointInput,
  type HeldLease,
  planAgentUpdate,
  planCheckpoint,
  planRequeue,
} from './plans.js';
import type { Slot } from './scheduler.js';

/** What an agent's loop needs of the orchestrator running it. */
export interface AgentLoopHost {
  readonly ws: Workspace;
  /** True once the orchestrator is stopping: nothing new starts, a finished agent is recorded stopped. */
  stopping(): boolean;
  /** Settles when the orchestrator starts stopping. */
  readonly stopRequested: Promise<void>;
  emit(event: OrchestratorEvent): void;
  fail(error: unknown, agentId?: string): void;
  /** The agent is free again: look for work. */
  changed(): void;
  /** A run failed: look for the same error again and again now (drift). */
  checkFailures(): Promise<void>;
}

type StopReason = 'cancel' | 'shutdown' | 'restart';

interface Running {
  /** The task as claimed: its `lease.token` is the fencing token this run reports with. */
  task: Task;
  run: DriverRun | null;
  stopReason: StopReason | null;
  /** What stopped it, for the task's history. */
  stopWhy?: string;
  /** Stopped because the lease was lost (claimed again, or run out): the task is not this run's any more. */
  leaseLost?: boolean;
  progress: number | null;
  progressWritten: number;
  delivered: string[];
  /**
   * When the lease last ran from, by this host's monotonic clock (performance.now()): taken before the
   * write that claimed or renewed it was sent, so never later than the database's start of the lease.
   */
  leaseFrom: number;
}

/** The `dreamos` executable of this installation (from dist/ when bundled, from src/orchestrator/ in tests). */
const DREAMOS_BIN =
  ['../bin/dreamos.js', '../../bin/dreamos.js']
    .map((rel) => fileURLToPath(new URL(rel, import.meta.url)))
    .find((path) => fs.existsSync(path)) ?? 'dreamos';
const PROGRESS_EVERY_MS = 1000;

export class AgentLoop {
  running: Running | null = null;
  claiming = false;
  idleSince = Date.now();
  freshContext = false;
  recentTags = new Set<string>();
  recentResources: string[] = [];
  /** Settles when the run in progress (if any) has recorded how it ended. */
  private ended: Promise<void> = Promise.resolve();

  constructor(
    readonly agent: AgentConfig,
    readonly driver: AgentDriver,
    private readonly host: AgentLoopHost,
  ) {}

  private get ws(): Workspace {
    return this.host.ws;
  }

  private get policies() {
    return this.ws.config.policies;
  }

  slot(): Slot {
    return {
      agent: this.agent,
      accepts: (t) => this.driver.accepts(t),
      idleSince: this.idleSince,
      recentTags: this.recentTags,
      recentResources: this.recentResources,
    };
  }

  paused(): boolean {
    return this.ws.view.agentState(this.agent.id)?.paused ?? false;
  }

  /**
   * Run one claimed task through the agent's driver and record how it ended. `leaseFrom` is when the
   * write that claimed it was sent (performance.now()). `adopt`: the program a dead orchestrator's run
   * left running is followed (the driver's `adopt`) rather than a new one started.
   */
  run(task: Task, leaseFrom: number, adopt = false): Promise<void> {
    const done = this.runTask(task, leaseFrom, adopt);
    this.ended = done.catch(() => undefined);
    return done;
  }

  /** Resolves once no run is in progress here (a run that just ended has recorded its outcome). */
  whenIdle(): Promise<void> {
    return this.ended;
  }

  /** The orchestrator is shutting down: stop the program of the run in progress, and wait for it to end. */
  async shutdown(): Promise<void> {
    const current = this.running;
    if (!current?.run) return; // between the claim and the start: the run sees the stop itself
    if (!current.stopReason) current.stopReason = 'shutdown';
    await current.run.stop('shutdown');
    await current.run.done;
  }

  /** The lease the run in progress holds, for the heartbeat that renews it; null when idle. */
  held(): HeldLease | null {
    const current = this.running;
    return current ? { task: current.task.id, token: current.task.lease?.token } : null;
  }

  /**
   * The running task was cancelled or taken away meanwhile: stop its program, and report nothing of
   * the run. Taken away is another claim of the task (another token, another agent), or, when the
   * heartbeat has just `refused` to renew the lease, a lease run out by the backend's clock.
   */
  async checkLease(refused = false): Promise<void> {
    const current = this.running;
    if (!current || current.stopReason) return;
    const task = this.ws.view.task(current.task.id);
    if (task?.status === 'working') {
      const lost = this.lostLease(current.task, task, refused);
      if (!lost) return;
      current.stopWhy = lost;
      current.leaseLost = true;
    }
    current.stopReason = 'cancel';
    await current.run?.stop('cancel');
  }

  /** Why `claimed`'s lease is no longer held now that the task is `now` (working), or null while it is. */
  private lostLease(claimed: Task, now: Task, refused: boolean): string | null {
    const lease = now.lease;
    const mine = claimed.lease;
    if (lease?.owner !== this.agent.id || lease.token !== mine?.token)
      return `${now.id} was claimed again${lease ? ` by ${lease.owner}` : ''}: the lease of ${this.agent.id} is lost`;
    if (refused) return `the lease of ${this.agent.id} on ${now.id} expired at ${lease.expiresAt}`;
    return null;
  }

  /** The heartbeat sent at `sentAt` (performance.now()) renewed the lease of this agent's task `taskId`. */
  leaseRenewed(taskId: string, sentAt: number): void {
    const current = this.running;
    if (current?.task.id === taskId) current.leaseFrom = Math.max(current.leaseFrom, sentAt);
  }

  /**
   * The lease of the running task has not been renewed for as long as it lasts, by this host's own
   * clock (the database may be out of reach): it may be someone else's task by now, so its program
   * is stopped and nothing is reported for it. The host's clock only measures the time elapsed, so a
   * host whose clock is set wrong stops its runs neither earlier nor later.
   */
  async checkLeaseLapse(now = performance.now()): Promise<void> {
    const current = this.running;
    if (!current || current.stopReason) return;
    const leaseMs = this.policies.leaseSeconds * 1000;
    if (now - current.leaseFrom < leaseMs) return;
    current.stopReason = 'cancel';
    // The task is not this run's any more: its end sweeps the lease back to ready, as for a lost one.
    current.leaseLost = true;
    current.stopWhy = `the lease of ${current.task.id} was not renewed for ${this.policies.leaseSeconds} s: it may have been given to another agent`;
    await current.run?.stop('cancel');
  }

  /** A directive from the agent's mailbox. */
  async obey(mail: Mail): Promise<void> {
    const agentId = this.agent.id;
    this.host.emit({ type: 'directive', agent: agentId, directive: mail.directive ?? '' });
    const current = this.running;
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
          current.stopWhy = `${agentId} restarted by directive ${mail.id}`;
          await current.run?.stop('restart');
        }
        break;
      case 'reset-context': {
        this.freshContext = true;
        const state = this.ws.view.agentState(agentId) ?? defaultAgentState(agentId, new Date());
        await this.ws.apply((ctx) =>
          planAgentUpdate(ctx, agentId, { contextResets: state.contextResets + 1 }),
        );
        break;
      }
      default:
        break; // pause and resume act through the agent's state; the loop reads it before claiming
    }
  }

  private remember(task: Task): void {
    this.recentTags = new Set(task.tags);
    this.recentResources = [...task.resources];
    this.idleSince = Date.now();
  }

  /** Wait before trying a write again; a stop cuts the wait short. */
  private async pause(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
      this.host.stopRequested,
    ]);
    clearTimeout(timer);
  }

  private async runTask(task: Task, leaseFrom: number, adopt: boolean): Promise<void> {
    const agentId = this.agent.id;
    const running: Running = {
      task,
      run: null,
      stopReason: null,
      progress: null,
      progressWritten: 0,
      delivered: [],
      leaseFrom,
    };
    this.running = running;
    this.host.emit({ type: 'claimed', agent: agentId, task });
    const pacer = new CheckpointPacer<Omit<CheckpointInput, 'task'>>(
      (cp) => this.checkpoint({ task: task.id, ...cp }),
      (e) => this.host.fail(e, agentId),
    );
    let outcome: DriverOutcome;
    try {
      const checkpoint = this.freshContext ? null : resumeCheckpoint(this.ws.view, agentId, task.id);
      this.freshContext = false;
      const mailbox = this.ws.view.mailbox(agentId).filter((m) => m.type !== 'directive' && !m.ackedAt);
      running.delivered = mailbox.map((m) => m.id);
      // The start's checkpoint and the agent's state in one write: the task is taken sooner after it.
      await this.ws.applyTogether(
        await this.checkpointPlan({
          task: task.id,
          step: adopt ? 'adopted' : checkpoint ? 'resume' : 'start',
          progress: checkpoint?.progress ?? 0,
        }),
        {
          plan: (ctx) =>
            planAgentUpdate(ctx, agentId, { status: 'working', task: task.id, progress: 0, child: null }),
        },
      );
      if (this.host.stopping()) {
        // Stopped between the claim and the start: nothing is started (nobody would stop it), and
        // finish() puts the task back to ready.
        running.stopReason = 'shutdown';
        throw new Error('stopped before the task started');
      }
      // The lease ran out before the program could start: nothing is started.
      if (running.stopReason) throw new Error('stopped before the task started');
      const logPath = this.ws.paths.log(agentId, task.id);
      fs.mkdirSync(dirname(logPath), { recursive: true, mode: 0o700 });
      const work = await openCodeWork(this.ws, this.agent, task);
      const context: DriverContext = {
        task,
        agent: this.agent,
        home: this.ws.home,
        cwd: dirname(this.ws.home),
        logPath,
        checkpoint,
        mailbox,
        ...(task.timeout ? { timeoutSeconds: task.timeout } : {}),
        // The drivers add DREAMOS_TASK_ID, DREAMOS_LEASE_TOKEN, DREAMOS_TASK_JSON, DREAMOS_AGENT_ID,
        // DREAMOS_HOME, DREAMOS_CHECKPOINT.
        // Driven programs call the CLI through DREAMOS_BIN (`node "$DREAMOS_BIN" task add …`).
        env: { DREAMOS_BIN: DREAMOS_BIN, ...work?.env },
        ...(work ? { worktree: { tree: work.tree, repo: work.repo } } : {}),
        secretEnv: this.ws.config.agents.flatMap((a) =>
          isBuiltIn(a.driver) && a.driver.kind === 'llm' && a.driver.apiKeyEnv ? [a.driver.apiKeyEnv] : [],
        ),
        onLine: (line, stream) => {
          this.host.emit({ type: 'line', agent: agentId, task: task.id, line, stream });
        },
        onProgress: (progress) => this.progress(running, progress),
        onCheckpoint: (cp) => pacer.offer(cp),
        // A pty agent's program waits for the operator (the attention inbox shows it), or no longer does.
        onNeedsInput: (waiting) =>
          void this.ws
            .apply((ctx) =>
              planAgentUpdate(ctx, agentId, {
                waiting: waiting && { ...waiting, task: task.id, since: ctx.now.toISOString() },
              }),
            )
            .catch((e) => this.host.fail(e, agentId)),
        onSpawn: ({ pid, pgid }) =>
          void this.ws
            .apply((ctx) =>
              planAgentUpdate(ctx, agentId, {
                child: { pid, pgid, startedAt: new Date().toISOString(), task: task.id },
              }),
            )
            .catch((e) => this.host.fail(e, agentId)),
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
      };
      running.run = adopt ? (this.driver.adopt?.(context) ?? null) : this.driver.start(context);
      if (running.run === null) throw new Error('the live session to adopt has gone');
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
        await this.finish(running, outcome, retry);
        return;
      } catch (error) {
        this.host.fail(error, agentId);
        if (this.host.stopping() || !isRetryable(error)) break;
        await this.pause(this.policies.heartbeatSeconds * 1000);
      }
    }
    this.running = null;
  }

  private async finish(running: Running, outcome: DriverOutcome, retry = false): Promise<void> {
    const agentId = this.agent.id;
    const taskId = running.task.id;
    if (!retry) {
      const reason = running.stopReason;
      const why =
        running.stopWhy ?? (reason === 'cancel' ? 'the task was cancelled' : 'the orchestrator is stopping');
      this.host.emit({
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
    /** The checkpoint of the run's outcome, written with the agent's state below. */
    let last: CheckpointInput | null = null;
    if (stopReason === 'shutdown' || stopReason === 'restart') {
      await this.checkpoint({ task: taskId, step: 'interrupted', progress: running.progress });
      const why = running.stopWhy ?? `shutdown of ${agentId}`;
      await this.ws.apply(
        (ctx) =>
          planRequeue(
            ctx,
            agentId,
            taskId,
            `${why}: back to ready, the attempt not counted`,
            running.task.lease?.token,
          ),
        agentId,
      );
    } else if (stopReason !== 'cancel') {
      const leaseToken = running.task.lease?.token;
      const report = {
        agent: agentId,
        ...(leaseToken !== undefined ? { leaseToken } : {}),
        ...(outcome.summary !== undefined ? { summary: outcome.summary } : {}),
        ...(outcome.exitCode !== undefined ? { exitCode: outcome.exitCode } : {}),
        ...(outcome.usage ? { usage: outcome.usage } : {}),
        log,
      };
      try {
        const code = outcome.ok ? await endCodeWork(this.ws, agentId, taskId, outcome.summary) : {};
        if ('error' in code) outcome = { ok: false, error: code.error, errorCode: 'E_GIT' };
        if (outcome.ok) await this.ws.complete(taskId, { ...report, ...code });
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
        // task working for ever: it fails, saying why. A conflict is a lease lost meanwhile (see
        // below); other refusals mean the operator cancelled or moved the task while it ran:
        // nothing to report.
        if (error.code === 'E_CONFLICT') running.leaseLost = true;
        if (error.code === 'E_INVALID_INPUT') {
          await this.ws
            .fail(taskId, {
              agent: agentId,
              ...(leaseToken !== undefined ? { leaseToken } : {}),
              log,
              reason: `the outcome of the run could not be recorded: ${error.message}`.slice(0, 2000),
              errorCode: 'E_DRIVER',
            })
            .catch((again: unknown) => {
              if (!(again instanceof DreamError) || isRetryable(again)) throw again;
            });
        }
      }
      last = {
        task: taskId,
        step: outcome.ok ? 'done' : 'failed',
        progress: outcome.ok ? 1 : running.progress,
      };
    }
    // A lease that ran out leaves the task working with nobody on it until a sweep puts it back to
    // ready as a stall; this run knows, so it sweeps now rather than wait for the next claim.
    if (running.leaseLost) await this.ws.sweep();
    if (running.delivered.length > 0)
      await this.ws.markMail(agentId, running.delivered, 'ack').catch(() => undefined);
    const failures = outcome.ok ? 0 : stopReason ? state.failures : state.failures + 1;
    const idle = {
      plan: (ctx: Ctx) =>
        planAgentUpdate(ctx, agentId, {
          status: this.host.stopping() ? 'stopped' : this.paused() ? 'paused' : 'idle',
          task: null,
          child: null,
          waiting: null,
          progress: null,
          failures,
        }),
    };
    // The outcome's checkpoint and the agent's state in one write, as at the start.
    if (last) await this.ws.applyTogether(await this.checkpointPlan(last), idle);
    else await this.ws.apply(idle.plan);
    // The same error again and again: pause the agent before it claims another task.
    if (!outcome.ok && !stopReason) await this.host.checkFailures();
    this.remember(running.task);
    this.running = null;
    if (!this.host.stopping()) this.host.changed();
  }

  private progress(running: Running, progress: number): void {
    const agentId = this.agent.id;
    running.progress = Math.max(0, Math.min(1, progress));
    const now = Date.now();
    if (now - running.progressWritten < PROGRESS_EVERY_MS) return;
    running.progressWritten = now;
    void this.ws
      .apply((ctx) => planAgentUpdate(ctx, agentId, { progress: running.progress }))
      .catch((e) => this.host.fail(e, agentId));
  }

  /** With the commit of the agent's working folder and its mailbox position; reported text held to the schema. */
  private async checkpoint(input: CheckpointInput) {
    const { plan, by } = await this.checkpointPlan(input);
    return this.ws.apply(plan, by);
  }

  /** A checkpoint's plan, made by the agent, to apply alone or together with another. */
  private async checkpointPlan(input: CheckpointInput): Promise<Applied<Checkpoint>> {
    const agentId = this.agent.id;
    const full = boundCheckpoint(await withAgentContext(this.ws, this.ws.agent(agentId), input));
    return { plan: (ctx) => planCheckpoint(ctx, agentId, full), by: agentId };
  }
}
