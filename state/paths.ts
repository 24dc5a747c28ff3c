import { dirname, join, resolve } from 'node:path';
import { DreamError } from './errors.js';

/** The four lifecycle stores, with the board file names of the original design. */
export const STORES = ['backlog', 'ready', 'working', 'completed'] as const;
export type StoreName = (typeof STORES)[number];

const boardFile: Record<StoreName, string> = {
  backlog: 'task_backlog.json',
  ready: 'task_ready_queue.json',
  working: 'working_tasks.json',
  completed: 'completed_tasks.json',
};

export const WORKSPACE_DIR = '.dreamos';

/** Agent ids and task ids become file names: they are checked against this before any path is built. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Can `name` (an agent or task id) be part of a file name? */
export const isSafeName = (name: string): boolean => SAFE_NAME.test(name) && !name.includes('..');

function safe(name: string): string {
  if (!isSafeName(name)) {
    throw new DreamError(
      'E_INVALID_INPUT',
      `unsafe file name component: ${JSON.stringify(name).slice(0, 80)}`,
    );
  }
  return name;
}

/** The folder holding `.dreamos`: relative `cwd` settings are resolved against it. */
export function workspaceRoot(home: string): string {
  return dirname(resolve(home));
}

/** The one place that defines every path of a workspace. `home` is the `.dreamos` folder itself. */
export function workspacePaths(home: string) {
  return {
    home,
    config: join(home, 'config.json'),
    configSchema: join(home, 'config.schema.json'),
    boardsDir: join(home, 'boards'),
    board: (store: StoreName) => join(home, 'boards', boardFile[store]),
    boardFileName: (store: StoreName) => boardFile[store],
    archiveDir: join(home, 'archive'),
    archiveFile: (seq: number) => join(home, 'archive', `completed-${String(seq).padStart(10, '0')}.jsonl`),
    /** The dedupe keys of the keyed tasks in archiveFile(seq), so that opening need not read the archive. */
    archiveKeysFile: (seq: number) =>
      join(home, 'archive', `completed-${String(seq).padStart(10, '0')}.keys.json`),
    journalDir: join(home, 'journal'),
    journalSegment: (n: number) => join(home, 'journal', `${String(n).padStart(6, '0')}.jsonl`),
    mailboxesDir: join(home, 'mailboxes'),
    mailbox: (agentId: string) => join(home, 'mailboxes', `${safe(agentId)}.json`),
    checkpointsDir: join(home, 'checkpoints'),
    checkpoint: (agentId: string) => join(home, 'checkpoints', `${safe(agentId)}.json`),
    alerts: join(home, 'alerts.json'),
    /** Agent runtime state (status, heartbeat, the process running it). */
    agents: join(home, 'agents.json'),
    logsDir: join(home, 'logs'),
    log: (agentId: string, taskId: string) => join(home, 'logs', safe(agentId), `${safe(taskId)}.log`),
    quarantineDir: join(home, 'quarantine'),
    locksDir: join(home, 'locks'),
    /** Guards appends to the journal: every state change in the workspace. */
    journalLock: join(home, 'locks', 'journal'),
    /** Guards the snapshot files (boards, alerts) and quarantine moves. */
    snapshotLock: join(home, 'locks', 'snapshot'),
    /** The shared writer's socket (state/writer/), and the lock its election is held under. */
    writerSocket: join(home, 'locks', 'writer.sock'),
    writerLock: join(home, 'locks', 'writer'),
    /** Outbound webhooks: the subscriptions with their outbox, and the delivery log. */
    webhooksDir: join(home, 'webhooks'),
    /** Secrets Dream.OS must use in the clear (webhook signing keys), one file of mode 600 each. */
    secretsDir: join(home, 'secrets'),
  };
}
export type WorkspacePaths = ReturnType<typeof workspacePaths>;

/** The folders of the journaled JSON store, below `home`: created by its backend (state/json-backend.ts). */
export const jsonStoreFolders = (paths: WorkspacePaths): string[] => [
  paths.boardsDir,
  paths.journalDir,
  paths.mailboxesDir,
  paths.checkpointsDir,
  paths.quarantineDir,
  paths.archiveDir,
  paths.locksDir,
];

/** The folders every workspace has, whatever keeps its state: created by init. */
export const commonFolders = (paths: WorkspacePaths): string[] => [paths.logsDir];

/** The workspace's own folders, below `home`: checked before every use. */
export const workspaceFolders = (paths: WorkspacePaths): string[] => [
  ...jsonStoreFolders(paths),
  ...commonFolders(paths),
  paths.webhooksDir,
  paths.secretsDir,
];

export const SEGMENT_RE = /^(\d{6})\.jsonl$/;
