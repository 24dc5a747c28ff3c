/**
 * Snapshot files: each holds the objects of one kind as of a journal sequence number, with the
 * journal position to replay from and a digest of its content. Board stores keep the shape of the
 * original design (`tasks`), alerts.json holds `alerts`, and agents.json, mailboxes/<id>.json and
 * checkpoints/<id>.json hold `items`.
 */
import fs from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { errnoCode } from './errors.js';
import { isSafeName, STORES, type StoreName, type WorkspacePaths } from './paths.js';
import {
  AgentState,
  AlertsFile,
  BoardFile,
  Checkpoint,
  CollectionFile,
  type JournalPosition,
  Mail,
  SCHEMA_VERSION,
  storeOf,
} from './schemas.js';
import type { Counters, SnapshotKind, StateIndex } from './state-index.js';
import { CorruptFileError, quarantineFile, ValidatedJsonFile } from './store.js';

export const digestOf = (items: unknown[]) => crc32(JSON.stringify(items)).toString(16).padStart(8, '0');

const isStore = (kind: SnapshotKind): kind is StoreName => (STORES as readonly string[]).includes(kind);

export function snapshotPath(paths: WorkspacePaths, kind: SnapshotKind): string {
  if (isStore(kind)) return paths.board(kind);
  if (kind === 'alerts') return paths.alerts;
  if (kind === 'agents') return paths.agents;
  if (kind.startsWith('mailbox:')) return paths.mailbox(kind.slice(8));
  return paths.checkpoint(kind.slice(12));
}

interface Entry {
  id: string;
  /** A file or a link to one: read as state when its name is an agent id. A folder (or a fifo) never is. */
  file: boolean;
}

/** The `<id>.json` entries of a folder of snapshots, by id (whether the id is valid or not). */
function jsonFiles(dir: string): Entry[] {
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.name.endsWith('.json') && !d.name.startsWith('.'))
      .map((d) => ({ id: d.name.slice(0, -5), file: d.isFile() || d.isSymbolicLink() }));
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return []; // no such folder yet: nothing in it
    throw error;
  }
}

export interface StrayFile {
  path: string;
  /** Why no command reads it. */
  why: string;
}

/**
 * Entries in mailboxes/ or checkpoints/ that are never read as state: a name that is no agent id (a
 * sync tool's `agent-3 (1).json`), or a folder with a state file's name. `dreamos doctor` reports
 * them, and moves them to quarantine/ with --repair.
 */
export function strayFiles(paths: WorkspacePaths): StrayFile[] {
  return [paths.mailboxesDir, paths.checkpointsDir].flatMap((dir) =>
    jsonFiles(dir)
      .filter((e) => !e.file || !isSafeName(e.id))
      .map((e) => ({
        path: join(dir, `${e.id}.json`),
        why: e.file
          ? 'is not the file of any agent (its name is no agent id)'
          : 'is a folder (or another non-file), not a state file',
      })),
  );
}

/** Every snapshot kind that exists on disk or always should. */
export function snapshotKinds(paths: WorkspacePaths): SnapshotKind[] {
  const list = (dir: string) =>
    jsonFiles(dir)
      .filter((e) => e.file && isSafeName(e.id))
      .map((e) => e.id);
  return [
    ...STORES,
    'alerts',
    'agents',
    ...list(paths.mailboxesDir).map((id): SnapshotKind => `mailbox:${id}`),
    ...list(paths.checkpointsDir).map((id): SnapshotKind => `checkpoints:${id}`),
  ];
}

/** The kinds every workspace has: their absence means a file was lost. */
export const REQUIRED_KINDS: SnapshotKind[] = [...STORES, 'alerts', 'agents'];

export interface Snapshot {
  kind: SnapshotKind;
  seq: number;
  journal: JournalPosition;
  counters: Partial<Counters>;
  items: unknown[];
}

/** Read and check one snapshot: null when missing; CorruptFileError when it cannot be trusted. */
export function readSnapshot(paths: WorkspacePaths, kind: SnapshotKind): Snapshot | null {
  const path = snapshotPath(paths, kind);
  if (isStore(kind)) {
    const data = new ValidatedJsonFile(path, BoardFile).readSync();
    if (!data) return null;
    if (data.store !== kind) throw new CorruptFileError(path, `it says it is the ${data.store} store`);
    const stray = data.tasks.find((t) => storeOf(t.status) !== kind);
    if (stray) throw new CorruptFileError(path, `it holds ${stray.id}, a ${stray.status} task`);
    if (digestOf(data.tasks) !== data.digest)
      throw new CorruptFileError(path, 'it was changed outside Dream.OS');
    return { kind, seq: data.seq, journal: data.journal, counters: data.counters, items: data.tasks };
  }
  if (kind === 'alerts') {
    const data = new ValidatedJsonFile(path, AlertsFile).readSync();
    if (!data) return null;
    if (digestOf(data.alerts) !== data.digest)
      throw new CorruptFileError(path, 'it was changed outside Dream.OS');
    return { kind, seq: data.seq, journal: data.journal, counters: data.counters, items: data.alerts };
  }
  const data = new ValidatedJsonFile(path, CollectionFile).readSync();
  if (!data) return null;
  if (data.kind !== kind) throw new CorruptFileError(path, `it says it holds ${data.kind}`);
  if (digestOf(data.items) !== data.digest)
    throw new CorruptFileError(path, 'it was changed outside Dream.OS');
  const schema = kind === 'agents' ? AgentState : kind.startsWith('mailbox:') ? Mail : Checkpoint;
  for (const item of data.items) {
    const parsed = schema.safeParse(item);
    if (!parsed.success)
      throw new CorruptFileError(
        path,
        `an item does not match its schema (${parsed.error.issues[0]?.message})`,
      );
  }
  return { kind, seq: data.seq, journal: data.journal, counters: data.counters, items: data.items };
}

/** Put a snapshot's objects into memory (each replaces an older revision only). */
export function loadSnapshot(memory: StateIndex, snapshot: Snapshot): void {
  const { kind, items } = snapshot;
  if (isStore(kind)) for (const t of items as Parameters<StateIndex['putTask']>[0][]) memory.putTask(t);
  else if (kind === 'alerts')
    for (const a of items as Parameters<StateIndex['putAlert']>[0][]) memory.putAlert(a);
  else if (kind === 'agents')
    for (const a of items as Parameters<StateIndex['putAgent']>[0][]) memory.putAgent(a);
  else if (kind.startsWith('mailbox:'))
    for (const m of items as Parameters<StateIndex['putMail']>[0][]) memory.putMail(m);
  else for (const c of items as Parameters<StateIndex['putCheckpoint']>[0][]) memory.putCheckpoint(c);
  memory.mergeCounters(snapshot.counters);
}

function notAFile(path: string): boolean {
  try {
    const st = fs.lstatSync(path);
    return !st.isFile() && !st.isSymbolicLink();
  } catch {
    return false;
  }
}

export function writeSnapshot(
  paths: WorkspacePaths,
  memory: StateIndex,
  kind: SnapshotKind,
  pos: JournalPosition,
): void {
  const items = memory.itemsOf(kind);
  const head = {
    schemaVersion: SCHEMA_VERSION,
    seq: memory.seq,
    journal: pos,
    counters: { ...memory.counters },
  };
  const path = snapshotPath(paths, kind);
  // A folder with the file's name would fail every write (EISDIR): set it aside, never delete it.
  if (notAFile(path)) quarantineFile(path, paths);
  if (isStore(kind)) {
    new ValidatedJsonFile(path, BoardFile).writeSync(
      { ...head, store: kind, digest: '00000000', tasks: items as BoardFile['tasks'] },
      (valid) => ({ ...valid, digest: digestOf(valid.tasks) }),
    );
  } else if (kind === 'alerts') {
    new ValidatedJsonFile(path, AlertsFile).writeSync(
      { ...head, digest: '00000000', alerts: items as AlertsFile['alerts'] },
      (valid) => ({ ...valid, digest: digestOf(valid.alerts) }),
    );
  } else {
    new ValidatedJsonFile(path, CollectionFile).writeSync(
      { ...head, kind, digest: '00000000', items },
      (valid) => ({ ...valid, digest: digestOf(valid.items) }),
    );
  }
}
