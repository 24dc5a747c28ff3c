/** `dreamos alert list|ack|resolve` and `dreamos attention`: what needs the operator. */
import type { Command } from 'commander';
import { ALERT_STATUSES } from '../../state/schemas.js';
import { ExitCode, invalidInput } from '../errors.js';
import { emit, table } from '../output.js';
import { attentionNow } from '../reports.js';
import { oneLine } from '../sanitize.js';
import { readWorkspace, withWorkspace } from './common.js';

export function registerAlerts(program: Command): void {
  const alert = program.command('alert').description('drift and recovery alerts: list, acknowledge, resolve');
  alert
    .command('list')
    .description('alerts, newest first (all of them unless --status)')
    .option('--status <status>', 'open | acknowledged | resolved')
    .option('--kind <kind>', 'only this kind (stall, overrun, repeated-failure, budget, …)')
    .action(async (o, command: Command) => {
      await readWorkspace(command, async (ws, options) => {
        if (o.status !== undefined && !(ALERT_STATUSES as readonly string[]).includes(o.status))
          throw invalidInput(
            `unknown alert status ${JSON.stringify(o.status).slice(0, 40)} (one of ${ALERT_STATUSES.join(', ')})`,
          );
        const alerts = ws
          .alerts(o.status)
          .filter((a) => o.kind === undefined || a.kind === o.kind)
          .sort((a, b) => (a.updatedAt < b.updatedAt ? 1 : a.updatedAt > b.updatedAt ? -1 : 0));
        emit(options, alerts, () =>
          alerts.length === 0
            ? 'no alerts'
            : table([
                ['ID', 'STATUS', 'SEVERITY', 'KIND', 'COUNT', 'SUBJECT', 'MESSAGE'],
                ...alerts.map((a) => [
                  a.id,
                  a.status,
                  a.severity,
                  a.kind,
                  String(a.count),
                  oneLine(a.subject, 24),
                  oneLine(a.message, 90),
                ]),
              ]),
        );
      });
    });
  const change = (name: string, to: 'acknowledged' | 'resolved', description: string) =>
    alert
      .command(name)
      .description(description)
      .argument('<id>', 'the alert (A-…)')
      .option('--why <text>', 'recorded with the alert')
      .action(async (id: string, o, command: Command) => {
        await withWorkspace(command, async (ws, options) => {
          const next = await ws.setAlertStatus(id, to, o.why);
          emit(options, next, () => `${next.id} ${next.status}: ${oneLine(next.message, 100)}`);
        });
      });
  change(
    'ack',
    'acknowledged',
    'acknowledge an alert: seen, being handled (it leaves the attention list until it happens again)',
  );
  change('resolve', 'resolved', 'resolve an alert (it opens again if its condition happens anew)');

  program
    .command('attention')
    .description('everything that needs the operator, ranked, one line each with its reason')
    .option('--exit-code', `exit ${ExitCode.needsOperator} when something needs the operator (health checks)`)
    .action(async (o, command: Command) => {
      await readWorkspace(command, async (ws, options) => {
        const items = attentionNow(ws);
        emit(options, items, () =>
          items.length === 0
            ? 'nothing needs you'
            : items
                .map(
                  (item, i) =>
                    `${String(i + 1).padStart(3)}. ${item.reason.padEnd(14)} ${item.severity.padEnd(8)} ${oneLine(item.subject, 20).padEnd(9)} ${oneLine(item.text, 110)}${item.also.length ? ` (also ${item.also.join(', ')})` : ''}\n     → ${oneLine(item.action, 140)}`,
                )
                .join('\n'),
        );
        if (o.exitCode && items.length > 0) process.exitCode = ExitCode.needsOperator;
      });
    });
}
