/** `dreamos init | status | doctor | log`. */
import fs from 'node:fs';
import type { Command } from 'commander';
import { listSegments, readJournalFrom, readJournalTail } from '../../state/journal.js';
import { describeHolder } from '../../state/lock.js';
import { workspacePaths } from '../../state/paths.js';
import type { JournalEntry, JournalPosition } from '../../state/schemas.js';
import { demoAgents, seedDemo } from '../demo.js';
import { doctor } from '../doctor.js';
import { emit, say } from '../output.js';
import { jsonText, oneLine } from '../sanitize.js';
import { findWorkspace, initWorkspace } from '../workspace.js';
import { globals, positiveInt, readWorkspace } from './common.js';

export function registerAdmin(program: Command): void {
  program
    .command('init')
    .description('create .dreamos/ in the current folder with the eight default agents')
    .option('--demo', 'seed a demo board (real shell tasks and simulated agents)')
    .option('--dir <dir>', 'create it in this folder instead')
    .action(async (o, command: Command) => {
      const options = globals(command);
      const dir = o.dir ?? options.home ?? process.cwd();
      const ws = await initWorkspace({ dir, ...(o.demo ? { agents: demoAgents() } : {}) });
      try {
        const seeded = o.demo ? await seedDemo(ws) : [];
        emit(
          options,
          { home: ws.home, agents: ws.config.agents.map((a) => a.id), tasks: seeded.map((t) => t.id) },
          () =>
            [
              `created ${ws.home} with ${ws.config.agents.length} agents`,
              ...(seeded.length ? [`seeded ${seeded.length} demo tasks`] : []),
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
        const s = ws.summary();
        const lock = ws.journalLockHolder();
        const stopped = lock?.state === 'stopped' ? lock : null;
        emit(options, { ...s, journalLock: lock }, () =>
          [
            `workspace ${ws.home}  (journal seq ${s.seq}, ${s.agents} agents)`,
            `backlog ${s.counts.backlog}  ready ${s.counts.ready}  working ${s.counts.working}  done ${s.counts.done}  failed ${s.counts.failed}  cancelled ${s.counts.cancelled}`,
            ...s.working.map((t) => `  ${t.id}  ${t.agent ?? '-'}  ${oneLine(t.title, 60)}`),
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
            ? `ok: ${report.tasks} tasks, journal seq ${report.seq}`
            : `problems found in ${report.home}:`,
          ...report.problems.map((p) => `  ${p.repaired ? 'fixed' : 'PROBLEM'}  ${p.code}: ${p.message}`),
          ...report.repaired.map((r) => `  repaired: ${r}`),
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
      const paths = workspacePaths(findWorkspace(options.home ? { home: options.home } : {}));
      const matches = (e: JournalEntry) => !o.task || (e.tasks ?? []).some((p) => p.task.id === o.task);
      const line = (e: JournalEntry) => {
        if (options.json) return jsonText(e);
        const tasks = (e.tasks ?? []).map((p) => `${p.task.id}:${p.task.status}`).join(' ');
        return `${String(e.seq).padStart(6)}  ${e.at}  ${oneLine(e.op, 24).padEnd(9)} by ${oneLine(e.by, 20).padEnd(10)} ${oneLine(tasks, 120)}${e.archived ? ` archived ${e.archived.length}` : ''}${e.alerts ? ` alerts ${e.alerts.map((a) => a.id).join(',')}` : ''}`;
      };
      // Read from the end for --limit, streamed otherwise: memory never holds the whole journal.
      let at: JournalPosition;
      if (o.limit) {
        const tail = readJournalTail(paths, o.limit, matches);
        at = tail.end;
        if (options.json && !o.follow) process.stdout.write(`${JSON.stringify(tail.entries, null, 2)}\n`);
        else for (const e of tail.entries) process.stdout.write(`${line(e)}\n`);
      } else if (options.json && !o.follow) {
        // The same output as JSON.stringify(entries, null, 2), written one entry at a time.
        let count = 0;
        at = readJournalFrom(paths, { segment: listSegments(paths)[0] ?? 1, offset: 0 }, (e) => {
          if (!matches(e)) return;
          const item = JSON.stringify(e, null, 2).replace(/\n/g, '\n  ');
          process.stdout.write(`${count++ === 0 ? '[\n  ' : ',\n  '}${item}`);
        });
        process.stdout.write(count === 0 ? '[]\n' : '\n]\n');
      } else {
        at = readJournalFrom(paths, { segment: listSegments(paths)[0] ?? 1, offset: 0 }, (e) => {
          if (matches(e)) process.stdout.write(`${line(e)}\n`);
        });
      }
      if (!o.follow) return;
      say('following the journal (ctrl-c to stop)');
      await new Promise<void>((resolve) => {
        const watcher = fs.watch(paths.journalDir, () => {
          at = readJournalFrom(paths, at, (e) => {
            if (matches(e)) process.stdout.write(`${line(e)}\n`);
          });
        });
        const stop = () => {
          watcher.close();
          resolve();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
