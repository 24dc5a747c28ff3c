/**
 * The task lifecycle as pure planners: each takes the current state and returns the change to record
 * (whole new task states) and a result. They run inside a transaction, so what they read is fresh and
 * what they return is journaled atomically. No I/O here.
 *
 * The planners live in src/lifecycle/, one concern per file: the shared context and transition
 * (context.ts), dependencies and the follow-ups of a change (follow-ups.ts), claiming and leases
 * (claim.ts), completing and failing with retry backoff (finish.ts), and the operator's moves and
 * edits (operator.ts).
 */

export { type BulkAction, type BulkOutcome, planBulk } from './bulk.js';
export {
  expireLeases,
  globsOverlap,
  type Holder,
  leaseExpired,
  leaseFor,
  mayTake,
  nextLeaseToken,
  pickTask,
  planClaim,
  planRenew,
  renewedLease,
  resourcesBusy,
} from './claim.js';
export { type Ctx, checkTaskId, isTerminal, taskIdOf, transition } from './context.js';
export {
  backoffSeconds,
  type CompleteInput,
  type FailInput,
  planComplete,
  planFail,
} from './finish.js';
export {
  archivable,
  assertNoCycle,
  depsDone,
  promoteDependents,
  withFollowUps,
} from './follow-ups.js';
export {
  awaitsApproval,
  type EditPatch,
  planApprove,
  planCancel,
  planEdit,
  planMove,
  planPriority,
  planPromote,
  planRetry,
} from './operator.js';
export {
  branchOf,
  codeAfterAttempt,
  planBounce,
  planCodeOpen,
  planMerged,
  planMergeStep,
  planReviewApprove,
} from './review.js';
