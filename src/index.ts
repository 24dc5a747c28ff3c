/** The library entry: `import { openWorkspace } from 'dreamos'`. */

export type { FileChange } from '../agents/platform/task-git.js';
export { ROLES } from '../agents/roles.js';
export type { RecoveryNotice, StateBackend, StateView } from '../state/backend.js';
export {
  type Alert,
  CODE_STAGES,
  type CodeBounce,
  type CodeStage,
  type Priority,
  STATUSES,
  type Status,
  type Task,
  type TaskCode,
} from '../state/schemas.js';
export { type AgentConfig, Config, type Driver, type Policies } from './config.js';
export { type DoctorReport, doctor } from './doctor.js';
export { DreamError, ExitCode } from './errors.js';
export type { CodeBrief, DreamEvent, EventType, TaskBrief } from './events.js';
export { type NotifierRun, type NotifierRunOptions, startNotifiers } from './notify/runner.js';
export { type EventSource, type Notifier, type NotifyContext, RetryLater } from './notify/types.js';
export { loadPlugins, type PluginReport, type RunningPlugins, startPlugins } from './plugins/index.js';
export {
  type DreamPlugin,
  type DriverOptionsSchema,
  defineDriver,
  definePlugin,
  type PluginCallContext,
  type PluginDriver,
  type PluginDriverContext,
  type PluginDriverResult,
  type PluginSource,
  type SourceItem,
} from './plugins/types.js';
export {
  cleanWorktrees,
  type MergeOutcome,
  type MergeOutcomeKind,
  type MergeRunOptions,
  type MergeStatus,
  mergeStatus,
  type PruneResult,
  type ReviewItem,
  reviewApprove,
  reviewDiff,
  reviewList,
  reviewReject,
  runMergeQueue,
  type TaskDiff,
  type WorktreeInfo,
  worktreeList,
  worktreePrune,
} from './review/index.js';
export {
  type ConnectOptions,
  connectSession,
  DEFAULT_DETACH_KEY,
  DETACH_RESET,
  type DetachKey,
  findDetachKey,
  openSession,
  parseDetachKey,
  type ScreenSnapshot,
  type SessionClient,
  type SessionEvent,
  type SessionInfo,
  type SessionMode,
  type SessionStream,
  SessionUnavailable,
  sessionSocketPath,
  TerminalFilter,
  typeLine,
} from './sessions.js';
export type { TaskInput } from './task-input.js';
export {
  type AddOptions,
  type AddOutcome,
  findWorkspace,
  initWorkspace,
  type OpenOptions,
  openWorkspace,
  type TaskFilter,
  Workspace,
} from './workspace.js';
