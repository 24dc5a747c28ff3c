/**
 * What opening and writing the state do about damage they find: snapshot files that cannot be
 * trusted are quarantined (or, in a process that only reads, reported and left for repair),
 * damaged journal lines are copied to quarantine/, and each finding becomes a notice for the user
 * and an alert recorded with the next write.
 */
import fs from 'node:fs';
import type { Change, StateView } from './db.js';
import type { JournalDamage } from './journal.js';
import { acquireLock } from './lock/index.js';
import type { WorkspacePaths } from './paths.js';
import { type Alert, idOf } from './schemas.js';
import { REQUIRED_KINDS, readSnapshot, type Snapshot, snapshotKinds, snapshotPath } from './snapshots.js';
import type { SnapshotKind } from './state-index.js';
import { CorruptFileError, quarantineFile } from './store.js';

/** A notice for the user: something was found wrong and handled (quarantined, rebuilt, repaired). */
export interface RecoveryNotice {
  kind: 'quarantined' | 'rebuilt' | 'torn-tail' | 'journal-damage' | 'missing-store' | 'left-for-repair';
  path: string;
  message: string;
}

/** Who repairs what a process that only reads found. */
const LATER = 'the next command that changes the workspace, or `dreamos doctor --repair`,';

type AlertDraft = Omit<Alert, 'id' | 'rev' | 'count' | 'createdAt' | 'updatedAt' | 'status'>;

const damageKey = (d: JournalDamage) => `journal-damage:${d.segment}:${d.offset}`;

/** What recovery uses of the db (JournalDb gives it these, and nothing else). */
export interface RecoveryContext {
  readonly view: StateView;
  /** Where notices for the user are collected. */
  readonly notices: RecoveryNotice[];
  /** Damaged journal lines found so far. */
  readonly damage: readonly JournalDamage[];
  /** Holding the journal lock: cut an unfinished last line; the path of its copy, or null. */
  repairTornTail(): string | null;
  /** Copy a damaged line to quarantine/; the copy's path. */
  quarantineDamage(damage: JournalDamage): string;
  /** Holding the journal lock: record a change now. */
  commit(change: Change): void;
}

export class Recovery {
  /** Alerts to raise with the next write (what was found when opening or verifying). */
  private pending: AlertDraft[] = [];

  constructor(private readonly db: RecoveryContext) {}

  /** Tell the user about `found`, and alert it with the next write. */
  report(found: readonly RecoveryNotice[]): void {
    this.db.notices.push(...found);
    for (const n of found) this.pending.push(this.alertFor(n));
  }

  /** Damaged journal lines not alerted yet: the next write copies them to quarantine/ and alerts them. */
  unrecordedDamage(): JournalDamage[] {
    const keys = new Set([...this.db.view.alerts()].map((a) => a.key));
    return this.db.damage.filter((d) => !keys.has(damageKey(d)));
  }

  /** In a process that only reads: say which damaged lines are left for the next writer. */
  leaveForRepair(paths: WorkspacePaths): void {
    for (const d of this.unrecordedDamage()) {
      this.db.notices.push({
        kind: 'left-for-repair',
        path: paths.journalSegment(d.segment),
        message: `a damaged journal line (${d.reason}) at segment ${d.segment} offset ${d.offset} was skipped; ${LATER} copies it to quarantine/`,
      });
    }
  }

  /** Inside the journal lock, caught up, before planning: cut a torn tail, record what was found. */
  settle(): void {
    const torn = this.db.repairTornTail();
    if (torn) {
      this.db.notices.push({
        kind: 'torn-tail',
        path: torn,
        message: `an unfinished journal line from a crashed writer was moved to ${torn}`,
      });
    }
    this.record();
  }

  private record(): void {
    if (this.pending.length === 0 && this.db.damage.length === 0) return;
    const view = this.db.view;
    const keys = new Set([...view.alerts()].map((a) => a.key));
    const alerts: Alert[] = [];
    const now = new Date().toISOString();
    let counter = view.counters.alert;
    const raise = (draft: AlertDraft) => {
      if (keys.has(draft.key)) return;
      keys.add(draft.key);
      counter += 1;
      alerts.push({
        ...draft,
        id: idOf('A', counter),
        status: 'open',
        count: 1,
        createdAt: now,
        updatedAt: now,
        rev: 0,
      });
    };
    for (const draft of this.pending) raise(draft);
    this.pending = [];
    for (const d of this.db.damage) {
      const key = damageKey(d);
      if (keys.has(key)) continue;
      const copy = this.db.quarantineDamage(d);
      this.db.notices.push({
        kind: 'journal-damage',
        path: copy,
        message: `a damaged journal line (${d.reason}) was skipped; a copy is in ${copy}`,
      });
      raise({
        kind: 'journal-damage',
        severity: 'critical',
        key,
        subject: `journal segment ${d.segment}`,
        message: `journal line at segment ${d.segment} offset ${d.offset} is damaged (${d.reason}) and was skipped`,
        evidence: { ...d, copy },
        action: 'skipped; a copy is in quarantine/. If it was written by hand, use the CLI instead.',
      });
    }
    if (alerts.length > 0)
      this.db.commit({ op: 'recovery', by: 'dreamos', alerts, counters: { alert: counter } });
  }

  private alertFor(n: RecoveryNotice): AlertDraft {
    return {
      kind: n.kind === 'missing-store' ? 'missing-store' : 'corrupt-state',
      severity: 'critical',
      key: `${n.kind}:${n.path}:${this.db.view.seq}`,
      subject: n.path,
      message: n.message,
      evidence: { path: n.path },
      action: 'quarantined and rebuilt from the journal; inspect quarantine/ and run `dreamos doctor`',
    };
  }
}

/**
 * Opening: the snapshot files that can be trusted, what was found wrong with the others, and
 * whether the journal must be replayed from its start (a snapshot missing or quarantined).
 */
export async function loadSnapshots(
  paths: WorkspacePaths,
  hasJournal: boolean,
  readOnly: boolean,
): Promise<{ loaded: Snapshot[]; notices: RecoveryNotice[]; fullReplay: boolean }> {
  const notices: RecoveryNotice[] = [];
  const loaded: Snapshot[] = [];
  let fullReplay = false;
  for (const kind of snapshotKinds(paths)) {
    const snapshot = await readOrQuarantine(paths, kind, notices, readOnly);
    if (snapshot) {
      loaded.push(snapshot);
      continue;
    }
    const path = snapshotPath(paths, kind);
    if (!REQUIRED_KINDS.includes(kind) && !notices.some((n) => n.path === path)) continue;
    if (hasJournal && !notices.some((n) => n.path === path)) {
      notices.push({
        kind: 'missing-store',
        path,
        message: readOnly
          ? `${path} is missing; shown as rebuilt from the journal (${LATER} writes it again)`
          : `${path} was missing; it is rebuilt from the journal`,
      });
    }
    fullReplay = true;
  }
  return { loaded, notices, fullReplay };
}

/** Read one snapshot; a corrupt one is re-checked under the snapshot lock, then quarantined. */
export async function readOrQuarantine(
  paths: WorkspacePaths,
  kind: SnapshotKind,
  notices: RecoveryNotice[],
  readOnly: boolean,
): Promise<Snapshot | null> {
  try {
    return readSnapshot(paths, kind);
  } catch (error) {
    if (!(error instanceof CorruptFileError)) throw error;
    if (readOnly) {
      notices.push({
        kind: 'left-for-repair',
        path: error.path,
        message: `${error.message}; shown as rebuilt from the journal (${LATER} moves it to quarantine/)`,
      });
      return null;
    }
    // A concurrent snapshot writer may have replaced it with a good file meanwhile.
    const lock = await acquireLock(paths.snapshotLock);
    try {
      try {
        return readSnapshot(paths, kind);
      } catch (again) {
        if (!(again instanceof CorruptFileError)) throw again;
        const path = snapshotPath(paths, kind);
        const moved = fs.existsSync(path) ? quarantineFile(path, paths) : path;
        notices.push({
          kind: 'quarantined',
          path,
          message: `${again.message}; moved to ${moved} and rebuilt from the journal`,
        });
        return null;
      }
    } finally {
      await lock.release();
    }
  }
}
