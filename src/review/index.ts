/**
 * Review and the merge queue (docs/review.md): the library's part, which the CLI and the console
 * use. The planners are in src/lifecycle/review.ts; the git in agents/platform/task-git.ts.
 */
export {
  type ReviewItem,
  reviewApprove,
  reviewDiff,
  reviewItem,
  reviewList,
  reviewReject,
  type TaskDiff,
} from './api.js';
export { type CodeWork, endCodeWork, gatedTask, openCodeWork, worksOnCode } from './code-work.js';
export {
  type MergeOutcome,
  type MergeOutcomeKind,
  type MergeRunOptions,
  type MergeStatus,
  mergeStatus,
  runMergeQueue,
} from './queue.js';
export {
  cleanWorktrees,
  type PruneResult,
  type WorktreeInfo,
  worktreeList,
  worktreePrune,
} from './worktrees.js';
