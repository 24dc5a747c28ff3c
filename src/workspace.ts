/**
 * The library entry's core: find or create a workspace and run every operation through one state
 * backend. The CLI and (later) the console call these methods; nothing else touches state.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Low } from 'lowdb';
import * as z from 'zod';
import { defaultAgents } from '../agents/roles.js';
import {
  type Change,
  JournalDb,
  type Plan,
  type RecoveryNotice,
  type StateBackend,
  type StateView,
} from '../state/db.js';
import { type LockHolder, lockHolder } from '../state/lock.js';
import {
  STORES,
  type StoreName,
  WORKSPACE_DIR,
  type WorkspacePaths,
  workspaceFolders,
  workspacePaths,
} from '../state/paths.js';
import {
  type AgentState,
  type Alert,
  byId,
  type Checkpoint,
  type DIRECTIVES,
  ERROR_CODE_RE,
  type Mail,
  STATUSES,
  type Status,
  storeOf,
  Task,
} from '../state/schemas.js';
import { REQUIRED_KINDS } from '../state/snapshots.js';
import { CorruptFileError, ValidatedJsonFile, writeFileDurable } from '../state/store.js';
import { type SharedChange, SharedWrites } from '../state/writer/index.js';
import { planRetryFromCheckpoint } from './checkpoints.js';
import { type AgentConfig, Config, configJsonSchema, OPERATOR } from './config.js';
import { DreamError, invalidInput, notFound } from './errors.js';
import {
  type CompleteInput,
  type Ctx,
  checkTaskId,
  type EditPatch,
  expireLeases,
  type FailInput,
  planCancel,
  planClaim,
  planComplete,
  planEdit,
  planFail,
  planMove,
  planPriority,
  planPromote,
  planRenew,
  planRetry,
  withFollowUps,
} from './lifecycle.js';
import {
  defaultAgentState,
  planAckBatch,
  planDirective,
  planMark,
  planSend,
  type SendInput,
} from './mail.js';
import { parseTaskInput, planAdd, type TaskInput } from './task-input.js';
import { checkTrusted } from './trust.js';

export interface OpenOptions {
  /** The folder holding `.dreamos/`, or the `.dreamos/` folder itself. Default: DREAMOS_HOME, then search upwards. */
  home?: string;
  cwd?: string;
  /** Who makes the changes (recorded in history). Default: DREAMOS_AGENT_ID, else "operator". */
  actor?: string;
  lockTimeoutMs?: number;
  snapshotEvery?: number;
  /**
   * Share one writer with the other long-lived processes on this workspace (state/writer.ts): claim,
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

/**
 * `home` may name the project folder or its `.dreamos`; returns the `.dreamos` path. A folder is a
 * workspace itself only when it has the workspace's own files: a project's config.json is not one.
 */
function normaliseHome(home: string): string {
  const abs = resolve(home);
  if (abs.endsWith(`/${WORKSPACE_DIR}`) || isWorkspace(abs)) return abs;
  const inside = join(abs, WORKSPACE_DIR);
  if (!fs.existsSync(join(inside, 'config.json')) && fs.existsSync(join(abs, 'config.json'))) {
    throw new DreamError(
      'E_NO_WORKSPACE',
      `${abs} is not a Dream.OS workspace (its config.json is not one, and it has no ${WORKSPACE_DIR}/); pass the folder that holds ${WORKSPACE_DIR}/, or run \`dreamos init\` there`,
    );
  }
  return inside;
}

/** A workspace folder has its config.json and its journal/. */
function isWorkspace(dir: string): boolean {
  return fs.existsSync(join(dir, 'config.json')) && fs.existsSync(join(dir, 'journal'));
}

/**
 * The workspace named by --home or DREAMOS_HOME, else the nearest `.dreamos/` upwards from the current
 * folder, like git. The search stops at the user's home folder and where the file system changes, and
 * a workspace found either way must be the user's own (src/trust.ts). Returns the resolved path, the
 * only one to use from then on.
 */
export function findWorkspace(options: Pick<OpenOptions, 'home' | 'cwd'> = {}): string {
  const explicit = options.home ?? process.env.DREAMOS_HOME;
  if (explicit) {
    const home = normaliseHome(explicit);
    if (!fs.existsSync(join(home, 'config.json'))) {
      throw new DreamError('E_NO_WORKSPACE', `no Dream.OS workspace at ${home} (run \`dreamos init\` there)`);
    }
    return checkTrusted(home);
  }
  const userHome = realOrSelf(os.homedir());
  let dir = resolve(options.cwd ?? process.cwd());
  const device = fs.statSync(dir).dev;
  for (;;) {
    const candidate = join(dir, WORKSPACE_DIR);
    if (fs.existsSync(join(candidate, 'config.json'))) {
      return checkTrusted(candidate);
    }
    const parent = dirname(dir);
    if (parent === dir || realOrSelf(dir) === userHome || fs.statSync(parent).dev !== device) {
      throw new DreamError(
        'E_NO_WORKSPACE',
        `no Dream.OS workspace here or in any parent folder up to ${dir} (run \`dreamos init\`, or pass --home)`,
      );
    }
    dir = parent;
  }
}

function realOrSelf(path: string): string {
  try {
    return fs.realpathSync(path);
  } catch {
    return path;
  }
}

export interface InitOptions {
  dir?: string;
  config?: Partial<Config>;
  agents?: AgentConfig[];
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
  const config = Config.parse({
    schemaVersion: 1,
    agents: options.agents ?? defaultAgents(),
    ...options.config,
  });
  prepareProject(project);
  for (const dir of [home, ...workspaceFolders(paths)]) {
    privateDir(dir);
  }
  writeFileDurable(paths.configSchema, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  const db = await JournalDb.open(paths);
  await db.transact(() => ({ change: { op: 'init', by: OPERATOR, config }, result: undefined }));
  for (const kind of REQUIRED_KINDS) db.markDirty(kind);
  await db.flush();
  // config.json is written last: its presence is what makes the folder a workspace.
  await writeConfig(paths, config);
  return new Workspace(paths, config, db, OPERATOR);
}

/** The folder a workspace goes in: an existing folder, or a new one whose parent exists. */
function prepareProject(project: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(project);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw cannotCreate(project, error);
    const parent = dirname(project);
    if (!fs.existsSync(parent)) {
      throw notFound(
        `cannot create ${project}: its parent folder ${parent} does not exist (create it first: mkdir -p ${project})`,
      );
    }
    try {
      fs.mkdirSync(project);
    } catch (mkdirError) {
      throw cannotCreate(project, mkdirError);
    }
    return;
  }
  if (!st.isDirectory()) throw invalidInput(`cannot create a workspace in ${project}: it is not a folder`);
}

/**
 * One folder of the workspace, mode 700 whatever the umask. Never `recursive`: Node's recursive mkdir
 * retries for ever where the kernel refuses with ENOENT (in /proc, say), deaf to signals.
 */
function privateDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    const exists = (error as NodeJS.ErrnoException).code === 'EEXIST' && fs.lstatSync(dir).isDirectory();
    if (!exists) throw cannotCreate(dir, error);
  }
  fs.chmodSync(dir, 0o700);
}

function cannotCreate(path: string, error: unknown): DreamError {
  const { code, message } = error as NodeJS.ErrnoException;
  const why =
    code === 'EACCES' || code === 'EPERM'
      ? 'permission denied'
      : code === 'EROFS'
        ? 'the file system is read-only'
        : code === 'ENOENT'
          ? 'this file system does not allow new folders here'
          : code === 'ENOTDIR'
            ? 'a part of the path is not a folder'
            : (message ?? String(error));
  return new DreamError('E_IO', `cannot create ${path}: ${why}${code ? ` (${code})` : ''}`);
}

async function writeConfig(paths: WorkspacePaths, config: Config): Promise<void> {
  const low = new Low(new ValidatedJsonFile(paths.config, Config), config);
  low.data = config;
  await low.write();
}

function readConfig(paths: WorkspacePaths): Config {
  try {
    const config = new ValidatedJsonFile(paths.config, Config).readSync();
    if (!config) throw new DreamError('E_NO_WORKSPACE', `no config.json in ${paths.home}`);
    return config;
  } catch (error) {
    if (error instanceof CorruptFileError) {
      throw new DreamError(
        'E_CORRUPT',
        `${error.message}. Fix the file, or run \`dreamos doctor --repair\` to restore the last valid config`,
      );
    }
    throw error;
  }
}

export async function openWorkspace(options: OpenOptions = {}): Promise<Workspace> {
  const home = findWorkspace(options);
  const paths = workspacePaths(home);
  const config = readConfig(paths);
  const actor = options.actor ?? agentFromEnv(config);
  const db = await JournalDb.open(paths, {
    ...(options.lockTimeoutMs !== undefined ? { lockTimeoutMs: options.lockTimeoutMs } : {}),
    ...(options.snapshotEvery !== undefined ? { snapshotEvery: options.snapshotEvery } : {}),
    ...(options.readOnly ? { readOnly: true } : {}),
  });
  const share = (options.share ?? true) && !options.readOnly && process.platform !== 'win32';
  return new Workspace(paths, config, db, actor, share);
}

/** A shared writer makes changes only for processes that read the same configuration. */
function digestOfConfig(config: Config): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 32);
}

/** DREAMOS_AGENT_ID (set for driven programs) names who makes the changes: it must be a known agent. */
function agentFromEnv(config: Config): string {
  const id = process.env.DREAMOS_AGENT_ID;
  if (!id || id === OPERATOR) return OPERATOR;
  return findAgent(config, id, 'DREAMOS_AGENT_ID names no agent: ').id;
}

/** The configured agent `id`, or a not-found error that lists the known ones. */
function findAgent(config: Config, id: string, missing: string): AgentConfig {
  const agent = config.agents.find((a) => a.id === id);
  if (!agent)
    throw notFound(
      `${missing}${JSON.stringify(id).slice(0, 60)} (known: ${config.agents.map((a) => a.id).join(', ')})`,
    );
  return agent;
}

export interface TaskFilter {
  status?: Status | Status[];
  store?: StoreName;
  agent?: string;
  tag?: string;
  limit?: number;
}

export interface BoardSummary {
  seq: number;
  counts: Record<Status, number>;
  stores: Record<StoreName, number>;
  working: Array<Pick<Task, 'id' | 'title' | 'agent' | 'lease'>>;
  openAlerts: number;
  agents: number;
}

/** The arguments of the changes a shared writer makes, as they travel between processes. */
const Usage = z.strictObject({
  inputTokens: z.number(),
  outputTokens: z.number(),
  usd: z.number().optional(),
});
const CompleteFields = {
  agent: z.string().max(64).optional(),
  summary: z.string().optional(),
  exitCode: z.number().nullable().optional(),
  usage: Usage.optional(),
  log: z.string().optional(),
};
const SharedArgs = {
  claim: z.strictObject({ agent: z.string().max(64), taskId: z.string().max(20).optional() }),
  renew: z.strictObject({ id: z.string().max(20), agent: z.string().max(64) }),
  complete: z.strictObject({ id: z.string().max(20), input: z.strictObject(CompleteFields) }),
  fail: z.strictObject({
    id: z.string().max(20),
    input: z.strictObject({
      ...CompleteFields,
      reason: z.string(),
      errorCode: z.string().optional(),
      final: z.boolean().optional(),
    }),
  }),
};
type SharedOp = keyof typeof SharedArgs;
type SharedArgsOf = { [K in SharedOp]: z.infer<(typeof SharedArgs)[K]> };
const TaskOrNull = Task.nullable();

/** Only the fields a change uses travel (callers may hand over richer objects). */
function pick<T extends object>(input: T, keys: readonly (keyof T)[]): Partial<T> {
  const out: Partial<T> = {};
  for (const key of keys) if (input[key] !== undefined) out[key] = input[key];
  return out;
}
const COMPLETE_KEYS = ['agent', 'summary', 'exitCode', 'usage', 'log'] as const;
const FAIL_KEYS = [...COMPLETE_KEYS, 'reason', 'errorCode', 'final'] as const;

export class Workspace {
  /** The shared writer (state/writer.ts), unless this process writes only for itself. */
  private readonly writes: SharedWrites | null;

  constructor(
    readonly paths: WorkspacePaths,
    readonly config: Config,
    readonly db: StateBackend & JournalDb,
    readonly actor: string,
    share = false,
  ) {
    this.writes = share
      ? new SharedWrites({
          address: paths.writerSocket,
          electionLock: paths.writerLock,
          workspace: fs.realpathSync(paths.home),
          db,
          config: digestOfConfig(config),
          resolve: (op, args, actor) => this.shareable(op, args, actor),
          timeoutMs: db.lockTimeoutMs,
        })
      : null;
  }

  /** How this process takes part in the shared writer: its role and what it has done so far. */
  get writer(): { role: 'writer' | 'client' | 'none'; stats: SharedWrites['stats'] } | null {
    return this.writes ? { role: this.writes.role, stats: this.writes.stats } : null;
  }

  get home(): string {
    return this.paths.home;
  }

  /** What recovery did while opening (quarantined and rebuilt stores, torn journal tails). */
  get notices(): readonly RecoveryNotice[] {
    return this.db.notices;
  }

  /**
   * The state as of this process's last change or refresh. A change another process made for this
   * one (the shared writer) is not in it yet: the next look reads it from the journal first.
   */
  get view(): StateView {
    if (this.behind) {
      this.behind = false;
      this.db.refresh();
    }
    return this.db.view;
  }

  /** A shared writer in another process made a change for this one since the view was last read. */
  private behind = false;

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
    this.behind = false;
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
    const statuses =
      filter.status === undefined
        ? undefined
        : Array.isArray(filter.status)
          ? filter.status
          : [filter.status];
    for (const s of statuses ?? [])
      if (!STATUSES.includes(s))
        throw invalidInput(`unknown status ${JSON.stringify(s)} (one of ${STATUSES.join(', ')})`);
    const stores = statuses ? [...new Set(statuses.map(storeOf))] : filter.store ? [filter.store] : STORES;
    const out: Task[] = [];
    for (const store of stores) {
      for (const task of this.view.inStore(store)) {
        if (statuses && !statuses.includes(task.status)) continue;
        if (filter.agent && task.agent !== filter.agent) continue;
        if (filter.tag && !task.tags.includes(filter.tag)) continue;
        out.push(task);
      }
    }
    out.sort(byId);
    return filter.limit ? out.slice(0, filter.limit) : out;
  }

  alerts(status?: Alert['status']): Alert[] {
    this.refresh();
    return [...this.view.alerts()].filter((a) => !status || a.status === status).sort(byId);
  }

  summary(): BoardSummary {
    this.refresh();
    const counts = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<Status, number>;
    for (const store of STORES) for (const t of this.view.inStore(store)) counts[t.status] += 1;
    return {
      seq: this.view.seq,
      counts,
      stores: Object.fromEntries(STORES.map((s) => [s, this.view.storeSize(s)])) as Record<StoreName, number>,
      working: [...this.view.inStore('working')].map(({ id, title, agent, lease }) => ({
        id,
        title,
        agent,
        lease,
      })),
      openAlerts: [...this.view.alerts()].filter((a) => a.status === 'open').length,
      agents: this.config.agents.length,
    };
  }

  /** Who holds the journal lock now, and whether it can let go (read without taking the lock). */
  journalLockHolder(): LockHolder | null {
    return lockHolder(this.paths.journalLock);
  }

  // ------------------------------------------------------------ changes

  private roles(): Set<string> {
    return new Set(this.config.agents.flatMap((a) => [a.role, a.id]));
  }

  /** `by`: who proposes it, when not this process's actor (an agent the orchestrator runs). */
  async addTask(input: TaskInput, by = this.actor): Promise<Task> {
    const parsed = parseTaskInput(input);
    const [task] = await this.run((ctx) => planAdd(ctx, [parsed], this.roles()), by);
    return task!;
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
    return this.run((ctx) => planAdd(ctx, parsed, this.roles()));
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

  renew(id: string, agentId: string): Promise<Task> {
    return this.change('renew', { id, agent: agentId }) as Promise<Task>;
  }

  complete(id: string, input: CompleteInput = {}): Promise<Task> {
    return this.change('complete', { id, input: pick(input, COMPLETE_KEYS) }) as Promise<Task>;
  }

  fail(id: string, input: FailInput): Promise<Task> {
    return this.change('fail', { id, input: pick(input, FAIL_KEYS) as FailInput }) as Promise<Task>;
  }

  /** A hot change: checked here, then made through the shared writer when there is one. */
  private async change<K extends SharedOp>(op: K, args: SharedArgsOf[K]): Promise<Task | null> {
    const local = this.shared[op](args, this.actor);
    if (!this.writes) return this.db.transact(local.plan);
    const result = await this.writes.run(op, args, this.actor, local);
    if (this.writes.role !== 'writer') this.behind = true;
    return result;
  }

  /** In the writer: a request from another process, whose arguments are parsed before anything else. */
  private shareable(op: string, raw: unknown, actor: string): SharedChange<Task | null> {
    if (!Object.hasOwn(SharedArgs, op)) throw invalidInput(`not a change the shared writer makes: ${op}`);
    const parsed = SharedArgs[op as SharedOp].safeParse(raw);
    if (!parsed.success) throw invalidInput(`bad arguments for ${op}: ${parsed.error.issues[0]?.message}`);
    return this.shared[op as SharedOp](parsed.data as never, actor);
  }

  /**
   * The changes a shared writer makes for other processes: each checked the same way in the asking
   * process and again in the writer, then planned like any other change.
   */
  private readonly shared: {
    [K in SharedOp]: (args: SharedArgsOf[K], actor: string) => SharedChange<Task | null>;
  } = {
    claim: ({ agent: agentId, taskId }) => {
      const agent = this.agent(agentId);
      if (taskId !== undefined) this.checkId(taskId);
      return this.sharedChange(agentId, (ctx) => planClaim(ctx, agent, taskId));
    },
    renew: ({ id, agent }) => {
      this.agent(agent);
      this.checkId(id);
      return this.sharedChange(agent, (ctx) => planRenew(ctx, id, agent));
    },
    complete: ({ id, input }, actor) => {
      if (input.agent !== undefined) this.agent(input.agent);
      this.checkId(id);
      return this.sharedChange(input.agent ?? actor, (ctx) => planComplete(ctx, id, input));
    },
    fail: ({ id, input }, actor) => {
      if (input.agent !== undefined) this.agent(input.agent);
      if (!input.reason?.trim()) throw invalidInput('a failure needs a reason');
      if (input.errorCode !== undefined && !ERROR_CODE_RE.test(input.errorCode)) {
        throw invalidInput(
          `not an error code: ${JSON.stringify(input.errorCode).slice(0, 60)} (codes look like E_TESTS)`,
        );
      }
      this.checkId(id);
      return this.sharedChange(input.agent ?? actor, (ctx) => planFail(ctx, id, input));
    },
  };

  private sharedChange(by: string, plan: (ctx: Ctx) => Plan<Task | null>): SharedChange<Task | null> {
    return { plan: this.inContext(plan, by), check: (value) => TaskOrNull.parse(value) };
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

  /** Record a change planned elsewhere (doctor, the orchestrator). */
  record<T>(plan: (ctx: Ctx) => { change: Change | null; result: T }, by?: string): Promise<T> {
    return this.run(plan, by);
  }

  async close(): Promise<void> {
    await this.writes?.close();
    await this.db.close();
  }
}
