/**
 * The in-memory state of a workspace: every object the journal describes, with the indexes the
 * lifecycle needs (tasks per store, ready queues per priority, oldest first). `apply` is the only way
 * it changes; an object is replaced only by a newer revision, so replay is idempotent.
 */
import { STORES, type StoreName } from './paths.js';
import {
  type AgentState,
  type Alert,
  byId,
  type Checkpoint,
  type JournalEntry,
  type Mail,
  PRIORITIES,
  type Priority,
  storeOf,
  type Task,
} from './schemas.js';

export interface Counters {
  task: number;
  alert: number;
  mail: number;
  checkpoint: number;
}
export const ZERO_COUNTERS: Counters = { task: 0, alert: 0, mail: 0, checkpoint: 0 };

/** Checkpoints kept per agent, and acknowledged messages kept per mailbox. */
export const KEEP_CHECKPOINTS = 20;
export const KEEP_ACKED_MAIL = 200;

/** A snapshot file: a board store, alerts.json, agents.json, a mailbox or an agent's checkpoints. */
export type SnapshotKind = StoreName | 'alerts' | 'agents' | `mailbox:${string}` | `checkpoints:${string}`;

export interface StateView {
  readonly seq: number;
  readonly counters: Readonly<Counters>;
  readonly config: unknown;
  task(id: string): Task | undefined;
  tasks(): Iterable<Task>;
  inStore(store: StoreName): Iterable<Task>;
  /** Ready tasks of one priority, oldest first. */
  readyByPriority(priority: Priority): Iterable<Task>;
  storeSize(store: StoreName): number;
  /**
   * The id of the task that has this dedupe key, on the board or archived: a key once used is never
   * used again, whatever became of its task.
   */
  dedupe(key: string): string | undefined;
  alert(id: string): Alert | undefined;
  alerts(): Iterable<Alert>;
  agentState(id: string): AgentState | undefined;
  agentStates(): Iterable<AgentState>;
  /** An agent's (or the operator's) mailbox, oldest first. */
  mailbox(id: string): readonly Mail[];
  mail(id: string): Mail | undefined;
  checkpoints(agentId: string): readonly Checkpoint[];
}

/** An agent's checkpoint list with `checkpoint` in it (replacing one of its id): the newest KEEP_CHECKPOINTS. */
const withCheckpoint = (list: readonly Checkpoint[], checkpoint: Checkpoint): Checkpoint[] =>
  [...list.filter((c) => c.id !== checkpoint.id), checkpoint].sort(byId).slice(-KEEP_CHECKPOINTS);

/** Each counter at the higher of the two: counters never go back. */
const maxCounters = (current: Readonly<Counters>, seen: Partial<Counters>): Counters => ({
  task: Math.max(current.task, seen.task ?? 0),
  alert: Math.max(current.alert, seen.alert ?? 0),
  mail: Math.max(current.mail, seen.mail ?? 0),
  checkpoint: Math.max(current.checkpoint, seen.checkpoint ?? 0),
});

const readySince = (task: Task) => task.history[task.history.length - 1]?.at ?? task.updatedAt;

export class StateIndex implements StateView {
  seq = 0;
  counters: Counters = { ...ZERO_COUNTERS };
  config: unknown = undefined;
  readonly dirty = new Set<SnapshotKind>();
  /** Tasks removed by archive entries and not yet written to archive/ (entry seq → tasks). */
  readonly archivedPending = new Map<number, Task[]>();
  private readonly byId = new Map<string, Task>();
  private readonly stores = Object.fromEntries(STORES.map((s) => [s, new Map<string, Task>()])) as Record<
    StoreName,
    Map<string, Task>
  >;
  private readonly readyQueues = Object.fromEntries(
    PRIORITIES.map((p) => [p, new Map<string, Task>()]),
  ) as Record<Priority, Map<string, Task>>;
  /** Dedupe key → task id, for every task ever seen: archiving a task leaves its key here. */
  private readonly byDedupeKey = new Map<string, string>();
  /** Archived task id → the archive entry's seq (where the JSON store wrote it), for keyed tasks. */
  readonly archivedKeyed = new Map<string, number>();
  private readonly alertsById = new Map<string, Alert>();
  private readonly agentsById = new Map<string, AgentState>();
  private readonly mailById = new Map<string, Mail>();
  private readonly mailboxes = new Map<string, Mail[]>();
  private readonly checkpointsByAgent = new Map<string, Checkpoint[]>();

  task(id: string) {
    return this.byId.get(id);
  }
  tasks() {
    return this.byId.values();
  }
  inStore(store: StoreName) {
    return this.stores[store].values();
  }
  readyByPriority(priority: Priority) {
    return this.readyQueues[priority].values();
  }
  storeSize(store: StoreName) {
    return this.stores[store].size;
  }
  dedupe(key: string) {
    return this.byDedupeKey.get(key);
  }
  /** A keyed task known only from the archive (loaded on open): its key stays taken. */
  rememberArchived(key: string, id: string, seq: number): void {
    if (!this.byDedupeKey.has(key)) this.byDedupeKey.set(key, id);
    if (!this.byId.has(id)) this.archivedKeyed.set(id, seq);
  }
  alert(id: string) {
    return this.alertsById.get(id);
  }
  alerts() {
    return this.alertsById.values();
  }
  agentState(id: string) {
    return this.agentsById.get(id);
  }
  agentStates() {
    return this.agentsById.values();
  }
  mailbox(id: string): readonly Mail[] {
    return this.mailboxes.get(id) ?? [];
  }
  mail(id: string) {
    return this.mailById.get(id);
  }
  checkpoints(agentId: string): readonly Checkpoint[] {
    return this.checkpointsByAgent.get(agentId) ?? [];
  }
  mailboxIds(): string[] {
    return [...this.mailboxes.keys()];
  }
  checkpointAgentIds(): string[] {
    return [...this.checkpointsByAgent.keys()];
  }

  private removeTask(task: Task): void {
    const store = storeOf(task.status);
    this.stores[store].delete(task.id);
    if (task.status === 'ready') this.readyQueues[task.priority].delete(task.id);
    this.byId.delete(task.id);
    this.dirty.add(store);
  }

  putTask(task: Task): void {
    const current = this.byId.get(task.id);
    if (current && current.rev >= task.rev) return;
    if (current) this.removeTask(current);
    const store = storeOf(task.status);
    this.byId.set(task.id, task);
    if (task.dedupeKey !== undefined && !this.byDedupeKey.has(task.dedupeKey))
      this.byDedupeKey.set(task.dedupeKey, task.id);
    this.stores[store].set(task.id, task);
    if (task.status === 'ready') this.readyQueues[task.priority].set(task.id, task);
    this.dirty.add(store);
  }

  archive(id: string, seq: number): void {
    const current = this.byId.get(id);
    if (!current || current.rev >= seq) return;
    this.removeTask(current);
    if (current.dedupeKey !== undefined) this.archivedKeyed.set(id, seq);
    const pending = this.archivedPending.get(seq) ?? [];
    pending.push(current);
    this.archivedPending.set(seq, pending);
  }

  putAlert(alert: Alert): void {
    const current = this.alertsById.get(alert.id);
    if (current && current.rev >= alert.rev) return;
    this.alertsById.set(alert.id, alert);
    this.dirty.add('alerts');
  }

  putAgent(agent: AgentState): void {
    const current = this.agentsById.get(agent.id);
    if (current && current.rev >= agent.rev) return;
    this.agentsById.set(agent.id, agent);
    this.dirty.add('agents');
  }

  putMail(mail: Mail): void {
    const current = this.mailById.get(mail.id);
    if (current && current.rev >= mail.rev) return;
    const box = this.mailboxes.get(mail.to) ?? [];
    const at = current ? box.findIndex((m) => m.id === mail.id) : -1;
    if (at >= 0) box[at] = mail;
    else box.push(mail);
    this.mailById.set(mail.id, mail);
    // Retention: acknowledged messages beyond the newest KEEP_ACKED_MAIL leave the mailbox.
    const acked = box.filter((m) => m.ackedAt);
    if (acked.length > KEEP_ACKED_MAIL) {
      const drop = new Set(acked.slice(0, acked.length - KEEP_ACKED_MAIL).map((m) => m.id));
      for (const id of drop) this.mailById.delete(id);
      this.mailboxes.set(
        mail.to,
        box.filter((m) => !drop.has(m.id)),
      );
    } else {
      this.mailboxes.set(mail.to, box);
    }
    this.dirty.add(`mailbox:${mail.to}`);
  }

  putCheckpoint(checkpoint: Checkpoint): void {
    const list = this.checkpointsByAgent.get(checkpoint.agent) ?? [];
    if (list.some((c) => c.id === checkpoint.id && c.rev >= checkpoint.rev)) return;
    this.checkpointsByAgent.set(checkpoint.agent, withCheckpoint(list, checkpoint));
    this.dirty.add(`checkpoints:${checkpoint.agent}`);
  }

  mergeCounters(counters: Partial<Counters>): void {
    this.counters = maxCounters(this.counters, counters);
  }

  apply(entry: JournalEntry): void {
    for (const { task } of entry.tasks ?? []) this.putTask(task);
    for (const id of entry.archived ?? []) this.archive(id, entry.seq);
    for (const alert of entry.alerts ?? []) this.putAlert(alert);
    for (const agent of entry.agents ?? []) this.putAgent(agent);
    for (const mail of entry.mail ?? []) this.putMail(mail);
    for (const checkpoint of entry.checkpoints ?? []) this.putCheckpoint(checkpoint);
    if (entry.config !== undefined) this.config = entry.config;
    this.mergeCounters(entry.counters);
    this.seq = Math.max(this.seq, entry.seq);
  }

  /** After loading snapshots in any order: ready queues oldest first. */
  sortReadyQueues(): void {
    for (const p of PRIORITIES) {
      const queue = this.readyQueues[p];
      // Timestamps are toISOString() output and ids are fixed-width: plain string order is time
      // order. Keys are computed once, and a queue loaded in order (the usual case) is left as it is.
      const keyed = [...queue.values()].map((task) => ({ task, key: `${readySince(task)} ${task.id}` }));
      if (keyed.every((k, i) => i === 0 || keyed[i - 1]!.key <= k.key)) continue;
      keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      queue.clear();
      for (const { task } of keyed) queue.set(task.id, task);
    }
  }

  /** The items a snapshot file of this kind holds. */
  itemsOf(kind: SnapshotKind): unknown[] {
    if (kind === 'alerts') return [...this.alertsById.values()];
    if (kind === 'agents') return [...this.agentsById.values()];
    if (kind.startsWith('mailbox:')) return [...this.mailbox(kind.slice(8))];
    if (kind.startsWith('checkpoints:')) return [...this.checkpoints(kind.slice(12))];
    return [...this.stores[kind as StoreName].values()];
  }
}

/** Whether a view with `entry` (or the change it records) pending can show what it makes (PendingView). */
export const pendable = (entry: {
  archived?: readonly unknown[];
  mail?: readonly unknown[];
  config?: unknown;
}): boolean => !entry.archived?.length && !entry.mail?.length && entry.config === undefined;

/**
 * `base` with some of its reads answered by `own` (read anew each time), every other read by `base`:
 * the state with something shown on top of it or hidden, without copying it.
 */
export function viewWith(base: StateView, own: Partial<StateView>): StateView {
  return new Proxy(base, {
    get(target, key) {
      if (key in own) return Reflect.get(own, key);
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * The state with entries that change tasks, agents, alerts and checkpoints (see `pendable`) applied
 * on top, without applying them to the state: what a change planned after them sees (`view`), before
 * they are recorded (a batch of changes planned one on another). Objects appear where
 * `StateIndex.apply` would leave them: a task put anew after every other of its store (and of its
 * ready queue), an agent or alert replaced in place or added at the end, an agent's checkpoints kept
 * to the newest KEEP_CHECKPOINTS.
 */
export class PendingView {
  /** The tasks the pending entries put, in the order they last put each. */
  private readonly tasksById = new Map<string, Task>();
  /** Dedupe keys the pending entries' tasks took first (a key, once taken, stays its first task's). */
  private readonly dedupeKeys = new Map<string, string>();
  private readonly agentsById = new Map<string, AgentState>();
  private readonly alertsById = new Map<string, Alert>();
  private readonly checkpointsByAgent = new Map<string, Checkpoint[]>();
  /** What the view answers itself: the number and counters the pending entries reached, and what they changed. */
  private readonly shown: { seq: number; counters: Readonly<Counters> } & Partial<StateView>;
  readonly view: StateView;

  constructor(base: StateView) {
    const newer = this.tasksById;
    this.shown = {
      seq: base.seq,
      counters: base.counters,
      task: (id) => newer.get(id) ?? base.task(id),
      tasks: () => putLast(base.tasks(), newer, () => true),
      inStore: (store) => putLast(base.inStore(store), newer, (task) => storeOf(task.status) === store),
      readyByPriority: (priority) =>
        putLast(
          base.readyByPriority(priority),
          newer,
          (task) => task.status === 'ready' && task.priority === priority,
        ),
      storeSize: (store) => {
        let size = base.storeSize(store);
        for (const task of newer.values()) {
          const before = base.task(task.id);
          if (before && storeOf(before.status) === store) size -= 1;
          if (storeOf(task.status) === store) size += 1;
        }
        return size;
      },
      dedupe: (key) => base.dedupe(key) ?? this.dedupeKeys.get(key),
      alert: (id) => this.alertsById.get(id) ?? base.alert(id),
      alerts: () => overlaid(base.alerts(), this.alertsById),
      agentState: (id) => this.agentsById.get(id) ?? base.agentState(id),
      agentStates: () => overlaid(base.agentStates(), this.agentsById),
      checkpoints: (agentId) => this.checkpointsByAgent.get(agentId) ?? base.checkpoints(agentId),
    };
    this.view = viewWith(base, this.shown);
  }

  /** `entry` shown on top; throws for one that is not `pendable`. */
  add(entry: JournalEntry): void {
    if (!pendable(entry)) throw new Error('archives, mail and configuration cannot be pending');
    for (const { task } of entry.tasks ?? []) {
      // As putTask: only a newer revision replaces what is shown.
      const current = this.view.task(task.id);
      if (current && current.rev >= task.rev) continue;
      this.tasksById.delete(task.id);
      this.tasksById.set(task.id, task);
      if (task.dedupeKey !== undefined && !this.dedupeKeys.has(task.dedupeKey))
        this.dedupeKeys.set(task.dedupeKey, task.id);
    }
    for (const agent of entry.agents ?? []) this.agentsById.set(agent.id, agent);
    for (const alert of entry.alerts ?? []) this.alertsById.set(alert.id, alert);
    for (const checkpoint of entry.checkpoints ?? [])
      this.checkpointsByAgent.set(
        checkpoint.agent,
        withCheckpoint(this.view.checkpoints(checkpoint.agent), checkpoint),
      );
    this.shown.counters = maxCounters(this.shown.counters, entry.counters);
    this.shown.seq = Math.max(this.shown.seq, entry.seq);
  }
}

/** `items` without those `newer` puts again, then those of `newer` that belong (`belongs`), as put. */
function* putLast(
  items: Iterable<Task>,
  newer: ReadonlyMap<string, Task>,
  belongs: (task: Task) => boolean,
): Generator<Task> {
  for (const item of items) if (!newer.has(item.id)) yield item;
  for (const item of newer.values()) if (belongs(item)) yield item;
}

/** `items` with those in `newer` put in their place, and the new ones after. */
function overlaid<T extends { id: string }>(items: Iterable<T>, newer: ReadonlyMap<string, T>): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const item of items) {
    seen.add(item.id);
    out.push(newer.get(item.id) ?? item);
  }
  for (const [id, item] of newer) if (!seen.has(id)) out.push(item);
  return out;
}
