/**
 * `dreamos doctor [--repair]`: the state backend checks what it stores (for the JSON store: every
 * file against its schema and the journal, duplicates, tasks in two stores, stale locks; see
 * state/json-check.ts); doctor adds config.json, expired leases, leftover tmux servers of sessions
 * and the drivers. With repair, fix what can be fixed and say what was done. Nothing is ever
 * deleted: broken files go to quarantine/ (a leftover tmux server is stopped).
 */
import { stopTmux } from '../agents/sessions/tmux.js';
import type { HealthProblem } from '../state/backend.js';
import { DreamError } from '../state/errors.js';
import { type WorkspacePaths, workspacePaths } from '../state/paths.js';
import { CorruptFileError, quarantineFile, ValidatedJsonFile } from '../state/store.js';
import { Config, isBuiltIn } from './config.js';
import { checkDrivers, type DriverCheck, type PluginKinds } from './driver-setup.js';
import { leftoverTmux } from './orchestrator/leftovers.js';
import { worktreeList, worktreePrune } from './review/worktrees.js';
import { findWorkspace, type OpenOptions, openWorkspace, type Workspace } from './workspace.js';
import { backendNameOf, backendOf } from './workspace-home.js';

export type DoctorProblem = HealthProblem;

export interface DoctorReport {
  ok: boolean;
  home: string;
  seq: number;
  tasks: number;
  problems: DoctorProblem[];
  repaired: string[];
  /** Can each enabled agent's driver work here? Informational: it does not make the workspace unwell. */
  drivers: DriverCheck[];
}

function checkConfig(
  paths: WorkspacePaths,
  problems: DoctorProblem[],
  repaired: string[],
  repair: boolean,
  lastGood: unknown,
): void {
  try {
    new ValidatedJsonFile(paths.config, Config).readSync();
  } catch (error) {
    if (!(error instanceof CorruptFileError)) throw error;
    const problem: DoctorProblem = { code: 'config', message: error.message, path: paths.config };
    problems.push(problem);
    const restored = Config.safeParse(lastGood);
    if (repair && restored.success) {
      const moved = quarantineFile(paths.config, paths);
      new ValidatedJsonFile(paths.config, Config).writeSync(restored.data);
      problem.repaired = true;
      repaired.push(`config.json restored from the journal; the broken file is ${moved}`);
    }
  }
}

/**
 * The driver kinds the workspace's plugins provide, when an enabled agent uses a kind that is not
 * built in: the plugins are loaded as a start loads them (their code runs), and nothing else.
 */
async function pluginKinds(ws: Awaited<ReturnType<typeof openWorkspace>>): Promise<PluginKinds | undefined> {
  if (ws.config.agents.every((a) => !a.enabled || isBuiltIn(a.driver))) return undefined;
  const { loadPlugins } = await import('./plugins/load.js');
  const { reports } = await loadPlugins(ws);
  const from = new Map<string, string>();
  for (const r of reports)
    if (r.state === 'on') for (const kind of r.drivers) from.set(kind, `plugin ${r.name}`);
  const refused = reports.filter((r) => r.state !== 'on').length;
  return (kind) => {
    const plugin = from.get(kind);
    if (plugin) return { ok: true, from: plugin };
    const why = `no loaded plugin provides the driver kind ${kind}, so the agent does not run`;
    return {
      ok: false,
      why: refused ? `${why} (${refused} plugin(s) not loaded: dreamos plugin list)` : why,
    };
  };
}

/** Worktrees no task, merge or agent needs; repair removes those Dream.OS made. */
async function checkWorktrees(
  ws: Workspace,
  problems: DoctorProblem[],
  repaired: string[],
  repair: boolean,
): Promise<void> {
  const leftovers = worktreeList(ws, { sizes: false }).filter((w) => w.leftover);
  if (leftovers.length === 0) return;
  const pruned = repair ? new Set((await worktreePrune(ws)).removed.map((w) => w.path)) : new Set<string>();
  for (const w of leftovers) {
    problems.push({
      code: 'leftover-worktree',
      message: `worktree ${w.path} is left over: ${w.why ?? 'nothing needs it'} (\`dreamos worktree prune\` removes it)`,
      path: w.path,
      ...(w.kind === 'task' ? { task: w.owner } : {}),
      ...(pruned.has(w.path) ? { repaired: true } : {}),
    });
  }
  if (pruned.size > 0) repaired.push(`removed ${pruned.size} leftover worktree(s)`);
}

export async function doctor(options: OpenOptions & { repair?: boolean } = {}): Promise<DoctorReport> {
  const repair = options.repair ?? false;
  const home = findWorkspace(options);
  const paths = workspacePaths(home);
  const problems: DoctorProblem[] = [];
  const repaired: string[] = [];

  // What the backend checks before the state is opened, and the configuration the state last recorded.
  const backend = backendOf(paths, backendNameOf(paths));
  const before = await backend.inspect(paths, { repair });
  problems.push(...before.problems);
  repaired.push(...before.repaired);
  checkConfig(paths, problems, repaired, repair, before.config);

  let ws: Awaited<ReturnType<typeof openWorkspace>>;
  try {
    ws = await openWorkspace({ ...options, home });
  } catch (error) {
    // The state does not open because it is damaged in a way found before opening: that is the report.
    const found = before.problems.some((p) => !p.repaired);
    if (!found || !(error instanceof DreamError) || error.code !== 'E_CORRUPT') throw error;
    return { ok: false, home, seq: 0, tasks: 0, problems, repaired, drivers: [] };
  }
  let reopen = false;
  try {
    // The stored state against itself: recovery on open, damage, the files and the history.
    const health = await ws.db.check({ repair });
    problems.push(...health.problems);
    repaired.push(...health.repaired);
    reopen = health.reopen;

    const now = new Date();
    const expired = [...ws.view.inStore('working')].filter(
      (t) => t.lease && Date.parse(t.lease.expiresAt) <= now.getTime(),
    );
    for (const task of expired) {
      const problem: DoctorProblem = {
        code: 'expired-lease',
        message: `${task.id} is working but the lease of ${task.lease?.owner} expired at ${task.lease?.expiresAt}`,
        task: task.id,
      };
      problems.push(problem);
      if (repair) problem.repaired = true;
    }
    if (repair && expired.length > 0) {
      const changed = await ws.sweep();
      repaired.push(`returned ${changed.length} task(s) with expired leases to ready`);
    }
    await checkWorktrees(ws, problems, repaired, repair);
    // A session's tmux server that runs no working task of its agent: stopped by --repair.
    for (const { agent, socket, pid } of leftoverTmux(ws)) {
      problems.push({
        code: 'leftover-session',
        message: `the tmux server ${pid} of ${agent}'s session (${socket}) runs no task of the agent`,
        path: socket,
        ...(repair ? { repaired: true } : {}),
      });
      if (repair) {
        stopTmux(socket);
        repaired.push(`stopped the tmux server ${pid} left by ${agent}`);
      }
    }
    const drivers = await checkDrivers(ws.config.agents, process.env, await pluginKinds(ws));
    const report: DoctorReport = {
      // Problems that recovery already handled on open are reported but do not make the workspace unwell.
      ok: problems.every((p) => p.code === 'recovered' || (repair && p.repaired === true)),
      home,
      seq: ws.view.seq,
      tasks: [...ws.view.tasks()].length,
      problems,
      repaired,
      drivers,
    };
    return report;
  } finally {
    await ws.close();
    if (reopen) {
      const rebuilt = await openWorkspace({ ...options, home });
      await rebuilt.close();
    }
  }
}
