/** `dreamos task …`: the task lifecycle from the command line. */
import { constants } from 'node:buffer';
import fs from 'node:fs';
import { type Command, Option } from 'commander';
import { PRIORITIES, STATUSES, type Status, type Task } from '../../state/schemas.js';
import { OPERATOR } from '../config.js';
import { DreamError, invalidInput, notFound } from '../errors.js';
import { untakeable } from '../orchestrator/takers.js';
import { emit, plural, say, table } from '../output.js';
import { cleanWorktrees } from '../review/worktrees.js';
import { oneLine } from '../sanitize.js';
import { MAX_ATTEMPTS, parseDuration, type TaskInput } from '../task-input.js';
import type { Workspace } from '../workspace.js';
import { collect, positiveInt, readWorkspace, withWorkspace } from './common.js';
import { printTaskLog } from './task-log.js';

function row(t: Task): string[] {
  const wait = t.notBefore && Date.parse(t.notBefore) > Date.now() ? ' (retry later)' : '';
  const approval = t.approval?.status === 'pending' ? ' (needs approval)' : '';
  return [t.id, t.status + wait + approval, t.priority, t.agent ?? '-', oneLine(t.title, 70)];
}

export function describeTask(t: Task): string {
  const lines = [
    `${t.id}  ${oneLine(t.title)}`,
    `  status     ${t.status}${t.agent ? ` (${t.agent})` : ''}   priority ${t.priority}   attempts ${t.attempts}/${t.maxAttempts}   stalls ${t.stalls}`,
  ];
  if (t.approval)
    lines.push(
      t.approval.status === 'pending'
        ? `  approval   waits for it (from ${t.source}): \`dreamos task approve ${t.id}\``
        : `  approval   approved by ${oneLine(t.approval.by ?? '?', 64)}${t.approval.at ? ` at ${t.approval.at}` : ''}`,
    );
  if (t.dedupeKey) lines.push(`  dedupe key ${oneLine(t.dedupeKey, 200)}`);
  if (t.branch !== undefined && !t.code)
    lines.push(
      `  branch     ${t.branch ? 'its own, once an agent takes it (--branch)' : 'none: runs in place (--no-branch)'}`,
    );
  if (t.role) lines.push(`  role       ${t.role}`);
  if (t.capabilities.length) lines.push(`  needs      ${t.capabilities.join(', ')}`);
  if (t.dependsOn.length) lines.push(`  depends on ${t.dependsOn.join(', ')}`);
  if (t.resources.length) lines.push(`  resources  ${t.resources.join(', ')}`);
  if (t.tags.length) lines.push(`  tags       ${t.tags.join(', ')}`);
  if (t.timeout) lines.push(`  timeout    ${t.timeout} s`);
  if (t.lease)
    lines.push(
      `  lease      ${t.lease.owner} until ${t.lease.expiresAt}${t.lease.token ? ` (token ${t.lease.token})` : ''}`,
    );
  if (t.notBefore) lines.push(`  not before ${t.notBefore}`);
  if (t.run) lines.push(`  run        ${oneLine(t.run, 200)}`);
  if (t.prompt) lines.push(`  prompt     ${oneLine(t.prompt, 200)}`);
  if (t.result) {
    lines.push(
      `  result     ${t.result.ok ? 'ok' : 'failed'}${t.result.exitCode != null ? ` (exit ${t.result.exitCode})` : ''}`,
    );
    if (t.result.summary) lines.push(`             ${oneLine(t.result.summary, 200)}`);
    if (t.result.error) lines.push(`             ${oneLine(t.result.error, 200)}`);
  }
  lines.push('  history');
  for (const h of t.history)
    lines.push(
      `    ${h.at}  ${h.from ?? '∅'} → ${h.to}  by ${oneLine(h.by, 64)}${h.why ? `  ${oneLine(h.why, 100)}` : ''}`,
    );
  return lines.join('\n');
}

/** "T-00001 failed (ready)": the stage only when the verb does not already say it. */
const one = (t: Task, verb: string) =>
  verb === t.status ? `${t.id} ${verb}` : `${t.id} ${verb} (${t.status})`;

/** The longest text Node can hold: a bigger import could not be read at all. */
const MAX_IMPORT_BYTES = constants.MAX_STRING_LENGTH;

/** The text of an import file (or stdin), refused by its size before it is read. */
function readImport(file: string): string {
  const tooBig = (bytes: number) =>
    invalidInput(
      `${file} is ${bytes} bytes; task import reads at most ${MAX_IMPORT_BYTES} bytes (512 MiB): split it into several imports`,
    );
  let data: Buffer;
  try {
    if (file !== '-') {
      const size = fs.statSync(file).size;
      if (size > MAX_IMPORT_BYTES) throw tooBig(size);
    }
    data = fs.readFileSync(file === '-' ? 0 : file);
  } catch (error) {
    if (error instanceof DreamError) throw error;
    throw notFound(`cannot read ${file}: ${(error as Error).message}`);
  }
  // stdin has no size until it is read: a pipe is refused once read.
  if (data.length > MAX_IMPORT_BYTES) throw tooBig(data.length);
  return data.toString('utf8');
}

/**
 * The agent whose lease a change is checked against: --agent, else a driven program's own agent
 * (DREAMOS_AGENT_ID), else none (the operator, who may finish any task).
 */
function holder(named: string | undefined): string | undefined {
  if (named !== undefined) return named;
  const self = process.env.DREAMOS_AGENT_ID;
  return self && self !== OPERATOR ? self : undefined;
}

/**
 * The fencing token of the lease the reporting agent holds on task `id`: --lease-token, else a
 * driven program's own (DREAMOS_LEASE_TOKEN, which goes with DREAMOS_TASK_ID: a report on another
 * task does not carry it). The operator holds no lease: a token without an agent is refused.
 */
function leaseToken(
  id: string,
  agent: string | undefined,
  named: number | undefined,
): { leaseToken?: number } {
  if (named !== undefined) {
    if (agent === undefined)
      throw new DreamError('E_USAGE', '--lease-token goes with the agent holding the lease: --agent ID');
    return { leaseToken: named };
  }
  const env = process.env.DREAMOS_LEASE_TOKEN;
  if (agent === undefined || !env || process.env.DREAMOS_TASK_ID !== id) return {};
  const token = Number(env);
  if (!Number.isSafeInteger(token) || token < 1)
    throw invalidInput(
      `DREAMOS_LEASE_TOKEN must be a positive whole number, got ${JSON.stringify(env).slice(0, 40)}`,
    );
  return { leaseToken: token };
}

const LEASE_TOKEN_HELP =
  'the fencing token of the lease held (default: DREAMOS_LEASE_TOKEN for DREAMOS_TASK_ID)';

/** Say on stderr which of the tasks just added nobody can take, and why, so that none waits in silence. */
function warnUntakeable(ws: Workspace, tasks: readonly Task[]): void {
  for (const group of untakeable(tasks, ws.config.agents, ws.view)) {
    const ids = group.tasks;
    const shown = `${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ` and ${ids.length - 5} more` : ''}`;
    say(
      `dreamos: warning: nobody can take ${shown}: ${group.text}; ${ids.length === 1 ? group.action : 'see `dreamos attention`'}`,
    );
  }
}

async function changeOne(
  command: Command,
  fn: (ws: Workspace) => Promise<Task>,
  verb: string,
): Promise<void> {
  await withWorkspace(command, async (ws, options) => {
    const task = await fn(ws);
    emit(options, task, () => one(task, verb));
  });
}

export function registerTask(program: Command): void {
  const task = program.command('task').description('add, list and move tasks through their lifecycle');

  task
    .command('add')
    .description('add a task (it goes to ready when it has no unfinished dependencies)')
    .argument('<title>', 'one line that says what the task is')
    .option('--prompt <text>', 'what an AI agent is asked to do')
    .option('--run <command>', 'a shell command that does the task')
    .option('--role <role>', 'only an agent with this role (or id) may take it')
    .option('--capability <name>', 'a capability the agent needs (repeatable)', collect, [])
    .addOption(new Option('--priority <p>', 'priority').choices([...PRIORITIES]).default('normal'))
    .option('--depends-on <id>', 'a task that must be done first (repeatable)', collect, [])
    .option('--resource <glob>', 'files the task will touch (repeatable)', collect, [])
    .option('--tag <tag>', 'a tag (repeatable)', collect, [])
    .option(
      '--max-attempts <n>',
      'attempts before it fails for good',
      positiveInt('--max-attempts', MAX_ATTEMPTS),
    )
    .option('--timeout <duration>', 'how long one attempt may take, e.g. 30s, 10m')
    .option('--budget-tokens <n>', 'token budget', positiveInt('--budget-tokens'))
    .option('--budget-usd <usd>', 'money budget in USD', Number.parseFloat)
    .option('--budget-seconds <duration>', 'time budget')
    .option('--hold', 'keep it in the backlog until promoted')
    .option('--branch', 'run it on a branch of its own, with review (default: as its agent does)')
    .option('--no-branch', 'run it in place: no branch, no review')
    .option('--dedupe-key <key>', 'add nothing when a task (even archived) already has this key')
    .action(async (title: string, o, command: Command) => {
      const budget = {
        ...(o.budgetTokens ? { tokens: o.budgetTokens } : {}),
        ...(o.budgetUsd !== undefined ? { usd: o.budgetUsd } : {}),
        ...(o.budgetSeconds ? { seconds: parseDuration(o.budgetSeconds) } : {}),
      };
      const input: TaskInput = {
        title,
        ...(o.prompt !== undefined ? { prompt: o.prompt } : {}),
        ...(o.run !== undefined ? { run: o.run } : {}),
        ...(o.role !== undefined ? { role: o.role } : {}),
        capabilities: o.capability,
        priority: o.priority,
        dependsOn: o.dependsOn,
        resources: o.resource,
        tags: o.tag,
        ...(o.maxAttempts !== undefined ? { maxAttempts: o.maxAttempts } : {}),
        ...(o.timeout !== undefined ? { timeout: parseDuration(o.timeout) } : {}),
        ...(Object.keys(budget).length ? { budget } : {}),
        source: process.env.DREAMOS_AGENT_ID ? 'agent' : 'cli',
        hold: Boolean(o.hold),
        ...(o.branch !== undefined ? { branch: Boolean(o.branch) } : {}),
        ...(o.dedupeKey !== undefined ? { dedupeKey: o.dedupeKey } : {}),
      };
      await withWorkspace(command, async (ws, options) => {
        const { task, created } = await ws.addTaskOnce(input);
        if (created) warnUntakeable(ws, [task]);
        // A repeat is not an error: the work is on the board once, as asked (exit 0).
        if (!created && options.json)
          say(
            `dreamos: ${task.id} already has dedupe key ${oneLine(task.dedupeKey ?? '', 80)}: nothing added`,
          );
        emit(options, task, () =>
          created
            ? one(task, 'added')
            : `${task.id} already has dedupe key ${oneLine(task.dedupeKey ?? '', 80)} (${task.status}): nothing added`,
        );
      });
    });

  task
    .command('import')
    .description('add many tasks in one transaction from a JSON array (all or none); - reads stdin')
    .argument('<file>', 'a JSON file holding an array of tasks')
    .action(async (file: string, _o, command: Command) => {
      const text = readImport(file);
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch (error) {
        throw invalidInput(`${file} is not valid JSON: ${(error as Error).message}`);
      }
      await withWorkspace(command, async (ws, options) => {
        const tasks = await ws.importTasks(data);
        warnUntakeable(ws, tasks);
        emit(
          options,
          tasks,
          () => `imported ${plural(tasks.length, 'task')}: ${tasks[0]?.id} … ${tasks[tasks.length - 1]?.id}`,
        );
      });
    });

  task
    .command('list')
    .description('list tasks')
    .option('--status <status>', `only these statuses, comma separated (${STATUSES.join(', ')})`)
    .option('--agent <id>', 'only tasks of this agent')
    .option('--tag <tag>', 'only tasks with this tag')
    .option('--limit <n>', 'at most this many', positiveInt('--limit'))
    .action(async (o, command: Command) => {
      await readWorkspace(command, async (ws, options) => {
        const tasks = ws.listTasks({
          ...(o.status ? { status: String(o.status).split(',') as Status[] } : {}),
          ...(o.agent ? { agent: o.agent } : {}),
          ...(o.tag ? { tag: o.tag } : {}),
          ...(o.limit ? { limit: o.limit } : {}),
        });
        emit(options, tasks, () =>
          tasks.length === 0
            ? 'no tasks'
            : table([['ID', 'STATUS', 'PRIORITY', 'AGENT', 'TITLE'], ...tasks.map(row)]),
        );
      });
    });

  task
    .command('show')
    .description('show one task with its history')
    .argument('<id>')
    .action(async (id: string, _o, command: Command) => {
      await readWorkspace(command, async (ws, options) => {
        const t = ws.getTask(id);
        emit(options, t, () => describeTask(t));
      });
    });

  task
    .command('log')
    .description("print a task's captured output, oldest run first (--follow: until it ends)")
    .argument('<id>')
    .option('--follow', 'keep printing new output until the task ends (ctrl-c stops)')
    .action(async (id: string, o: { follow?: boolean }, command: Command) => {
      await readWorkspace(command, (ws, options) =>
        printTaskLog(ws, id, { follow: Boolean(o.follow), json: Boolean(options.json) }),
      );
    });

  task
    .command('promote')
    .description('move a backlog task to ready')
    .argument('<id>')
    .option('--why <text>', 'reason recorded in the history')
    .action((id: string, o, command: Command) =>
      changeOne(command, (ws) => ws.promote(id, o.why), 'promoted'),
    );

  task
    .command('approve')
    .description(
      'let a task from outside (webhook, discord, scout, api) run: it waits in the backlog until then',
    )
    .argument('<id>')
    .option('--why <text>', 'reason recorded in the history')
    .action((id: string, o, command: Command) =>
      changeOne(command, (ws) => ws.approve(id, o.why), 'approved'),
    );

  task
    .command('move')
    .description('move a task to another stage (only moves the lifecycle allows)')
    .argument('<id>')
    .requiredOption('--to <stage>', `the target stage (${STATUSES.join(', ')})`)
    .option('--why <text>', 'reason recorded in the history')
    .action((id: string, o, command: Command) =>
      changeOne(command, (ws) => ws.move(id, o.to, o.why), 'moved'),
    );

  task
    .command('claim')
    .description('claim the best ready task for an agent (exit 3 when there is none)')
    .requiredOption('--agent <id>', 'the agent that takes it')
    .option('--task <id>', 'claim this task rather than the best one')
    .action(async (o, command: Command) => {
      await withWorkspace(command, async (ws, options) => {
        const claimed = await ws.claim(o.agent, o.task !== undefined ? { taskId: o.task } : {});
        if (!claimed) throw new DreamError('E_NOTHING_TO_CLAIM', `nothing ${o.agent} may claim right now`);
        emit(options, claimed, () =>
          one(
            claimed,
            `claimed by ${o.agent}, lease until ${claimed.lease?.expiresAt} (token ${claimed.lease?.token})`,
          ),
        );
      });
    });

  task
    .command('renew')
    .description("extend the lease of a working task (the agent's heartbeat)")
    .argument('<id>')
    .option('--agent <id>', 'the agent holding the lease (default: DREAMOS_AGENT_ID)')
    .option('--lease-token <n>', LEASE_TOKEN_HELP, positiveInt('--lease-token'))
    .action((id: string, o, command: Command) => {
      const agent = holder(o.agent);
      if (agent === undefined)
        throw new DreamError('E_USAGE', 'name the agent holding the lease: --agent ID');
      const { leaseToken: token } = leaseToken(id, agent, o.leaseToken);
      return changeOne(command, (ws) => ws.renew(id, agent, token), 'renewed');
    });

  task
    .command('complete')
    .description('mark a working task done')
    .argument('<id>')
    .option('--agent <id>', 'the agent holding the lease (default: DREAMOS_AGENT_ID, else the operator)')
    .option('--lease-token <n>', LEASE_TOKEN_HELP, positiveInt('--lease-token'))
    .option('--summary <text>', 'what was done')
    .option('--exit-code <n>', 'exit code of the work', Number.parseInt)
    .action((id: string, o, command: Command) =>
      changeOne(
        command,
        (ws) =>
          ws.complete(id, {
            ...(holder(o.agent) !== undefined ? { agent: holder(o.agent) } : {}),
            ...leaseToken(id, holder(o.agent), o.leaseToken),
            ...(o.summary !== undefined ? { summary: o.summary } : {}),
            ...(o.exitCode !== undefined ? { exitCode: o.exitCode } : {}),
          }),
        'done',
      ),
    );

  task
    .command('fail')
    .description('report a failed attempt: retried with backoff while attempts remain, then failed')
    .argument('<id>')
    .requiredOption('--reason <text>', 'what went wrong')
    .option('--agent <id>', 'the agent holding the lease (default: DREAMOS_AGENT_ID, else the operator)')
    .option('--lease-token <n>', LEASE_TOKEN_HELP, positiveInt('--lease-token'))
    .option('--exit-code <n>', 'exit code of the work', Number.parseInt)
    .option('--final', 'do not retry')
    .option('--error-code <code>', 'a typed error code, e.g. E_TESTS (default E_REPORTED)')
    .action((id: string, o, command: Command) =>
      changeOne(
        command,
        (ws) =>
          ws.fail(id, {
            reason: o.reason,
            ...(o.errorCode !== undefined ? { errorCode: o.errorCode } : {}),
            ...(holder(o.agent) !== undefined ? { agent: holder(o.agent) } : {}),
            ...leaseToken(id, holder(o.agent), o.leaseToken),
            ...(o.exitCode !== undefined ? { exitCode: o.exitCode } : {}),
            final: Boolean(o.final),
          }),
        'failed',
      ),
    );

  task
    .command('retry')
    .description('send a failed or cancelled task back to ready, to start over (or retry a waiting one now)')
    .argument('<id>')
    .option('--why <text>', 'reason recorded in the history')
    .option(
      '--from-checkpoint',
      "the next run starts from the task's last checkpoint, whichever agent takes it",
    )
    .action((id: string, o, command: Command) =>
      changeOne(
        command,
        (ws) => ws.retry(id, o.why, { fromCheckpoint: Boolean(o.fromCheckpoint) }),
        'retried',
      ),
    );

  task
    .command('cancel')
    .description('cancel a task that is not finished')
    .argument('<id>')
    .option('--why <text>', 'reason recorded in the history')
    .action((id: string, o, command: Command) =>
      changeOne(
        command,
        async (ws) => {
          const task = await ws.cancel(id, o.why);
          // Its worktree goes with it (its branch stays for policies.review.keepBranchDays).
          if (task.code) await cleanWorktrees(ws);
          return task;
        },
        'cancelled',
      ),
    );

  task
    .command('edit')
    .description('change fields of a task that is not finished')
    .argument('<id>')
    .option('--title <text>')
    .option('--prompt <text>')
    .option('--run <command>')
    .option('--role <role>')
    .addOption(new Option('--priority <p>').choices([...PRIORITIES]))
    .option('--depends-on <id>', 'replace the dependencies (repeatable)', collect)
    .option('--resource <glob>', 'replace the resources (repeatable)', collect)
    .option('--tag <tag>', 'replace the tags (repeatable)', collect)
    .option('--max-attempts <n>', 'attempts', positiveInt('--max-attempts', MAX_ATTEMPTS))
    .option('--timeout <duration>')
    .action((id: string, o, command: Command) => {
      const patch = {
        ...(o.title !== undefined ? { title: o.title } : {}),
        ...(o.prompt !== undefined ? { prompt: o.prompt } : {}),
        ...(o.run !== undefined ? { run: o.run } : {}),
        ...(o.role !== undefined ? { role: o.role } : {}),
        ...(o.priority !== undefined ? { priority: o.priority } : {}),
        ...(o.dependsOn !== undefined ? { dependsOn: o.dependsOn } : {}),
        ...(o.resource !== undefined ? { resources: o.resource } : {}),
        ...(o.tag !== undefined ? { tags: o.tag } : {}),
        ...(o.maxAttempts !== undefined ? { maxAttempts: o.maxAttempts } : {}),
        ...(o.timeout !== undefined ? { timeout: parseDuration(o.timeout) } : {}),
      };
      return changeOne(command, (ws) => ws.edit(id, patch), 'edited');
    });
}
