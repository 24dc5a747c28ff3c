/**
 * One operator action on many tasks, recorded as ONE change (one journal entry): every task is
 * planned by the planner of the single action (retry, cancel, promote, priority, move), each against
 * the state the ones before it left, and the tasks that cannot take the action are reported with
 * the planner's reason instead of stopping the others.
 */
import type { Change, Plan, StateView } from '../../state/backend.js';
import type { StoreName } from '../../state/paths.js';
import { type Priority, type Status, storeOf, type Task } from '../../state/schemas.js';
import { invalidTransition } from '../errors.js';
import type { Ctx } from './context.js';
import { planCancel, planEdit, planMove, planPriority, planPromote, planRetry } from './operator.js';

export type BulkAction =
  | { kind: 'retry' }
  | { kind: 'cancel' }
  | { kind: 'promote' }
  | { kind: 'priority'; to: Priority | 'up' | 'down' }
  | { kind: 'move'; to: Status };

export interface BulkOutcome {
  /** The tasks as recorded (the ones asked for, and those that changed because of them). */
  changed: Task[];
  /** The tasks that could not take the action, with why; nothing was recorded for them. */
  refused: Array<{ id: string; reason: string }>;
}

/** The journal op of a bulk change: the single action's own op, so readers of the journal need nothing new. */
const OPS: Record<BulkAction['kind'], string> = {
  retry: 'retry',
  cancel: 'cancel',
  promote: 'promote',
  priority: 'edit',
  move: 'move',
};

function planOne(ctx: Ctx, id: string, action: BulkAction, why?: string): Plan<Task> {
  switch (action.kind) {
    case 'retry':
      return planRetry(ctx, id, why);
    case 'cancel':
      return planCancel(ctx, id, why);
    case 'promote':
      return planPromote(ctx, id, why);
    case 'move':
      return planMove(ctx, id, action.to, why);
    case 'priority': {
      if (action.to === 'up' || action.to === 'down') {
        const task = ctx.view.task(id);
        const plan = planPriority(ctx, id, action.to === 'up' ? 1 : -1);
        if (task && plan.result.priority === task.priority)
          throw invalidTransition(`${id} is already ${task.priority}`);
        return plan;
      }
      if (ctx.view.task(id)?.priority === action.to) throw invalidTransition(`${id} is already ${action.to}`);
      return planEdit(ctx, id, { priority: action.to });
    }
  }
}

export function planBulk(
  ctx: Ctx,
  ids: readonly string[],
  action: BulkAction,
  why?: string,
): Plan<BulkOutcome> {
  const view = new OverlayView(ctx.view);
  const merged = new Merged();
  const refused: BulkOutcome['refused'] = [];
  for (const id of new Set(ids)) {
    try {
      const { change } = planOne({ ...ctx, view }, id, action, why);
      if (!change) continue;
      view.apply(change);
      merged.add(change);
    } catch (error) {
      refused.push({ id, reason: error instanceof Error ? error.message : String(error) });
    }
  }
  const change = merged.change(OPS[action.kind], ctx.by);
  return { change, result: { changed: change?.tasks ?? [], refused } };
}

type Keyed = { id: string };
const KEYED = ['tasks', 'alerts', 'agents', 'mail', 'checkpoints'] as const;

/** Several changes as one: the last state of each object, archived ids once, counters at their highest. */
class Merged {
  private readonly objects = Object.fromEntries(KEYED.map((k) => [k, new Map<string, Keyed>()])) as Record<
    (typeof KEYED)[number],
    Map<string, Keyed>
  >;
  private readonly archived = new Set<string>();
  private counters: Record<string, number> = {};
  private any = false;

  add(change: Change): void {
    this.any = true;
    for (const key of KEYED)
      for (const item of (change[key] ?? []) as Keyed[]) this.objects[key].set(item.id, item);
    for (const id of change.archived ?? []) {
      this.archived.add(id);
      this.objects.tasks.delete(id);
    }
    for (const [k, v] of Object.entries(change.counters ?? {}))
      this.counters[k] = Math.max(this.counters[k] ?? 0, v as number);
  }

  change(op: string, by: string): Change | null {
    if (!this.any) return null;
    const out: Change = { op, by };
    for (const key of KEYED) {
      const items = [...this.objects[key].values()];
      if (items.length) (out as unknown as Record<string, unknown>)[key] = items;
    }
    if (this.archived.size) out.archived = [...this.archived];
    if (Object.keys(this.counters).length) out.counters = this.counters;
    return out;
  }
}

/**
 * The state as the base view with the changes planned so far applied on top: tasks replaced or
 * archived. What the operator's planners read of anything else (alerts, agents, mail) is the base.
 */
class OverlayView implements StateView {
  private readonly changed = new Map<string, Task>();
  private readonly gone = new Set<string>();
  private readonly sizes = new Map<StoreName, number>();

  constructor(private readonly base: StateView) {}

  apply(change: Change): void {
    for (const task of change.tasks ?? []) {
      const before = this.task(task.id);
      if (before) this.resize(storeOf(before.status), -1);
      this.resize(storeOf(task.status), 1);
      this.changed.set(task.id, task);
      this.gone.delete(task.id);
    }
    for (const id of change.archived ?? []) {
      const before = this.task(id);
      if (before) this.resize(storeOf(before.status), -1);
      this.changed.delete(id);
      this.gone.add(id);
    }
  }

  private resize(store: StoreName, delta: number): void {
    this.sizes.set(store, this.storeSize(store) + delta);
  }

  get seq() {
    return this.base.seq;
  }
  get counters() {
    return this.base.counters;
  }
  get config() {
    return this.base.config;
  }
  task(id: string) {
    if (this.gone.has(id)) return undefined;
    return this.changed.get(id) ?? this.base.task(id);
  }
  *tasks() {
    for (const t of this.base.tasks()) if (!this.changed.has(t.id) && !this.gone.has(t.id)) yield t;
    yield* this.changed.values();
  }
  *inStore(store: StoreName) {
    for (const t of this.base.inStore(store)) if (!this.changed.has(t.id) && !this.gone.has(t.id)) yield t;
    for (const t of this.changed.values()) if (storeOf(t.status) === store) yield t;
  }
  *readyByPriority(priority: Priority) {
    for (const t of this.base.readyByPriority(priority))
      if (!this.changed.has(t.id) && !this.gone.has(t.id)) yield t;
    for (const t of this.changed.values()) if (t.status === 'ready' && t.priority === priority) yield t;
  }
  storeSize(store: StoreName) {
    return this.sizes.get(store) ?? this.base.storeSize(store);
  }
  dedupe(key: string) {
    return this.base.dedupe(key);
  }
  alert(id: string) {
    return this.base.alert(id);
  }
  alerts() {
    return this.base.alerts();
  }
  agentState(id: string) {
    return this.base.agentState(id);
  }
  agentStates() {
    return this.base.agentStates();
  }
  mailbox(id: string) {
    return this.base.mailbox(id);
  }
  mail(id: string) {
    return this.base.mail(id);
  }
  checkpoints(agentId: string) {
    return this.base.checkpoints(agentId);
  }
}
