/**
 * `dreamos plugin list`: the plugins of the workspace, what each offers, and why any is not
 * loaded (docs/plugins.md). Listing imports each plugin, as a start would, and writes nothing.
 */
import type { Command } from 'commander';
import { emit, table } from '../output.js';
import { oneLine } from '../sanitize.js';
import { readWorkspace } from './common.js';

export function registerPlugin(program: Command): void {
  const plugin = program.command('plugin').description('plugins: what is loaded, and why anything is not');
  plugin
    .command('list')
    .description('the plugins in .dreamos/plugins/ and config.json, loaded or refused with the reason')
    .action(async (_o, command: Command) => {
      await readWorkspace(command, async (ws, options) => {
        const { loadPlugins } = await import('../plugins/load.js');
        const { reports } = await loadPlugins(ws);
        const offers = (r: (typeof reports)[number]) =>
          [
            ...r.notifiers.map((n) => `notifier ${n}`),
            ...r.sources.map((s) => `source ${s}`),
            ...r.drivers.map((d) => `driver ${d}`),
            ...(r.onEvent ? ['onEvent'] : []),
          ].join(', ') || '-';
        emit(options, reports, () =>
          reports.length === 0
            ? 'no plugins (put one in .dreamos/plugins/NAME.mjs, or name a package in config.json "plugins")'
            : table([
                ['PLUGIN', 'VERSION', 'STATE', 'FROM', 'OFFERS / WHY NOT'],
                ...reports.map((r) => [
                  oneLine(r.name ?? '-', 64),
                  oneLine(r.version ?? '-', 20),
                  r.state === 'on' ? 'loaded' : r.state,
                  oneLine(r.from, 80),
                  r.state === 'on'
                    ? oneLine([offers(r), ...r.notes].join('; '), 300)
                    : oneLine(r.reason ?? '', 300),
                ]),
              ]),
        );
      });
    });
}
