/**
 * Checkpoint and resume end to end, with real processes: a command-driver program reports a
 * checkpoint, its orchestrator is SIGKILLed, and after a restart the program is started again with
 * that checkpoint in DREAMOS_CHECKPOINT (step, session id, git commit) and the task completes once;
 * `task retry --from-checkpoint` hands the checkpoint to another agent; a plain retry starts over.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { processGone } from '../../helpers/agents.js';
import { fakeLlm, hang, textReply, toolReply } from '../../helpers/fake-llm.js';
import { BIN, cli, cliAsync, gitInitWithCommit, tempDir } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
const run = (args: string[], env?: Record<string, string>) =>
  cli(args, { cwd: tmp.dir, ...(env ? { env } : {}) });

interface Seen {
  agent: string;
  pid: number;
  checkpoint: {
    id: string;
    agent: string;
    task: string;
    step?: string;
    sessionId?: string;
    gitCommit?: string;
    progress: number | null;
  } | null;
}
interface TaskJson {
  id: string;
  status: string;
  history: Array<{ from: string | null; to: string }>;
}

const seen = (): Seen[] =>
  fs.existsSync(path.join(tmp.dir, 'seen.jsonl'))
    ? fs
        .readFileSync(path.join(tmp.dir, 'seen.jsonl'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];

/**
 * The driven program: writes down what it was started with; a first run (no checkpoint) reports one
 * (through a `::dreamos` line, or `dreamos checkpoint save`) and then hangs or fails; a resumed run
 * finishes at once.
 */
function writeAgent(firstRun: 'hang' | 'fail', via: 'line' | 'cli'): string {
  const script = path.join(tmp.dir, 'agent.mjs');
  fs.writeFileSync(
    script,
    `import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
const raw = process.env.DREAMOS_CHECKPOINT;
fs.appendFileSync('seen.jsonl', JSON.stringify({
  agent: process.env.DREAMOS_AGENT_ID, pid: process.pid, checkpoint: raw ? JSON.parse(raw) : null,
}) + '\\n');
if (raw) {
  console.log('resumed');
  process.exit(0);
}
if (${JSON.stringify(via)} === 'line') {
  console.log('::dreamos {"checkpoint":{"step":"half","sessionId":"s-1","progress":0.5}}');
} else {
  execFileSync(process.execPath, [${JSON.stringify(BIN)}, 'checkpoint', 'save', '--step', 'half', '--session-id', 's-1', '--progress', '0.5']);
  console.log('saved');
}
if (${JSON.stringify(firstRun)} === 'fail') {
  setTimeout(() => process.exit(1), 300);
} else {
  setInterval(() => {}, 1000);
}
`,
  );
  return script;
}

function useAgents(script: string, ids: string[]) {
  const file = path.join(tmp.dir, '.dreamos', 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8'));
  config.agents = config.agents
    .filter((a: { id: string }) => ids.includes(a.id))
    .map((a: Record<string, unknown>) => ({
      ...a,
      driver: { kind: 'command', argv: [process.execPath, script] },
      // In the workspace's own folder, not on a branch of the task (docs/review.md): the program
      // keeps its notes beside the workspace, where this test reads them.
      code: false,
    }));
  config.policies = { ...config.policies, heartbeatSeconds: 1, killGraceSeconds: 1 };
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
}

/** A zombie waiting for init to reap it counts as gone. */
const alive = (pid: number) => !processGone(pid);

async function waitFor(check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const checkpoints = (agent: string) =>
  run(['checkpoint', 'list', '--agent', agent, '--json']).json<
    Array<{ step?: string; task: string; gitCommit?: string }>
  >();

beforeEach(() => {
  tmp = tempDir('dreamos-resume-');
  expect(run(['init']).code).toBe(0);
});
afterEach(() => {
  // A program left hanging by a failed test must not outlive it.
  for (const s of seen()) if (alive(s.pid)) process.kill(s.pid, 'SIGKILL');
  tmp.cleanup();
});

describe('resume after a crash', () => {
  it('a SIGKILLed orchestrator: the restarted run resumes with the checkpoint, the task completes once', async () => {
    // The workspace is in a git repository: the checkpoints carry its commit.
    gitInitWithCommit(tmp.dir);
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: tmp.dir, encoding: 'utf8' }).trim();
    useAgents(writeAgent('hang', 'line'), ['agent-2']);
    const task = run(['task', 'add', 'long job', '--prompt', 'work for hours', '--json']).json<TaskJson>();

    const first = spawn(process.execPath, [BIN, 'run', '--agents', 'agent-2'], {
      cwd: tmp.dir,
      stdio: 'ignore',
    });
    const exited = new Promise((r) => first.once('exit', r));
    try {
      await waitFor(() => checkpoints('agent-2').some((c) => c.step === 'half'));
    } finally {
      first.kill('SIGKILL');
      await exited;
    }
    const [firstRun] = seen();
    expect(firstRun!.checkpoint).toBeNull();
    expect(alive(firstRun!.pid)).toBe(true); // orphaned by the crash

    const second = run(['run', '--until-idle', '--agents', 'agent-2', '--json']);
    expect(second.code).toBe(0);
    expect(alive(firstRun!.pid)).toBe(false); // the leftover was stopped before the task was resumed

    const runs = seen();
    expect(runs).toHaveLength(2);
    expect(runs[1]!.checkpoint).toMatchObject({
      agent: 'agent-2',
      task: task.id,
      step: 'half',
      sessionId: 's-1',
      progress: 0.5,
      gitCommit: head,
    });
    const done = run(['task', 'show', task.id, '--json']).json<TaskJson>();
    expect(done.status).toBe('done');
    expect(done.history.filter((h) => h.to === 'done')).toHaveLength(1);
    expect(done.history.some((h) => h.from === 'working' && h.to === 'working')).toBe(true); // resumed
    // Every checkpoint the loop saved carries the commit; the last one is the end.
    const list = checkpoints('agent-2');
    expect(list.every((c) => c.gitCommit === head)).toBe(true);
    expect(list.map((c) => c.step)).toEqual(['start', 'half', 'resume', 'done']);
  });
});

describe('an llm agent', () => {
  it('resumes after a crash from the summary of its context reset', async () => {
    const server = await fakeLlm(
      [
        toolReply([{ name: 'report_progress', args: { progress: 0.6 } }], {
          prompt_tokens: 1800,
          completion_tokens: 50,
        }),
        textReply(['Parser written; only the tests remain.'], { prompt_tokens: 1850, completion_tokens: 9 }),
        hang,
      ],
      toolReply([{ name: 'finish_task', args: { summary: 'tests written' } }]),
    );
    try {
      const file = path.join(tmp.dir, '.dreamos', 'config.json');
      const config = JSON.parse(fs.readFileSync(file, 'utf8'));
      config.agents = config.agents
        .filter((a: { id: string }) => a.id === 'agent-5')
        .map((a: Record<string, unknown>) => ({
          ...a,
          driver: { kind: 'llm', baseUrl: server.baseUrl, model: 'fake', contextBudgetTokens: 2000 },
        }));
      fs.writeFileSync(file, JSON.stringify(config, null, 2));
      const task = run([
        'task',
        'add',
        'Write the parser',
        '--prompt',
        'with tests',
        '--json',
      ]).json<TaskJson>();

      const first = spawn(process.execPath, [BIN, 'run'], { cwd: tmp.dir, stdio: 'ignore' });
      const exited = new Promise((r) => first.once('exit', r));
      try {
        await waitFor(() => server.requests.length === 3); // the turn after the reset is in flight
        await waitFor(() => checkpoints('agent-5').some((c) => c.step === 'context-reset'));
      } finally {
        first.kill('SIGKILL');
        await exited;
      }
      const again = await cliAsync(['run', '--until-idle'], { cwd: tmp.dir });
      expect(again.code).toBe(0);
      expect(server.requests).toHaveLength(4);
      const resumed = server.requests[3]!.body.messages;
      expect(resumed.map((m) => m.role)).toEqual(['system', 'user']);
      expect(resumed[1]!.content).toContain('step: context-reset');
      expect(resumed[1]!.content).toContain('Parser written; only the tests remain.');
      const done = run(['task', 'show', task.id, '--json']).json<TaskJson>();
      expect(done.status).toBe('done');
      expect(done.history.filter((h) => h.to === 'done')).toHaveLength(1);
    } finally {
      await server.close();
    }
  });
});

describe('task retry', () => {
  /** A task with one attempt, for the agent programs above to fail. */
  const addFlaky = () =>
    run(['task', 'add', 'flaky', '--prompt', 'p', '--max-attempts', '1', '--json']).json<TaskJson>();

  it('--from-checkpoint hands the last checkpoint to the agent that takes the task next', () => {
    useAgents(writeAgent('fail', 'cli'), ['agent-2', 'agent-3']);
    const task = addFlaky();
    expect(run(['run', '--until-idle', '--agents', 'agent-2']).code).toBe(7); // its task failed
    expect(run(['task', 'show', task.id, '--json']).json<TaskJson>().status).toBe('failed');
    const saved = checkpoints('agent-2').find((c) => c.step === 'half');
    expect(saved).toMatchObject({ task: task.id }); // saved by the program through the CLI

    const retried = run(['task', 'retry', task.id, '--from-checkpoint', '--json']);
    expect(retried.code).toBe(0);
    expect(run(['run', '--until-idle', '--agents', 'agent-3']).code).toBe(0);
    const runs = seen();
    expect(runs.map((r) => r.agent)).toEqual(['agent-2', 'agent-3']);
    expect(runs[1]!.checkpoint).toMatchObject({
      agent: 'agent-2',
      task: task.id,
      step: 'half',
      sessionId: 's-1',
    });
    expect(run(['task', 'show', task.id, '--json']).json<TaskJson>().status).toBe('done');
  });

  it('a plain retry starts over, even on the same agent', () => {
    useAgents(writeAgent('fail', 'line'), ['agent-2']);
    const task = addFlaky();
    expect(run(['run', '--until-idle']).code).toBe(7); // its task failed
    expect(run(['task', 'retry', task.id]).code).toBe(0);
    expect(run(['run', '--until-idle']).code).toBe(7);
    const runs = seen();
    expect(runs).toHaveLength(2);
    expect(runs.map((r) => r.checkpoint)).toEqual([null, null]);
    expect(run(['task', 'show', task.id, '--json']).json<TaskJson>().status).toBe('failed');
  });

  it('--from-checkpoint without any checkpoint is refused and leaves the task failed', () => {
    const task = run(['task', 'add', 'never ran', '--run', 'true', '--json']).json<TaskJson>();
    expect(run(['task', 'claim', '--agent', 'agent-2', '--task', task.id]).code).toBe(0);
    expect(run(['task', 'fail', task.id, '--agent', 'agent-2', '--reason', 'no', '--final']).code).toBe(0);
    const refused = run(['task', 'retry', task.id, '--from-checkpoint']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/no checkpoint/);
    expect(run(['task', 'show', task.id, '--json']).json<TaskJson>().status).toBe('failed');
  });
});
