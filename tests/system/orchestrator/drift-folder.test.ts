/**
 * Where scope drift looks for changed files: the agent's folder as the checkpoint sees it, in the
 * repository of that folder. A worktree whose creation did not finish (a folder without `.git`) is
 * not the agent's folder, and a GIT_DIR in the environment (as inside a git hook) does not send git
 * to another repository.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { agentFolder } from '../../../agents/platform/git.js';
import { AgentConfig } from '../../../src/config.js';
import { DriftMonitor } from '../../../src/orchestrator/drift-monitor.js';
import { openCodeWork } from '../../../src/review/code-work.js';
import { initWorkspace, type Workspace } from '../../../src/workspace.js';
import { GIT_ID } from '../../helpers/code-repo.js';
import { gitInitWithCommit, tempDir } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
let other: ReturnType<typeof tempDir>;
let ws: Workspace;
const saved = { GIT_DIR: process.env.GIT_DIR, GIT_WORK_TREE: process.env.GIT_WORK_TREE };

const coder = AgentConfig.parse({
  id: 'agent-1',
  name: 'coder',
  role: 'developer',
  driver: { kind: 'command', argv: ['true'], worktree: true },
});

beforeEach(async () => {
  tmp = tempDir('dreamos-drift-folder-');
  other = tempDir('dreamos-other-repo-');
  gitInitWithCommit(tmp.dir);
  gitInitWithCommit(other.dir);
  ws = await initWorkspace({ dir: tmp.dir, agents: [coder] });
  fs.mkdirSync(path.join(tmp.dir, 'src'));
});
afterEach(async () => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await ws.close();
  tmp.cleanup();
  other.cleanup();
});

/** A task of agent-1 limited to src/**, which then writes README.md; the files scope drift reports. */
async function driftedFiles(): Promise<unknown> {
  const task = await ws.addTask({ title: 'edits src', run: 'true', resources: ['src/**'] });
  await ws.claim('agent-1', { taskId: task.id });
  fs.writeFileSync(path.join(tmp.dir, 'src', 'a.ts'), 'ok\n');
  fs.writeFileSync(path.join(tmp.dir, 'README.md'), 'drift\n');
  const monitor = new DriftMonitor(ws, {
    leads: () => true,
    mine: () => new Set(['agent-1']),
    drives: () => false,
    emit: () => {},
    changed: () => {},
  });
  await monitor.check(['scope-drift']);
  await monitor.close();
  ws.refresh();
  const alert = [...ws.view.alerts()].find((a) => a.kind === 'scope-drift' && a.subject === task.id);
  return alert?.evidence.files ?? null;
}

it('a half-created worktree (a folder without .git) is not where the agent works', async () => {
  fs.mkdirSync(path.join(ws.home, 'worktrees', 'agent-1'), { recursive: true });
  expect(agentFolder(ws.home, coder)).toBe(tmp.dir);
  expect(await driftedFiles()).toEqual(['README.md']);
});

it('looks in the agent’s repository even when GIT_DIR names another one, as in a git hook', async () => {
  process.env.GIT_DIR = path.join(other.dir, '.git');
  process.env.GIT_WORK_TREE = other.dir;
  expect(await driftedFiles()).toEqual(['README.md']);
});

it('looks at a code task’s own branch: what it changed since its base commit, committed or not', async () => {
  const task = await ws.addTask({ title: 'edits src on its branch', run: 'true', resources: ['src/**'] });
  const claimed = await ws.claim('agent-1', { taskId: task.id });
  const work = await openCodeWork(ws, coder, claimed!);
  expect(work?.tree).toBe(path.join(ws.home, 'worktrees', task.id));
  const tree = work!.tree;
  fs.mkdirSync(path.join(tree, 'src'));
  fs.writeFileSync(path.join(tree, 'src', 'a.ts'), 'ok\n');
  fs.writeFileSync(path.join(tree, 'NOTES.md'), 'drift, committed\n');
  execFileSync('git', [...GIT_ID, 'add', 'NOTES.md'], { cwd: tree });
  execFileSync('git', [...GIT_ID, 'commit', '-q', '-m', 'notes'], { cwd: tree });
  fs.writeFileSync(path.join(tree, 'README.md'), 'drift, not committed\n');
  // A change in the main checkout is not this task's.
  fs.writeFileSync(path.join(tmp.dir, 'OTHER.md'), 'someone else\n');
  const monitor = new DriftMonitor(ws, {
    leads: () => true,
    mine: () => new Set(['agent-1']),
    drives: () => false,
    emit: () => {},
    changed: () => {},
  });
  await monitor.check(['scope-drift']);
  await monitor.close();
  ws.refresh();
  const alert = [...ws.view.alerts()].find((a) => a.kind === 'scope-drift' && a.subject === task.id);
  expect(alert?.evidence.files).toEqual(['NOTES.md', 'README.md']);
});
