/**
 * `dreamos task log ID [--follow]`: a task's captured output, cleaned of terminal control sequences;
 * with --follow, new output as it is written, until the task ends (or ctrl-c); a task that nobody
 * can take is refused rather than waited on.
 */
import { DreamError, notFound } from '../errors.js';
import { isTerminal } from '../lifecycle/index.js';
import { pausedIn, whyNobodyTakes } from '../orchestrator/takers.js';
import { emit, say } from '../output.js';
import { cleanLogLine, readLines, shownPath, type TaskLog, taskLogs } from '../task-logs.js';
import type { Workspace } from '../workspace.js';

const POLL_MS = 200;

function noLog(ws: Workspace, id: string): DreamError {
  const task = ws.getTask(id);
  const why = isTerminal(task.status)
    ? `it is ${task.status} and no agent wrote output for it`
    : `it is ${task.status}; no agent has run it yet (\`--follow\` waits for it)`;
  return notFound(`${task.id} has no log yet: ${why}`);
}

const cleaned = (lines: readonly string[]) =>
  lines.map((l) => cleanLogLine(l)).filter((l): l is string => l !== null);

export async function printTaskLog(ws: Workspace, id: string, o: { follow: boolean; json: boolean }) {
  const task = ws.getTask(id);
  const logs = taskLogs(ws.paths.logsDir, task);
  if (!o.follow) {
    if (!logs.length) throw noLog(ws, task.id);
    const read = logs.map((log) => ({
      agent: log.agent,
      path: shownPath(ws.home, log.path),
      lines: cleaned(readLines(log.path, 0, true).lines),
    }));
    emit(o, { task: task.id, status: task.status, logs: read }, () =>
      read
        .map((log) => (read.length > 1 ? [`==> ${log.path} <==`, ...log.lines] : log.lines).join('\n'))
        .join('\n'),
    );
    return;
  }
  if (!logs.length && isTerminal(task.status)) throw noLog(ws, task.id);
  // Waiting is for work that is merely queued: a task nobody can take would be waited on for ever.
  const nobody =
    task.status === 'ready' || task.status === 'backlog'
      ? whyNobodyTakes(task, ws.config.agents, pausedIn(ws.view))
      : null;
  if (nobody) {
    throw notFound(
      `${task.id} will not start: it is ${task.status} and nobody can take it: ${nobody.text}; ${nobody.action}`,
    );
  }
  await follow(ws, task.id, o.json);
}

async function follow(ws: Workspace, id: string, json: boolean): Promise<void> {
  const offsets = new Map<string, number>();
  let last: string | null = null;
  let many = false;
  const print = (log: TaskLog, lines: readonly string[]) => {
    const path = shownPath(ws.home, log.path);
    for (const line of cleaned(lines)) {
      if (json) process.stdout.write(`${JSON.stringify({ agent: log.agent, path, line })}\n`);
      else {
        if (many && last !== log.path) process.stdout.write(`==> ${path} <==\n`);
        process.stdout.write(`${line}\n`);
      }
      last = log.path;
    }
  };
  const drain = (final: boolean) => {
    const logs = taskLogs(ws.paths.logsDir, { id });
    many ||= logs.length > 1;
    for (const log of logs) {
      const read = readLines(log.path, offsets.get(log.path) ?? 0, final);
      offsets.set(log.path, read.offset);
      print(log, read.lines);
    }
  };
  const status = () => {
    try {
      return ws.getTask(id).status;
    } catch (error) {
      if (error instanceof DreamError && error.code === 'E_NOT_FOUND') return 'done';
      throw error;
    }
  };
  const first = status();
  say(
    taskLogs(ws.paths.logsDir, { id }).length
      ? `following ${id} until it ends (ctrl-c to stop)`
      : `waiting for ${id} to start (it is ${first}; ctrl-c to stop)`,
  );
  let stopped = false;
  const stop = () => {
    stopped = true;
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    for (;;) {
      // The status first: output written before the task ended is read after it.
      const ended = isTerminal(status());
      drain(ended || stopped);
      if (ended || stopped) break;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  if (!stopped) say(`${id} ended ${status()}`);
}
