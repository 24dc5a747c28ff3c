/**
 * What review and the merge queue ask of the operator: a task waiting for a reviewer, and a task
 * the queue sent back to ready because its branch conflicts with the base or its gate failed.
 */
import type { StateView } from '../../state/backend.js';
import type { Alert, Task } from '../../state/schemas.js';
import type { AttentionReason } from '../attention.js';
import { oneLine } from '../sanitize.js';

export interface ReviewAttention {
  task: Task;
  reason: AttentionReason;
  severity: Alert['severity'];
  text: string;
  action: string;
}

export function reviewAttention(view: StateView): ReviewAttention[] {
  const out: ReviewAttention[] = [];
  for (const task of view.inStore('working')) {
    if (task.status !== 'review' || task.code?.stage !== 'waiting') continue;
    out.push({
      task,
      reason: 'waiting-review',
      severity: 'info',
      text: `${task.title}: waiting for review on ${task.code.branch}`,
      action: `\`dreamos review show ${task.id}\`, then \`dreamos review approve ${task.id}\` or \`dreamos review reject ${task.id} --note TEXT\``,
    });
  }
  for (const task of view.inStore('ready')) {
    const last = task.code?.last;
    if (!last || last.reason === 'rejected') continue;
    const conflictFiles = last.files?.length ? `: ${last.files.slice(0, 5).join(', ')}` : '';
    out.push({
      task,
      reason: last.reason,
      severity: 'warning',
      text:
        last.reason === 'merge-conflict'
          ? `${task.title}: its branch conflicts with ${task.code?.base}${conflictFiles}`
          : `${task.title}: the merge gate failed: ${oneLine(last.text.split('\n').slice(1).join(' ') || last.text, 200)}`,
      action: `an agent takes it again on ${task.code?.branch} with this in its context; \`dreamos task show ${task.id}\` has the details`,
    });
  }
  return out;
}
