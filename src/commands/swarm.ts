/** `dreamos run | agent … | mail … | checkpoint …`: the swarm from the command line. */
import type { Command } from 'commander';
import type { DIRECTIVES, MAIL_TYPES } from '../../state/schemas.js';
import { COMPANIONS_GRACE_MS, startCompanions } from '../companions.js';
import { type AgentConfig, isBuiltIn, OPERATOR } from '../config.js';
import { DreamError, ExitCode, notFound } from '../errors.js';
import { nobodyLine, untakeable } from '../orchestrator/takers.js';
import { emit, plural, say, table } from '../output.js';
import { agentDriverAlert } from '../plugins/alerts.js';
import { describeUnrun, liveRunners, unrun } from '../runners.js';
import { jsonText, oneLine } from '../sanitize.js';
import type { Workspace } from '../workspace.js';
import { registerCheckpointSave } from './checkpoints.js';
import { readWorkspace, withWorkspace } from './common.js';
import { DEFAULT_LISTEN, startServing } from './serve.js';
import { registerSessionCommands } from './sessions.js';

/** Driven programs run the CLI with DREAMOS_AGENT_ID set: that is who they are. */
const me = () => process.env.DREAMOS_AGENT_ID ?? OPERATOR;

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** An agent's driver as `agent list|show` say it: a plugin's kind says so, and that the agent does not run. */
function driverLabel(ws: Workspace, def: AgentConfig): string {
  if (def.driver.kind === 'sim') return 'sim (simulated)';
  if (isBuiltIn(def.driver)) return def.driver.kind;
  const alert = agentDriverAlert(ws.view, def.id);
  return `${def.driver.kind} (plugin${alert ? `; not run, see alert ${alert.id}` : ''})`;
}

export function registerSwarm(program: Command): void {
  program
    .command('run')
    .description('run the agents headless until stopped (SIGINT/SIGTERM), or until no runnable work remains')
    .option('--agents <ids>', 'only these agents, comma separated')
    .option(
      '--until-idle',
      `stop when no runnable work remains: exit 0, ${ExitCode.tasksFailed} if a task of the run failed, ${ExitCode.needsOperator} if work is left that nobody can take or that only agents nobody runs may take`,
    )
    .option('--quiet', 'print only the summary')
    .option(
      '--serve [host:port]',
      `also serve the HTTP API (docs/api.md), on ${DEFAULT_LISTEN} unless an address is given`,
    )
    .action(async (o, command: Command) => {
      await withWorkspace(
        command,
        async (ws, options) => {
          // Served before the agents start: an address that cannot be had stops the run before any work.
          // (On an error later the process ends, and the server with it.)
          const serving =
            o.serve === undefined
              ? null
              : await startServing(ws, o.serve === true ? DEFAULT_LISTEN : String(o.serve), options);
          const { startOrchestrator, describeTakeover } = await import('../orchestrator/index.js');
          // Webhooks, plugins and notifiers hear of the run's changes: from the served hub, if any.
          const companions = await startCompanions(ws, {
            ...(serving ? { hub: serving.hub, onWebhookOutcome: serving.webhookOutcome } : {}),
            log: say,
          });
          // A run stopped for a shutdown or a restart goes back to ready, one cancelled ends there:
          // neither is a failed attempt (the task's history says "not counted").
          const counts = { claimed: 0, done: 0, failed: 0, requeued: 0, cancelled: 0 };
          const worked = new Set<string>();
          // Leading the sweeps is the rule for a lone orchestrator: only a change after a loss is told.
          let sweepsLost = false;
          const orchestrator = await startOrchestrator(ws, {
            ...(companions.sources.length > 0 ? { pluginSources: () => companions.sources } : {}),
            pluginDrivers: () => companions.drivers,
            ...(o.agents
              ? {
                  agents: String(o.agents)
                    .split(',')
                    .map((s) => s.trim())
                    .filter(Boolean),
                }
              : {}),
            untilIdle: Boolean(o.untilIdle),
            onEvent: (event) => {
              if (event.type === 'claimed') {
                counts.claimed++;
                worked.add(event.task.id);
              }
              if (event.type === 'finished') {
                if (event.stopped?.reason === 'cancel') counts.cancelled++;
                else if (event.stopped) counts.requeued++;
                else if (event.outcome.ok) counts.done++;
                else counts.failed++;
              }
              if (o.quiet) return;
              if (options.json && event.type !== 'line') process.stdout.write(`${JSON.stringify(event)}\n`);
              if (options.json) return;
              if (event.type === 'started') {
                say(
                  `running ${event.agents.join(', ') || 'no agents'}${event.elsewhere.length ? `; running elsewhere: ${event.elsewhere.join(', ')}` : ''}`,
                );
              } else if (event.type === 'took-over') {
                say(`took over ${event.agents.join(', ')}: ${describeTakeover(event.from)}`);
              } else if (event.type === 'claimed')
                say(`${event.agent}  ▶ ${event.task.id} ${oneLine(event.task.title, 60)}`);
              else if (event.type === 'finished' && event.stopped) {
                const what = event.stopped.reason === 'cancel' ? '■' : '↺';
                const how = event.stopped.reason === 'cancel' ? 'stopped' : 'requeued';
                say(`${event.agent}  ${what} ${event.task} ${how}: ${oneLine(event.stopped.why, 80)}`);
              } else if (event.type === 'finished') {
                say(
                  `${event.agent}  ${event.outcome.ok ? '✓' : '✗'} ${event.task}${event.outcome.ok ? '' : ` ${oneLine(event.outcome.error ?? '', 80)}`}`,
                );
              } else if (event.type === 'leftover')
                say(`${event.agent}  stopped process ${event.pid} left by a previous run`);
              else if (event.type === 'error')
                say(`${event.agent ?? 'orchestrator'}  error: ${oneLine(event.message, 200)}`);
              else if (event.type === 'directive') say(`${event.agent}  directive ${event.directive}`);
              else if (event.type === 'sweeps' && (!event.leading || sweepsLost)) {
                sweepsLost = !event.leading;
                say(
                  event.leading
                    ? 'leading the sweeps of the whole board again'
                    : 'no longer leading the sweeps of the whole board: another orchestrator does, or the state could not be reached',
                );
              } else if (event.type === 'drift')
                say(
                  `${event.agent}  drift ${event.kind} (${event.alert}): ${oneLine(event.message, 160)}; ${event.action}`,
                );
            },
          });
          const stop = () => void orchestrator.stop('signal');
          // SIGHUP: its terminal was closed (a tmux session killed, an SSH link dropped).
          for (const signal of STOP_SIGNALS) process.once(signal, stop);
          const reason = await orchestrator.done;
          for (const signal of STOP_SIGNALS) process.off(signal, stop);
          // What the last changes made is handed on first: best effort, for a few seconds at most.
          await companions.close(COMPANIONS_GRACE_MS);
          await serving?.close();
          ws.refresh();
          // For CI: the tasks of this run that ended failed, and the work left that no agent can take.
          const failedTasks = [...worked].filter((id) => ws.view.task(id)?.status === 'failed');
          const waiting = [...ws.view.inStore('ready'), ...ws.view.inStore('backlog')];
          const unassignable = untakeable(waiting, ws.config.agents, ws.view);
          // Ready work left for agents outside this run that no other live orchestrator runs either.
          const others = liveRunners(ws.view, ws.config.policies, new Date()).filter((r) => !r.here);
          const unrunWork = unrun(ws.view, ws.config.agents, others);
          const exitCode = !o.untilIdle
            ? ExitCode.ok
            : failedTasks.length
              ? ExitCode.tasksFailed
              : unassignable.length || unrunWork.tasks.length
                ? ExitCode.needsOperator
                : ExitCode.ok;
          const summary = {
            reason,
            ...counts,
            board: ws.summary().counts,
            failedTasks,
            unassignable,
            unrun: unrunWork,
            exitCode,
          };
          if (options.json) process.stdout.write(`${JSON.stringify({ type: 'summary', ...summary })}\n`);
          else {
            // A good attempt on a code task ends in review, not done.
            const inReview = [...worked].filter((id) => ws.view.task(id)?.status === 'review').length;
            say(
              `stopped (${reason}): ${Math.max(0, counts.done - inReview)} done${inReview ? `, ${inReview} waiting for review` : ''}, ${plural(counts.failed, 'failed attempt')}${counts.requeued ? `, ${counts.requeued} requeued` : ''}${counts.cancelled ? `, ${counts.cancelled} cancelled` : ''}${failedTasks.length ? `; failed: ${failedTasks.slice(0, 5).join(', ')}${failedTasks.length > 5 ? ', …' : ''}` : ''}`,
            );
            for (const g of unassignable) say(`${nobodyLine(g)}; see \`dreamos attention\``);
            if (unrunWork.tasks.length) {
              const { text, action } = describeUnrun(unrunWork);
              say(
                `${text} (${unrunWork.tasks.slice(0, 3).join(', ')}${unrunWork.tasks.length > 3 ? ', …' : ''}); ${action}`,
              );
            }
          }
          if (exitCode !== ExitCode.ok) process.exitCode = exitCode;
        },
        { share: true },
      );
    });

  const agent = program.command('agent').description('the agents: list, inspect and steer them');
  agent
    .command('list')
    .description('every agent with its role, driver and state')
    .action(async (_o, command: Command) => {
      await readWorkspace(command, async (ws, options) => {
        const states = ws.agentStates();
        const rows = ws.config.agents.map((a, i) => ({ ...a, state: states[i]! }));
        emit(options, rows, () =>
          table([
            ['ID', 'NAME', 'ROLE', 'DRIVER', 'STATUS', 'TASK'],
            ...rows.map((r) => [
              r.id,
              r.name,
              r.role,
              driverLabel(ws, r),
              r.state.paused && r.state.status !== 'paused' ? `${r.state.status} (pausing)` : r.state.status,
              r.state.task ?? '-',
            ]),
          ]),
        );
      });
    });
  agent
    .command('show')
    .description('one agent: definition, state, mailbox and last checkpoint')
    .argument('<id>')
    .action(async (id: string, _o, command: Command) => {
      await readWorkspace(command, async (ws, options) => {
        const def = ws.agent(id);
        const state = ws.agentStates().find((s) => s.id === id)!;
        const mailbox = ws.mailbox(id);
        const checkpoints = ws.checkpoints(id);
        const data = { ...def, state, mailbox, checkpoint: checkpoints[checkpoints.length - 1] ?? null };
        emit(options, data, () =>
          [
            `${def.id}  ${def.name} (${def.role})  driver ${driverLabel(ws, def)}`,
            `  status   ${state.status}${state.paused ? ' (paused)' : ''}   task ${state.task ?? '-'}   failures in a row ${state.failures}`,
            `  heartbeat ${state.heartbeatAt ?? 'never'}   runner ${state.runner ? `pid ${state.runner.pid} on ${state.runner.host}` : '-'}`,
            `  capabilities ${def.capabilities.join(', ') || '-'}`,
            `  mailbox  ${mailbox.length} unacknowledged`,
            ...mailbox
              .slice(-5)
              .map(
                (m) =>
                  `    ${m.id} ${m.type}${m.directive ? `:${m.directive}` : ''} from ${m.from}: ${oneLine(m.body, 80)}`,
              ),
            `  checkpoint ${data.checkpoint ? `${data.checkpoint.id} ${oneLine(data.checkpoint.step ?? '', 80)} (${data.checkpoint.task ?? '-'})` : '-'}`,
          ].join('\n'),
        );
      });
    });
  const directive = (name: string, d: (typeof DIRECTIVES)[number], description: string) =>
    agent
      .command(name)
      .description(description)
      .argument('<id>')
      .option('--why <text>', 'reason, recorded with the directive (at most 1,000 characters)')
      .action(async (id: string, o, command: Command) => {
        await withWorkspace(command, async (ws, options) => {
          const result = await ws.directAgent(id, d, o.why);
          emit(options, result, () => `${id}: ${d} sent (${result.mail.id})`);
          // Pause and resume act through the agent's state; the others wait for a loop to read them.
          const live = liveRunners(ws.view, ws.config.policies, new Date()).some((r) =>
            r.agents.includes(id),
          );
          if (!live && (d === 'restart' || d === 'reset-context'))
            say(`${id}: no orchestrator runs it now; the ${d} is read when one takes it (\`dreamos run\`)`);
        });
      });
  directive('pause', 'pause', 'stop claiming new tasks (the current one finishes)');
  directive('resume', 'resume', 'claim tasks again');
  directive('restart', 'restart', 'stop the current task (back to ready) and start the loop afresh');
  directive('reset', 'reset-context', 'start the next task with a fresh context (no checkpoint)');
  registerSessionCommands(agent);

  const mail = program.command('mail').description('mailboxes: messages between the operator and agents');
  mail
    .command('send')
    .description('send a message (to an agent id, "operator", or "all")')
    .requiredOption('--to <id>', 'recipient')
    .argument('<text>', 'the message')
    .option('--type <type>', 'message | status | assignment | alert | broadcast', 'message')
    .option('--task <id>', 'the task it is about')
    .option('--dedupe-key <key>', 'send at most once with this key')
    .action(async (text: string, o, command: Command) => {
      await withWorkspace(command, async (ws, options) => {
        const sent = await ws.sendMail({
          to: o.to,
          body: text,
          type: o.type as (typeof MAIL_TYPES)[number],
          ...(o.task ? { task: o.task } : {}),
          ...(o.dedupeKey ? { dedupeKey: o.dedupeKey } : {}),
        });
        emit(options, sent, () => sent.map((m) => `${m.id} → ${m.to}`).join('\n'));
      });
    });
  const box = (c: Command) =>
    c.option('--agent <id>', 'whose mailbox (default: DREAMOS_AGENT_ID, else the operator)');
  box(
    mail
      .command('list')
      .description('unacknowledged messages (--all for every kept message)')
      .option('--all', 'include acknowledged messages'),
  ).action(async (o, command: Command) => {
    await readWorkspace(command, async (ws, options) => {
      const who = o.agent ?? me();
      const list = ws.mailbox(who, { all: Boolean(o.all) });
      // Without --agent, the operator also learns which agents have mail waiting.
      const elsewhere =
        o.agent === undefined
          ? ws.config.agents
              .filter((a) => a.id !== who)
              .map((a) => ({ id: a.id, waiting: ws.mailbox(a.id).length }))
              .filter((b) => b.waiting > 0)
          : [];
      const others = elsewhere.length
        ? `\nunacknowledged mail for ${elsewhere.map((b) => `${b.id} (${b.waiting})`).join(', ')}: \`dreamos mail list --agent ID\``
        : '';
      emit(options, list, () =>
        list.length === 0
          ? `no messages for ${who}${others}`
          : `${table([
              ['ID', 'TYPE', 'FROM', 'STATE', 'MESSAGE'],
              ...list.map((m) => [
                m.id,
                m.directive ? `directive:${m.directive}` : m.type,
                m.from,
                m.ackedAt ? 'acked' : m.readAt ? 'read' : 'new',
                oneLine(m.body, 70),
              ]),
            ])}${others}`,
      );
    });
  });
  for (const mark of ['read', 'ack'] as const) {
    const sub = mail
      .command(mark)
      .description(
        mark === 'read'
          ? 'mark messages seen'
          : 'acknowledge messages (handled; delivery is at least once until acked)',
      );
    if (mark === 'read') sub.argument('<ids...>', 'message ids');
    else {
      sub
        .argument('[ids...]', 'message ids')
        .option('--all', 'every unacknowledged message but directives (a full mailbox, in small batches)');
    }
    box(sub).action(async (ids: string[], o, command: Command) => {
      await withWorkspace(command, async (ws, options) => {
        if (mark === 'ack' && o.all) {
          if (ids.length > 0) throw new DreamError('E_USAGE', 'give message ids or --all, not both');
          const who = o.agent ?? me();
          const count = await ws.ackAll(who);
          // Directives wait for the agent's loop, which acknowledges them as it acts on them.
          const directives = ws.mailbox(who).filter((m) => m.type === 'directive').length;
          emit(
            options,
            { acknowledged: count, directivesLeft: directives },
            () =>
              `${plural(count, 'message')} acknowledged` +
              (directives
                ? `; ${plural(directives, 'directive')} left for the agent's loop, which acknowledges them as it acts on them (they do not count toward the mailbox's limits)`
                : ''),
          );
          return;
        }
        if (ids.length === 0) throw new DreamError('E_USAGE', 'give the ids of the messages (or --all)');
        const changed = await ws.markMail(o.agent ?? me(), ids, mark);
        emit(
          options,
          changed,
          () => `${plural(changed.length, 'message')} marked ${mark === 'ack' ? 'acknowledged' : 'read'}`,
        );
      });
    });
  }

  const checkpoint = program.command('checkpoint').description("agents' checkpoints");
  checkpoint
    .command('list')
    .description('checkpoints of an agent, oldest first')
    .requiredOption('--agent <id>')
    .action(async (o, command: Command) => {
      await readWorkspace(command, async (ws, options) => {
        const list = ws.checkpoints(o.agent);
        emit(options, list, () =>
          list.length === 0
            ? 'no checkpoints'
            : table([
                ['ID', 'TASK', 'STEP', 'PROGRESS', 'AT'],
                ...list.map((c) => [
                  c.id,
                  c.task ?? '-',
                  oneLine(c.step ?? '-', 60),
                  c.progress === null ? '-' : `${Math.round(c.progress * 100)}%`,
                  c.at,
                ]),
              ]),
        );
      });
    });
  checkpoint
    .command('show')
    .description('one checkpoint (default: the last of the agent)')
    .requiredOption('--agent <id>')
    .argument('[id]')
    .action(async (id: string | undefined, o, command: Command) => {
      await readWorkspace(command, async (ws, options) => {
        const list = ws.checkpoints(o.agent);
        const found = id ? list.find((c) => c.id === id) : list[list.length - 1];
        if (!found)
          throw notFound(id ? `no checkpoint ${id} for ${o.agent}` : `${o.agent} has no checkpoint`);
        emit(options, found, () => jsonText(found, 2));
      });
    });
  registerCheckpointSave(checkpoint);
}
