/** `dreamos scout run|sources`: the sources watched for work from outside (docs/scout.md). */
import type { Command } from 'commander';
import { ExitCode } from '../errors.js';
import { emit, plural, say, table } from '../output.js';
import { oneLine } from '../sanitize.js';
import type { SourceReport } from '../scout/run.js';
import type { Workspace } from '../workspace.js';
import { type GlobalOptions, readWorkspace, withWorkspace } from './common.js';

/** The scout (sources, rules, HTTP): loaded by these commands only, not at every start. */
const scouting = () => import('../scout/run.js');

function describeReport(r: SourceReport, dryRun: boolean): string {
  if (r.status === 'failed')
    return `${r.id}: failed: ${r.error}${r.alert === 'raised' ? ' (alert raised)' : ''}`;
  if (r.status === 'disabled') return `${r.id}: disabled`;
  if (r.status === 'not-modified')
    return `${r.id}: unchanged since the last run${r.alert === 'resolved' ? ' (its alert resolved)' : ''}`;
  const made = dryRun
    ? `${plural(r.made.length, 'task')} would be made`
    : `${plural(r.made.length, 'task')} made${r.made.length ? ` (${r.made.map((m) => m.task).join(', ')})` : ''}`;
  const more = [
    r.duplicates ? `${r.duplicates} already on the board` : '',
    r.deferred ? `${r.deferred} left for the next run by the cap` : '',
    r.alert === 'resolved' ? 'its alert resolved' : '',
  ].filter(Boolean);
  const lines = [
    `${r.id}: ${plural(r.items, 'item')}, ${r.fresh} new, ${r.matched} matched; ${made}${more.length ? `; ${more.join('; ')}` : ''}`,
  ];
  for (const m of r.made) lines.push(`  ${m.task ?? '(new)'}  ${oneLine(m.title, 90)}`);
  return lines.join('\n');
}

export function registerScout(program: Command): void {
  const scout = program
    .command('scout')
    .description("watch feeds, Hacker News, GitHub issues and the plugins' sources for work");
  scout
    .command('run')
    .description(
      `read the sources once and turn new matching items into tasks waiting for approval (exit ${ExitCode.error} if a source failed)`,
    )
    .option('--source <id>', 'only this source')
    .option('--dry-run', 'show what would be made; change nothing')
    .action(async (o, command: Command) => {
      const body = async (ws: Workspace, options: GlobalOptions) => {
        const { loadPluginSources } = await import('../plugins/index.js');
        const plugins = await loadPluginSources(ws, { log: say, alerts: !o.dryRun });
        const run = await (await scouting()).runScout(ws, {
          ...(o.source !== undefined ? { source: String(o.source) } : {}),
          dryRun: Boolean(o.dryRun),
          plugins: plugins.sources,
        });
        await plugins.settled();
        for (const notice of run.notices) say(`dreamos: scout: ${notice}`);
        emit(options, run, () =>
          run.sources.length === 0
            ? 'no scout sources (add them to scout.sources in config.json, or a plugin with sources; see docs/scout.md)'
            : run.sources.map((r) => describeReport(r, run.dryRun)).join('\n'),
        );
        if (run.sources.some((r) => r.status === 'failed')) process.exitCode = ExitCode.error;
      };
      // A dry run writes nothing, so it opens the workspace as the read-only commands do.
      await (o.dryRun ? readWorkspace(command, body) : withWorkspace(command, body));
    });

  scout
    .command('sources')
    .description('the sources with their last run, items seen and tasks made')
    .action(async (_o, command: Command) => {
      await readWorkspace(command, async (ws, options) => {
        const { loadPluginSources } = await import('../plugins/index.js');
        const plugins = await loadPluginSources(ws, { log: say, alerts: false });
        const { sources, notices } = (await scouting()).sourceStates(ws, plugins.sources);
        for (const notice of notices) say(`dreamos: scout: ${notice}`);
        emit(options, sources, () =>
          sources.length === 0
            ? 'no scout sources (add them to scout.sources in config.json, or a plugin with sources; see docs/scout.md)'
            : table([
                ['ID', 'KIND', 'EVERY', 'LAST RUN', 'STATUS', 'SEEN', 'MADE', 'FAILURES'],
                ...sources.map((s) => [
                  s.id,
                  s.kind,
                  `${s.interval} s`,
                  s.lastRunAt ?? 'never',
                  s.enabled ? (s.lastStatus ?? '-') : 'disabled',
                  String(s.itemsSeen),
                  String(s.tasksMade),
                  s.failures ? `${s.failures}${s.lastError ? `: ${oneLine(s.lastError, 60)}` : ''}` : '0',
                ]),
              ]),
        );
      });
    });
}
