/**
 * The library entry's core: find or create a workspace and run every operation through one state
 * backend. The CLI, the console and library users call these methods; nothing else touches state.
 */
import fs from 'node:fs';
import { join, resolve } from 'node:path';
import { defaultAgents } from '../agents/roles.js';
import type {
  BatchItem,
  Change,
  History,
  Plan,
  RecoveryNotice,
  StateBackend,
  StateView,
  WriterStatus,
} from '../state/backend.js';
import { backendFactory, backendFromEnv, DEFAULT_BACKEND } from '../state/backends.js';
import type { LockHolder } from '../state/lock/index.js';
import { commonFolders, WORKSPACE_DIR, type WorkspacePaths, workspacePaths } from '../state/paths.js';
import { privateDir } from '../state/safe-files.js';
import {
  type AgentState,
  type Alert,
  byId,
  type Checkpoint,
  type DIRECTIVES,
  type Mail,
  STATUSES,
  type Status,
  type Task,
} from '../state/schemas.js';
import { writeFileDurable } from '../state/store.js';
import { type BoardSummary, filterTasks, summarise, type TaskFilter } from './board-queries.js';
import { planRetryFromCheckpoint } from './checkpoints.js';
import {
  type AgentConfig,
  Config,
  configJsonSchema,
  OPERATOR,
  OUTSIDE_SOURCES,
  type OutsideSource,
} from './config.js';
import { planAlertStatus } from './drift/plans.js';
import { conflict, DreamError, invalidInput, notFound } from './errors.js';
import {
  type BulkAction,
  type BulkOutcome,
  type CompleteInput,
  type Ctx,
  checkTaskId,
  type EditPatch,
  expireLeases,
  type FailInput,
  planApprove,
  planBulk,
  planCancel,
  planEdit,
  planMove,
  planPriority,
  planPromote,
  planRetry,
  withFollowUps,
} from './lifecycle/index.js';
import {
  defaultAgentState,
  planAckBatch,
  planDirective,
  planMark,
  planSend,
  type SendInput,
} from './mail.js';
import { type CheckpointInput, planCheckpoint } from './orchestrator/plans.js';
import {
  completeArgs,
  failArgs,
  type OpsHost,
  resolveShared,
  type SharedArgsOf,
  type SharedOp,
  sharedChange,
} from './shared-ops.js';
import {
  type AddOutcome,
  type ApprovalAtAdd,
  parseTaskInput,
  planAdd,
  planAddEach,
  type TaskInput,
} from './task-input.js';
import {
  agentFromEnv,
  backendNameOf,
  backendOf,
  digestOfConfig,
  findAgent,
  findWorkspace,
  prepareProject,
  readConfig,
  writeConfig,
} from './workspace-home.js';

export type { BoardSummary, TaskFilter } from './board-queries.js';
export type { BulkAction, BulkOutcome } from './lifecycle/index.js';
export type { AddOutcome } from './task-input.js';

/** How a task is added: see Workspace.addTaskOnce. */
export interface AddOptions {
  /**
   * Whether it waits for approval before it may run. Default: tasks whose source is webhook,
   * discord or scout do. The HTTP API asks it for a token without the tasks:approve scope. Either
   * way policies.approval may approve the source at once (`auto`).
   */
  needsApproval?: boolean;
}
export { findWorkspace } from './workspace-home.js';

export interface OpenOptions {
  /** The folder holding `.dreamos/`, or the `.dreamos/` folder itself. Default: DREAMOS_HOME, then search upwards. */
  home?: string;
  cwd?: string;
  /** Who makes the changes (recorded in history). Default: DREAMOS_AGENT_ID, else "operator". */
  actor?: string;
  lockTimeoutMs?: number;
  snapshotEvery?: number;
  /**
   * Share one writer with the other long-lived processes on this workspace (state/writer/): claim,
   * renew, complete and fail go through whichever of them is the writer, in group-committed batches.
   * Changes are planned with the writer's configuration: it serves only processes that opened the
   * same config.json (compared by digest). Default: on (Linux and macOS; on Windows every process
   * writes for itself). One-shot CLI commands turn it off.
   */
  share?: boolean;
  /**
   * Only read: nothing in the workspace is written, not even recovery (a damaged journal line or a
   * corrupt state file is reported and left for the next command that writes). Implies no sharing.
   */
  readOnly?: boolean;
}

export interface InitOptions {
  dir?: string;
  config?: Partial<Omit<Config, 'state'>> & { state?: Partial<Config['state']> };
  agents?: AgentConfig[];
  /**
   * Where the state is kept: a backend registered in state/backends.ts, recorded in config.json
   * for every later open. Default: the journaled JSON store.
   */
  backend?: string;
}

/**
 * Create `.dreamos/` with the default agents. Refuses to touch an existing workspace. The folder is
 * created when its parent exists (like `mkdir`, never `mkdir -p`); the workspace is private to the
 * user (docs/decisions/init-target-folder.md).
 */
export async function initWorkspace(options: InitOptions = {}): Promise<Workspace> {
  const project = resolve(options.dir ?? process.cwd());
  const home = join(project, WORKSPACE_DIR);
  const paths = workspacePaths(home);
  if (fs.existsSync(paths.config)) {
    throw new DreamError('E_CONFLICT', `a workspace already exists at ${home}`);
  }
  const backend = options.backend ?? backendFromEnv() ?? options.config?.state?.backend ?? DEFAULT_BACKEND;
  const factory = backendFactory(backend);
  const config = Config.parse({
    schemaVersion: 1,
    agents: options.agents ?? defaultAgents(),
    ...options.config,
    state: { ...options.config?.state, backend },
  });
  prepareProject(project);
  // The backend makes the folders of its own state; these are the ones every workspace has.
  for (const dir of [home, ...commonFolders(paths)]) privateDir(dir);
  writeFileDurable(paths.configSchema, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  const db = await factory.create(paths, { op: 'init', by: OPERATOR, config });
  // config.json is written last: its presence is what makes the folder a workspace.
  await writeConfig(paths, config);
  return new Workspace(paths, config, db, OPERATOR);
}

export async function openWorkspace(options: OpenOptions = {}): Promise<Workspace> {
  const home = findWorkspace(options);
  const paths = workspacePaths(home);
  const config = readConfig(paths);
  const actor = options.actor ?? agentFromEnv(config);
  const host: OpsHost = { agent: (id) => findAgent(config, id, 'no agent '), policies: config.policies };
  const db = await backendOf(paths, config.state.backend).open(paths, {
    ...(options.lockTimeoutMs !== undefined ? { lockTimeoutMs: options.lockTimeoutMs } : {}),
    ...(options.snapshotEvery !== undefined ? { snapshotEvery: options.snapshotEvery } : {}),
    ...(options.readOnly ? { readOnly: true } : {}),
    share:
      (options.share ?? true) && !options.readOnly
        ? { config: digestOfConfig(config), resolve: (op, args, by) => resolveShared(host, op, args, by) }
        : null,
  });
  return new Workspace(paths, config, db, actor);
}

export class Workspace {
  constructor(
    readonly paths: WorkspacePaths,
    readonly config: Config,
    readonly db: StateBackend,
    readonly actor: string,
  ) {}

  /** How this process takes part in shared writes: its role and what it has done so far. */
  get writer(): WriterStatus | null {
    return this.db.writer;
  }

  get home(): string {
    return this.paths.home;
  }

  // ------------------------------------------------------------ history

  /** Every change, as entries, oldest first, for what shows or sums it up. */
  get history(): History {
    return this.db.history;
  }

  /** The history of the workspace `options` names, without opening its state (`dreamos log`). */
  static history(options: Pick<OpenOptions, 'home' | 'cwd'> = {}): History {
    const paths = workspacePaths(findWorkspace(options));
    return backendOf(paths, backendNameOf(paths)).history(paths);
  }

  /** What recovery did while opening (quarantined and rebuilt stores, torn journal tails). */
  get notices(): readonly RecoveryNotice[] {
    return this.db.notices;
  }

  /**
   * The state as of this process's last change or refresh. A change another process made for this
   * one (a shared writer) is in it from the next look on.
   */
  get view(): StateView {
    return this.db.view;
  }

  agent(id: string): AgentConfig {
    return findAgent(this.config, id, 'no agent ');
  }

  private run<T>(plan: (ctx: Ctx) => Plan<T>, by = this.actor): Promise<T> {
    return this.db.transact(this.inContext(plan, by));
  }

  /** A lifecycle plan as the state backend runs it: with the clock, who acts, and the policies. */
  private inContext<T>(plan: (ctx: Ctx) => Plan<T>, by: string) {
    return (view: StateView, now: Date) => plan({ view, now, by, policies: this.config.policies });
  }

  // ------------------------------------------------------------ reads

  refresh(): void {
    this.db.refresh();
  }

  /** Refuse a malformed id before anything else (whether it exists is checked where it is used). */
  private checkId(id: string): void {
    checkTaskId(id);
  }

  getTask(id: string): Task {
    this.checkId(id);
    this.refresh();
    const task = this.view.task(id);
    if (!task) throw notFound(`no task ${id}`);
    return task;
  }

  listTasks(filter: TaskFilter = {}): Task[] {
    this.refresh();
    return filterTasks(this.view, filter);
  }

  alerts(status?: Alert['status']): Alert[] {
    this.refresh();
    return [...this.view.alerts()].filter((a) => !status || a.status === status).sort(byId);
  }

  summary(): BoardSummary {
    this.refresh();
    return summarise(this.view, this.config.agents.length);
  }

  /** Who holds the journal lock now, and whether it can let go (read without taking the lock). */
  journalLockHolder(): LockHolder | null {
    return this.db.writeLockHolder();
  }

  // ------------------------------------------------------------ changes

  /**
   * The roles and ids a task may name: those of this host's agents (config.json), and on a board
   * that several hosts share (PostgreSQL), those of the configuration the board records, whose
   * agents other hosts run (docs/postgres.md).
   */
  private roles(view: StateView): Set<string> {
    const agents: { id: unknown; role?: unknown }[] = [...this.config.agents];
    if (this.db.name === 'postgres') agents.push(...recordedAgents(view.config));
    return new Set(agents.flatMap((a) => [a.role, a.id]).filter((n): n is string => typeof n === 'string'));
  }

  /**
   * `by`: who proposes it, when not this process's actor (an agent the orchestrator runs). A task
   * whose dedupe key is taken is not added: the task that has the key is returned (see addTaskOnce).
   */
  async addTask(input: TaskInput, by = this.actor, options: AddOptions = {}): Promise<Task> {
    return (await this.addTaskOnce(input, { ...options, by })).task;
  }

  /**
   * Add a task unless its dedupe key is taken, and say which happened: `created` false returns the
   * task that has the key, unchanged (on the board or from the archive). Work from outside waits
   * for approval as `options.needsApproval` and policies.approval decide.
   */
  async addTaskOnce(
    input: TaskInput,
    options: AddOptions & { by?: string } = {},
  ): Promise<AddOutcome & { task: Task }> {
    const [outcome] = await this.addTasksOnce([input], options);
    if (!outcome!.task)
      throw conflict(
        `dedupe key ${JSON.stringify(input.dedupeKey)} belongs to ${outcome!.id}, which is no longer kept: no task was added`,
      );
    return outcome as AddOutcome & { task: Task };
  }

  /**
   * addTaskOnce for many tasks of one source, in one transaction (a scout's run): one outcome per
   * input, in order.
   */
  async addTasksOnce(
    inputs: readonly TaskInput[],
    options: AddOptions & { by?: string } = {},
  ): Promise<AddOutcome[]> {
    const parsed = inputs.map((input) => parseTaskInput(input));
    if (new Set(parsed.map((p) => p.source)).size > 1)
      throw invalidInput('tasks added together come from one source');
    const approval = parsed[0] ? this.approvalFor(parsed[0].source, options.needsApproval) : undefined;
    const results = await this.run(
      (ctx) => planAddEach(ctx, parsed, this.roles(ctx.view), approval),
      options.by ?? this.actor,
    );
    const made = new Map(results.flatMap((r) => ('task' in r ? [[r.task.id, r.task] as const] : [])));
    const outcomes: AddOutcome[] = [];
    for (const [i, result] of results.entries()) {
      if ('task' in result) outcomes.push({ id: result.task.id, created: true, task: result.task });
      else
        outcomes.push({
          id: result.existing,
          created: false,
          task: made.get(result.existing) ?? (await this.db.dedupedTask(parsed[i]!.dedupeKey!)),
        });
    }
    return outcomes;
  }

  /**
   * How a task from `source` is added: waiting for approval (`pending`), approved by the policy of
   * its source, or neither (the operator's own tools, agents' proposals, which have their own rule).
   */
  private approvalFor(source: Task['source'], needsApproval: boolean | undefined): ApprovalAtAdd | undefined {
    const outside = (OUTSIDE_SOURCES as readonly string[]).includes(source) && source !== 'api';
    if (!(needsApproval ?? outside)) return undefined;
    const policy = (OUTSIDE_SOURCES as readonly string[]).includes(source)
      ? this.config.policies.approval[source as OutsideSource]
      : 'operator';
    return policy === 'auto' ? 'policy' : 'pending';
  }

  /** Let a task from outside run: recorded with who approved it (this process's actor, or `by`). */
  approve(id: string, why?: string, by = this.actor): Promise<Task> {
    this.checkId(id);
    return this.run((ctx) => planApprove(ctx, id, why), by);
  }

  /** Many tasks in one transaction: all are added, or none. */
  async importTasks(inputs: unknown): Promise<Task[]> {
    if (!Array.isArray(inputs)) throw invalidInput('an import is a JSON array of tasks');
    if (inputs.length === 0) throw invalidInput('the import holds no tasks');
    if (inputs.length > 50_000) throw invalidInput('an import holds at most 50,000 tasks');
    const parsed = inputs.map((raw, i) => {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
        throw invalidInput(`task #${i + 1} of the import is not a JSON object`);
      return parseTaskInput({ source: 'import', ...raw }, `task #${i + 1}`);
    });
    return this.run((ctx) => planAdd(ctx, parsed, this.roles(ctx.view)));
  }

  promote(id: string, why?: string): Promise<Task> {
    this.checkId(id);
    return this.run((ctx) => planPromote(ctx, id, why));
  }

  move(id: string, to: string, why?: string): Promise<Task> {
    this.checkId(id);
    if (!STATUSES.includes(to as Status))
      throw invalidInput(`unknown stage ${JSON.stringify(to)} (one of ${STATUSES.join(', ')})`);
    return this.run((ctx) => planMove(ctx, id, to as Status, why));
  }

  /** The best ready task this agent may take, or null. Exactly one of several racing claims wins a task. */
  claim(agentId: string, options: { taskId?: string } = {}): Promise<Task | null> {
    return this.change('claim', { agent: agentId, taskId: options.taskId });
  }

  /** Extend the lease `agentId` holds on task `id`; `leaseToken` names the claim it believes it holds. */
  renew(id: string, agentId: string, leaseToken?: number): Promise<Task> {
    return this.change('renew', {
      id,
      agent: agentId,
      ...(leaseToken !== undefined ? { leaseToken } : {}),
    }) as Promise<Task>;
  }

  complete(id: string, input: CompleteInput = {}): Promise<Task> {
    return this.change('complete', completeArgs(id, input)) as Promise<Task>;
  }

  fail(id: string, input: FailInput): Promise<Task> {
    return this.change('fail', failArgs(id, input)) as Promise<Task>;
  }

  /** A hot change: checked here, then made by the backend (through its shared writer, when it has one). */
  private change<K extends SharedOp>(op: K, args: SharedArgsOf[K]): Promise<Task | null> {
    return this.db.hot({ op, args, actor: this.actor }, sharedChange(this.opsHost, op, args, this.actor));
  }

  /** What the shared operations need of this workspace (src/shared-ops.ts). */
  private get opsHost(): OpsHost {
    return { agent: (id) => this.agent(id), policies: this.config.policies };
  }

  /** With `fromCheckpoint`, the next run starts from the task's last checkpoint, whichever agent takes it. */
  retry(id: string, why?: string, options: { fromCheckpoint?: boolean } = {}): Promise<Task> {
    this.checkId(id);
    if (options.fromCheckpoint)
      return this.run((ctx) => planRetryFromCheckpoint(ctx, id, this.agentIds(), why));
    return this.run((ctx) => planRetry(ctx, id, why));
  }

  cancel(id: string, why?: string): Promise<Task> {
    this.checkId(id);
    return this.run((ctx) => planCancel(ctx, id, why));
  }

  edit(id: string, patch: EditPatch): Promise<Task> {
    this.checkId(id);
    return this.run((ctx) => planEdit(ctx, id, patch));
  }

  /**
   * One action on many tasks, recorded as one change (docs/decisions/bulk-actions-one-change.md):
   * the tasks that cannot take it are in `refused`, with why; the others change together or not at all.
   */
  bulk(ids: readonly string[], action: BulkAction, why?: string): Promise<BulkOutcome> {
    if (ids.length === 0) throw invalidInput('no task to act on');
    for (const id of ids) this.checkId(id);
    if (action.kind === 'move' && !STATUSES.includes(action.to))
      throw invalidInput(`unknown stage ${JSON.stringify(action.to)} (one of ${STATUSES.join(', ')})`);
    return this.run((ctx) => planBulk(ctx, ids, action, why));
  }

  bumpPriority(id: string, delta: -1 | 1): Promise<Task> {
    this.checkId(id);
    return this.run((ctx) => planPriority(ctx, id, delta));
  }

  /** Return tasks with expired leases to ready (counted as stalls). Returns the tasks changed. */
  sweep(): Promise<Task[]> {
    return this.run((ctx) => {
      const expired = expireLeases(ctx);
      return { change: expired.length ? withFollowUps(ctx, 'expire', expired) : null, result: expired };
    });
  }

  // ------------------------------------------------------------ agents and mail

  private agentIds(): string[] {
    return this.config.agents.map((a) => a.id);
  }

  /** The runtime state of every configured agent (idle until an orchestrator has run it). */
  agentStates(): AgentState[] {
    this.refresh();
    const now = new Date();
    return this.config.agents.map((a) => this.view.agentState(a.id) ?? defaultAgentState(a.id, now));
  }

  /** pause | resume | restart | reset-context | cancel, as directive mail (pause/resume also set the state). */
  directAgent(agentId: string, directive: (typeof DIRECTIVES)[number], why?: string) {
    this.agent(agentId);
    return this.run((ctx) => planDirective(ctx, this.agentIds(), agentId, directive, why));
  }

  /** `from`: the sender, when not this process's actor (an agent the orchestrator runs). */
  sendMail(input: SendInput, from = this.actor): Promise<Mail[]> {
    if (typeof input.body !== 'string') throw invalidInput('a message needs a body');
    return this.run((ctx) => planSend(ctx, this.agentIds(), input), from);
  }

  /** A mailbox, oldest first; unacknowledged only unless `all`. */
  mailbox(id: string, options: { all?: boolean } = {}): Mail[] {
    if (id !== OPERATOR) this.agent(id);
    this.refresh();
    return this.view.mailbox(id).filter((m) => options.all || !m.ackedAt);
  }

  markMail(mailbox: string, ids: string[], mark: 'read' | 'ack'): Promise<Mail[]> {
    if (mailbox !== OPERATOR) this.agent(mailbox);
    return this.run((ctx) => planMark(ctx, mailbox, ids, mark));
  }

  /** Acknowledge every message of a mailbox but directives, in bounded batches. Returns how many. */
  async ackAll(mailbox: string): Promise<number> {
    if (mailbox !== OPERATOR) this.agent(mailbox);
    let count = 0;
    for (;;) {
      const batch = await this.run((ctx) => planAckBatch(ctx, mailbox));
      if (batch.length === 0) return count;
      count += batch.length;
    }
  }

  /** An agent's checkpoints, oldest first (the operator's are the hand-overs of `task retry --from-checkpoint`). */
  checkpoints(agentId: string): Checkpoint[] {
    if (agentId !== OPERATOR) this.agent(agentId);
    this.refresh();
    return [...this.view.checkpoints(agentId)];
  }

  /** Acknowledge or resolve an alert. */
  setAlertStatus(id: string, to: 'acknowledged' | 'resolved', why?: string): Promise<Alert> {
    return this.run((ctx) => planAlertStatus(ctx, id, to, why));
  }

  /** Record an agent's checkpoint, made by that agent; returns it as recorded. */
  saveCheckpoint(agentId: string, checkpoint: CheckpointInput): Promise<Checkpoint> {
    return this.run((ctx) => planCheckpoint(ctx, agentId, checkpoint), agentId);
  }

  /** Apply a change planned elsewhere (doctor, the orchestrator): run the plan in one transaction. */
  apply<T>(plan: (ctx: Ctx) => { change: Change | null; result: T }, by?: string): Promise<T> {
    return this.run(plan, by);
  }

  /**
   * Two plans in one transaction, the second made on the state the first left: one write where two
   * follow each other anyway (an agent's checkpoint and its state as a run starts or ends). Each
   * settles alone: one that throws fails, and the other is still recorded.
   */
  async applyTogether<A, B>(first: Applied<A>, second: Applied<B>): Promise<[A, B]> {
    const items: BatchItem[] = [];
    const settled = [first, second].map(
      (applied) =>
        new Promise<unknown>((resolve, reject) =>
          items.push({
            plan: this.inContext(applied.plan as (ctx: Ctx) => Plan<unknown>, applied.by ?? this.actor),
            settle: (outcome) => (outcome.ok ? resolve(outcome.value) : reject(outcome.error)),
          }),
        ),
    );
    await this.db.transactBatch(() => items);
    const [a, b] = await Promise.all(settled);
    return [a as A, b as B];
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

/** A plan for applyTogether, and who makes it (the workspace's actor when not said). */
export interface Applied<T> {
  plan: (ctx: Ctx) => Plan<T>;
  by?: string;
}

/** The agents of a configuration as the journal recorded it (its shape is not checked there). */
function recordedAgents(config: unknown): { id: unknown; role?: unknown }[] {
  const agents = (config as { agents?: unknown } | null | undefined)?.agents;
  return Array.isArray(agents)
    ? agents.filter((a): a is { id: unknown; role?: unknown } => typeof a === 'object' && a !== null)
    : [];
}
