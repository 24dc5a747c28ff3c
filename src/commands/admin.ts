/** `dreamos init | status | doctor | log`. */
import { type Command, Option } from 'commander';
import { defaultAgents } from '../../agents/roles.js';
import type { HistoryMark, LostEntries } from '../../state/backend.js';
import { backendNames, DEFAULT_BACKEND } from '../../state/backends.js';
import { describeHolder } from '../../state/lock/index.js';
import type { JournalEntry } from '../../state/schemas.js';
import type { AgentConfig } from '../config.js';
import { demoAgents, seedDemo } from '../demo.js';
import { doctor } from '../doctor.js';
import { AGENT_CLIS, type DriverCheck, type FoundDriver, findDrivers, ollamaHost } from '../driver-setup.js';
import { invalidInput } from '../errors.js';
import { followHistory } from '../history-follow.js';
import { nobodyLine } from '../orchestrator/takers.js';
import { emit, plural, say } from '../output.js';
import { agentDriverAlert } from '../plugins/alerts.js';
import { statusReport } from '../reports.js';
import { describeRunners, describeUnrun, unrun } from '../runners.js';
import { jsonText, oneLine } from '../sanitize.js';
import { initWorkspace, Workspace } from '../workspace.js';
import { checkStoreOption, globals, positiveInt, readWorkspace } from './common.js';

const DRIVER_CHOICES = ['auto', 'shell', ...AGENT_CLIS.map((c) => c.name), 'openai', 'ollama'];

interface PromptSetup {
  found: FoundDriver[];
  chosen: FoundDriver | null;
  asked: string;
}

/** What `init` found on this machine, and the driver it gives the agents that take prompts. */
async function promptSetup(asked: string): Promise<PromptSetup> {
  if (asked === 'shell') return { found: [], chosen: null, asked };
  const found = await findDrivers();
  const chosen = asked === 'auto' ? (found[0] ?? null) : (found.find((f) => f.name === asked) ?? null);
  if (asked !== 'auto' && !chosen) {
    const why =
      asked === 'openai'
        ? 'OPENAI_API_KEY is not set'
        : asked === 'ollama'
          ? `no Ollama answers at ${ollamaHost()}`
          : `${asked} is not on the PATH`;
    throw invalidInput(`--driver ${asked}: not found here (${why})`);
  }
  return { found, chosen, asked };
}

/** A driver as an operator would write it: the fields that say something. */
const shown = (d: FoundDriver['driver']) =>
  d.kind === 'command'
    ? { kind: d.kind, argv: d.argv, ...(d.passEnv?.length ? { passEnv: d.passEnv } : {}) }
    : d.kind === 'llm'
      ? {
          kind: d.kind,
          baseUrl: d.baseUrl,
          model: d.model,
          ...(d.apiKeyEnv ? { apiKeyEnv: d.apiKeyEnv } : {}),
        }
      : d;

const EXAMPLE_DRIVER = {
  kind: 'command',
  argv: ['claude', '-p', '--', '{prompt}'],
  passEnv: ['ANTHROPIC_API_KEY'],
};

function describeSetup(setup: PromptSetup, prompted: AgentConfig[], total: number): string[] {
  const { chosen, found } = setup;
  if (!chosen) {
    return [
      setup.asked === 'shell'
        ? "every agent has the shell driver (--driver shell): it runs a task's --run command with /bin/sh"
        : `found no agent CLI (${AGENT_CLIS.map((c) => c.name).join(', ')}) on the PATH, no OPENAI_API_KEY and no Ollama at ${ollamaHost()}: every agent has the shell driver, which runs only a task's --run command`,
      `prompt tasks need a driver: set an agent's "driver" in .dreamos/config.json, e.g. ${JSON.stringify(EXAMPLE_DRIVER)} (docs/drivers.md), then check it with \`dreamos doctor\``,
    ];
  }
  return [
    `found ${chosen.label} (${chosen.where}): ${prompted.map((a) => `${a.id} ${a.name}`).join(', ')} take prompt tasks with ${JSON.stringify(shown(chosen.driver))}`,
    `the other ${total - prompted.length} agents have the shell driver: they run a task's --run command with /bin/sh`,
    ...found
      .filter((f) => f !== chosen)
      .map(
        (f) =>
          `also found ${f.label} (${f.where}); to use it, set an agent's "driver" in .dreamos/config.json to ${JSON.stringify(shown(f.driver))}`,
      ),
  ];
}

/** Drivers that cannot work here, one line each; nothing when all can. */
function driverLines(checks: DriverCheck[]): string[] {
  const bad = checks.filter((c) => !c.ok);
  if (bad.length === 0) return [];
  return [
    `drivers: ${bad.length} of ${plural(checks.length, 'agent')} cannot run ${bad.length === 1 ? 'its' : 'their'} tasks here:`,
    ...bad.map((c) => `  WARNING  driver: ${c.message}`),
  ];
}

export function registerAdmin(program: Command): void {
  program
    .command('init')
    .description('create .dreamos/ in the current folder with the eight default agents')
    .option('--demo', 'seed a demo board (real shell tasks and simulated agents)')
    .option('--dir <dir>', 'create it in this folder instead')
    .addOption(
      new Option(
        '--driver <name>',
        'the driver of the agents that take prompt tasks: auto finds one, shell keeps every agent on /bin/sh',
      )
        .choices(DRIVER_CHOICES)
        .env('DREAMOS_INIT_DRIVER')
        .default('auto'),
    )
    .addOption(
      new Option(
        '--backend <name>',
        `where the state is kept (recorded in config.json; default ${DEFAULT_BACKEND}, or postgres when DREAMOS_STORE names a server)`,
      ).choices(backendNames()),
    )
    .option(
      '--store <url>',
      'postgres: the server, postgres://user@host:port/db (no password: PGPASSWORD or ~/.pgpass)',
    )
    .option('--schema <name>', 'postgres: the schema that holds this workspace (default dreamos)')
    .action(async (o, command: Command) => {
      const options = globals(command);
      const dir = o.dir ?? options.home ?? process.cwd();
      const setup = o.demo ? null : await promptSetup(o.driver);
      const agents = o.demo ? demoAgents() : defaultAgents(undefined, setup?.chosen?.driver);
      checkStoreOption(o.store);
      const state = { ...(o.store ? { url: o.store } : {}), ...(o.schema ? { schema: o.schema } : {}) };
      const ws = await initWorkspace({ dir, agents, backend: o.backend, config: { state } });
      try {
        const seeded = o.demo ? await seedDemo(ws) : [];
        const prompted = ws.config.agents.filter((a) => a.driver.kind !== 'shell');
        emit(
          options,
          {
            home: ws.home,
            agents: ws.config.agents.map((a) => a.id),
            tasks: seeded.map((t) => t.id),
            ...(setup
              ? {
                  drivers: {
                    found: setup.found.map(({ name, label, where }) => ({ name, label, where })),
                    chosen: setup.chosen?.name ?? null,
                    agents: prompted.map((a) => a.id),
                  },
                }
              : {}),
          },
          () =>
            [
              `created ${ws.home} with ${ws.config.agents.length} agents`,
              ...(seeded.length ? [`seeded ${seeded.length} demo tasks`] : []),
              ...(setup ? describeSetup(setup, prompted, ws.config.agents.length) : []),
            ].join('\n'),
        );
      } finally {
        await ws.close();
      }
    });

  program
    .command('status')
    .description('board counts, working tasks and open alerts')
    .action(async (_o, command: Command) => {
      await readWorkspace(command, async (ws, options) => {
        const report = statusReport(ws);
        const { runners, unassignable: nobody, journalLock: lock, ...s } = report;
        const waiting = unrun(ws.view, ws.config.agents, runners);
        const n = waiting.tasks.length;
        const stopped = lock?.state === 'stopped' ? lock : null;
        emit(options, report, () =>
          [
            `workspace ${ws.home}  (journal seq ${s.seq}, ${plural(s.agents, 'agent')})`,
            n === 0
              ? describeRunners(runners)
              : runners.length === 0
                ? `${describeRunners(runners)}: ${n === 1 ? '1 ready task waits' : `${n} ready tasks wait`}; start \`dreamos run\``
                : `${describeRunners(runners)}; ${describeUnrun(waiting).text}; ${describeUnrun(waiting).action}`,
            `backlog ${s.counts.backlog}  ready ${s.counts.ready}  working ${s.counts.working}${s.counts.review ? `  review ${s.counts.review}` : ''}  done ${s.counts.done}  failed ${s.counts.failed}  cancelled ${s.counts.cancelled}`,
            ...s.working.map((t) => `  ${t.id}  ${t.agent ?? '-'}  ${oneLine(t.title, 60)}`),
            ...nobody.map((g) => `${nobodyLine(g)} (dreamos attention)`),
            ...ws.config.agents.flatMap((a) => {
              const alert = a.enabled ? agentDriverAlert(ws.view, a.id) : null;
              return alert ? [`${oneLine(alert.message, 300)} (alert ${alert.id})`] : [];
            }),
            `open alerts: ${s.openAlerts}${s.openAlerts ? ' (dreamos doctor, dreamos alert list)' : ''}`,
            ...(stopped
              ? [`journal lock held by a stopped process: ${oneLine(describeHolder(stopped), 300)}`]
              : []),
          ].join('\n'),
        );
      });
    });

  program
    .command('doctor')
    .description('check every store against its schema and the journal; --repair fixes what it can')
    .option('--repair', 'fix what can be fixed (nothing is deleted; broken files go to quarantine/)')
    .action(async (o, command: Command) => {
      const options = globals(command);
      const report = await doctor({
        ...(options.home ? { home: options.home } : {}),
        repair: Boolean(o.repair),
      });
      emit(options, report, () =>
        [
          report.ok
            ? `ok: ${plural(report.tasks, 'task')}, journal seq ${report.seq}`
            : `problems found in ${report.home}:`,
          ...report.problems.map((p) => `  ${p.repaired ? 'fixed' : 'PROBLEM'}  ${p.code}: ${p.message}`),
          ...report.repaired.map((r) => `  repaired: ${r}`),
          ...driverLines(report.drivers),
          ...(!report.ok && !o.repair ? ['run `dreamos doctor --repair` to fix what can be fixed'] : []),
        ].join('\n'),
      );
      if (!report.ok) process.exitCode = 6;
    });

  program
    .command('log')
    .description('the journal: every state change, oldest first')
    .option('--task <id>', 'only changes of this task')
    .option('--limit <n>', 'only the last n entries', positiveInt('--limit'))
    .option('--follow', 'keep printing new entries as they are written')
    .action(async (o, command: Command) => {
      const options = globals(command);
      const history = Workspace.history(options.home ? { home: options.home } : {});
      const matches = (e: JournalEntry) => !o.task || (e.tasks ?? []).some((p) => p.task.id === o.task);
      const line = (e: JournalEntry) => {
        if (options.json) return jsonText(e);
        const tasks = (e.tasks ?? []).map((p) => `${p.task.id}:${p.task.status}`).join(' ');
        return `${String(e.seq).padStart(6)}  ${e.at}  ${oneLine(e.op, 24).padEnd(9)} by ${oneLine(e.by, 20).padEnd(10)} ${oneLine(tasks, 120)}${e.archived ? ` archived ${e.archived.length}` : ''}${e.alerts ? ` alerts ${e.alerts.map((a) => a.id).join(',')}` : ''}`;
      };
      // Read from the end for --limit, streamed otherwise: memory never holds the whole journal.
      let mark: HistoryMark;
      if (o.limit) {
        const tail = await history.tail(o.limit, { matches });
        mark = tail.mark;
        if (options.json && !o.follow) process.stdout.write(`${JSON.stringify(tail.entries, null, 2)}\n`);
        else for (const e of tail.entries) process.stdout.write(`${line(e)}\n`);
      } else if (options.json && !o.follow) {
        // The same output as JSON.stringify(entries, null, 2), written one entry at a time.
        let count = 0;
        mark = await history.forEach((e) => {
          if (!matches(e)) return;
          const item = JSON.stringify(e, null, 2).replace(/\n/g, '\n  ');
          process.stdout.write(`${count++ === 0 ? '[\n  ' : ',\n  '}${item}`);
        });
        process.stdout.write(count === 0 ? '[]\n' : '\n]\n');
      } else {
        mark = await history.forEach((e) => {
          if (matches(e)) process.stdout.write(`${line(e)}\n`);
        });
      }
      if (!o.follow) return;
      say('following the journal (ctrl-c to stop)');
      // Retention may delete entries before they are read: the gap is said where the entries go.
      const lostLine = ({ from, to }: LostEntries) =>
        options.json
          ? JSON.stringify({ event: 'entries-lost', from, to, reason: 'retention' })
          : `-- entries ${from} to ${to} were deleted by the journal's retention before they were read; continuing from entry ${to + 1}`;
      const following = followHistory(
        history,
        mark,
        (e) => {
          if (matches(e)) process.stdout.write(`${line(e)}\n`);
        },
        undefined,
        (lost) => process.stdout.write(`${lostLine(lost)}\n`),
      );
      const stop = () => following.close();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        await following.done;
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
}
