/**
 * The one small interface every driver implements (docs/drivers.md): start a task, stream what it does,
 * stop it on request, and report how it ended. The orchestrator's loop does everything else
 * (claiming, leases, journaling the result).
 */
import type { Checkpoint, FailureCode, Mail, NEEDS_INPUT_KINDS, Task } from '../../state/schemas.js';
import type { Driver } from './config.js';

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  /** Absent when the cost is unknown (a model without a price): never a made-up 0. */
  usd?: number;
}

export interface DriverOutcome {
  ok: boolean;
  summary?: string;
  exitCode?: number | null;
  /** What went wrong, in one line. */
  error?: string;
  /**
   * Typed failure: E_EXIT (non-zero exit), E_TIMEOUT, E_CANCELLED, E_CRASH (killed by a signal), E_SPAWN,
   * E_HTTP, E_LLM, E_STALLED, E_FAILED (the agent itself reported failure: llm fail_task, a sim failure).
   */
  errorCode?: FailureCode;
  usage?: Usage;
  /** The failure is not worth another attempt (E_BUDGET: it would be over its budget again). */
  final?: boolean;
}

/** Board work an llm agent (or any driver) may do while running a task. */
export interface DriverTools {
  addSubtask(input: {
    title: string;
    prompt?: string;
    run?: string;
    role?: string;
    priority?: string;
  }): Promise<{ id: string; status?: string }>;
  sendMessage(to: string, body: string): Promise<void>;
}

/** What a driver knows of its agent: the rest of the agent's configuration is the orchestrator's. */
export interface DriverAgent {
  id: string;
  /** The agent's role prompt (llm agents put it before the task). */
  systemPrompt: string;
}

export interface DriverContext {
  task: Task;
  agent: DriverAgent;
  /** The `.dreamos` folder. */
  home: string;
  /** The agent's working folder (the workspace's parent folder unless the driver sets `cwd`). */
  cwd: string;
  /**
   * The task's own checkout (a code task's worktree, or the merge queue's tree for a gate): the
   * driver runs there, at the place of `cwd` inside the repository `repo`.
   */
  worktree?: { tree: string; repo: string };
  /** Where output goes: logs/<agent>/<task>.log (the driver's supervisor caps its size). */
  logPath: string;
  /** The last checkpoint of this agent for this task, when resuming. */
  checkpoint: Checkpoint | null;
  /** Unacknowledged messages for this agent (context for llm agents). */
  mailbox: readonly Mail[];
  /** Seconds this attempt may take (task.timeout), or undefined. */
  timeoutSeconds?: number;
  /** Extra environment for driven programs. */
  env: Record<string, string>;
  /** Variables holding secrets (every llm agent's `apiKeyEnv`): kept from driven programs. */
  secretEnv?: readonly string[];
  /** Every output line, already stripped of the trailing newline (not of control sequences). */
  onLine(line: string, stream: 'stdout' | 'stderr'): void;
  onProgress(progress: number): void;
  onCheckpoint(checkpoint: {
    step?: string;
    progress?: number;
    summary?: string;
    sessionId?: string;
    data?: Record<string, unknown>;
  }): void;
  /**
   * The program waits for the operator (what it asks), or no longer does (null). Drivers that run
   * interactive programs call it (`pty`); the others never do.
   */
  onNeedsInput?(waiting: NeedsInput | null): void;
  /** The driven process started (for honest status: pid and process group are recorded). */
  onSpawn(child: { pid: number; pgid: number }): void;
  tools: DriverTools;
}

/** What an interactive program waits for: the kind, and the lines of its screen that show it. */
export interface NeedsInput {
  kind: (typeof NEEDS_INPUT_KINDS)[number];
  text: string;
}

export interface DriverRun {
  /** Settles when the work has ended and every process of it is gone. Never rejects. */
  readonly done: Promise<DriverOutcome>;
  /** Stop the work: SIGTERM to the whole process group, SIGKILL after a grace period. */
  stop(reason: 'cancel' | 'timeout' | 'shutdown' | 'restart'): Promise<void>;
}

export interface AgentDriver {
  readonly kind: Driver['kind'];
  /** True when this driver can work on the task (a shell driver needs `run`, others a prompt or title). */
  accepts(task: Task): boolean;
  start(context: DriverContext): DriverRun;
  /**
   * Take over the program a dead orchestrator's run of this task left running (a `pty` driver's
   * tmux backend): null when there is none to take over.
   */
  adopt?(context: DriverContext): DriverRun | null;
}
